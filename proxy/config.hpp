#pragma once
// sqltap's configuration: an INI file checked against one schema. The schema
// (schema()) is the single list of keys, their types, defaults and whether a
// reload (SIGHUP) applies them; docs and --check-config derive from it.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sqltap::config {

enum class value_type { string, integer, boolean, duration, size, address_list, choice, path, secret };

struct key_spec {
    std::string_view section;
    std::string_view key;
    value_type type;
    std::string_view default_value;
    bool reloadable;
    std::string_view choices;  // for value_type::choice: "a|b|c"
    std::string_view doc;
};

std::span<const key_spec> schema();
const key_spec* find_key(std::string_view section, std::string_view key) noexcept;

struct host_port {
    std::string host;
    std::uint16_t port = 0;
    bool operator==(const host_port&) const = default;
};

enum class sslmode { disable, allow, prefer, require, verify_ca, verify_full };

struct proxy_settings {
    bool enabled = true;  // off: sqltapd only replays an existing log
    std::vector<host_port> listen;
    unsigned io_threads = 0;  // 0: one per core
    std::string tls_cert_file, tls_key_file, tls_pfx_file, tls_pfx_password;
    std::string auth_file;
    std::chrono::milliseconds login_timeout{60000};
    std::chrono::milliseconds shutdown_timeout{30000};
    std::size_t max_message_size = std::size_t{1} << 30;
    std::size_t max_client_connections = 10000;
    std::string log_level = "info";
    bool tls_enabled() const { return !tls_cert_file.empty() || !tls_pfx_file.empty(); }
};

struct publisher_settings {
    std::string host = "127.0.0.1";
    std::uint16_t port = 5432;
    sslmode ssl = sslmode::prefer;
    std::string sslrootcert;
    std::chrono::milliseconds connect_timeout{10000};
    std::string admin_conninfo;
};

// [table SCHEMA.TABLE]: what is captured of one table.
struct table_rule {
    std::string schema, table;
    std::string filter;                // SQL boolean expression; empty: every row
    std::vector<std::string> columns;  // empty: every column
    int line = 0;
};

struct capture_settings {
    bool enabled = true;
    std::string log_dir;
    std::size_t log_map_size = std::size_t{16} << 30;
    bool strict = true;             // durability = strict
    bool reject_uncaptured = true;  // uncaptured = reject
    bool always_check_writes = false;  // write_check = always
    std::string tables = "*.*", exclude;
    std::vector<table_rule> table_rules;
    std::size_t max_log_size = 0;  // 0: no limit
    bool before_images = true;
    bool prepare_writes = true;
};

// [subscriber.NAME]: one database the replay engine applies the log to.
struct subscriber_settings {
    std::string name;
    std::string conninfo, database;
    std::string tables = "*.*", exclude;
    std::string conflict = "source_wins";
    std::vector<std::pair<std::string, std::string>> table_conflict;  // "schema.table" pattern -> policy
    std::string replication_role = "replica";
    bool apply_ddl = true;
    std::chrono::milliseconds retry_max{60000};
    std::string node;  // empty: the name
    int line = 0;
};

struct replay_settings {
    std::string node_name = "sqltap";
    std::chrono::milliseconds keep{0};
    std::vector<subscriber_settings> subscribers;
};

struct admin_settings {
    std::vector<host_port> listen;   // the HTTP endpoint (/metrics, /health); empty: none
    std::vector<std::string> users;  // console users; empty: no console
    std::string auth_database = "postgres";
    bool console_user(std::string_view u) const {
        for (const auto& x : users)
            if (x == u) return true;
        return false;
    }
};

// One "key = value" line as the file said it ([admin] SHOW CONFIG).
struct file_value {
    std::string section;  // "proxy", "subscriber.NAME", "table SCHEMA.TABLE"
    std::string key, value;
    int line = 0;
};

struct settings {
    std::string path;  // the file they came from
    std::vector<file_value> file_values;
    proxy_settings proxy;
    admin_settings admin;
    publisher_settings publisher;
    capture_settings capture;
    replay_settings replay;
};

struct problem {
    std::string file;
    int line = 0;  // 0: the file as a whole
    std::string message;
    bool warning = false;
};

struct load_result {
    settings values;
    std::vector<problem> problems;  // errors and warnings, in file order
    bool ok() const;
};

load_result load_file(const std::string& path);
load_result load_text(std::string_view text, const std::string& name = "<text>");

// Value parsers, shared with tests.
bool parse_duration(std::string_view s, std::chrono::milliseconds& out) noexcept;
bool parse_size(std::string_view s, std::size_t& out) noexcept;
bool parse_bool(std::string_view s, bool& out) noexcept;
bool parse_host_port_list(std::string_view s, std::vector<host_port>& out, std::string& why);
std::string_view to_string(sslmode m) noexcept;

// docs/configuration.md, generated from schema() (sqltapd --config-reference).
std::string reference_markdown();

// The nearest schema key to an unknown one, for "did you mean" hints.
std::string suggest_key(std::string_view section, std::string_view key);

}  // namespace sqltap::config
