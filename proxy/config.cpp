#include "proxy/config.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

namespace sqltap::config {
namespace {

using vt = value_type;

constexpr key_spec keys[] = {
    {"proxy", "enabled", vt::boolean, "on", false, "",
     "Serve clients. off: sqltapd only replays the change log in [capture] log_dir to the "
     "subscribers (that log may be written by another sqltapd at the same time)."},
    {"proxy", "listen", vt::address_list, "127.0.0.1:6432", false, "",
     "Addresses sqltapd accepts clients on: one or more host:port, comma separated "
     "(IPv6 as [addr]:port)."},
    {"proxy", "io_threads", vt::integer, "0", false, "",
     "Threads serving client sessions; 0 means one per CPU core."},
    {"proxy", "tls_cert_file", vt::path, "", true, "",
     "PEM certificate chain offered to clients that send SSLRequest. With tls_key_file."},
    {"proxy", "tls_key_file", vt::path, "", true, "", "PEM private key of tls_cert_file."},
    {"proxy", "tls_pfx_file", vt::path, "", true, "",
     "PKCS#12 (.pfx/.p12) file holding the certificate, its chain and key; instead of "
     "tls_cert_file/tls_key_file."},
    {"proxy", "tls_pfx_password", vt::secret, "", true, "", "Password of tls_pfx_file."},
    {"proxy", "auth_file", vt::path, "", true, "",
     "Users whose SCRAM secret (or password) sqltapd may use to authenticate clients itself, "
     "in pgbouncer's userlist format: \"user\" \"SCRAM-SHA-256$...\". Needed for SCRAM when "
     "both the client and the publisher connection use TLS."},
    {"proxy", "login_timeout", vt::duration, "60s", true, "",
     "Time a client has from connecting to being logged in."},
    {"proxy", "shutdown_timeout", vt::duration, "30s", true, "",
     "After SIGTERM, how long sessions may run on before they are closed."},
    {"proxy", "max_message_size", vt::size, "1GB", true, "",
     "Largest protocol message accepted from a client or the publisher."},
    {"proxy", "max_client_connections", vt::integer, "10000", true, "",
     "Client connections served at once; further ones are refused with an error."},
    {"proxy", "log_level", vt::choice, "info", true, "debug|info|warning|error",
     "Least severe log level written."},
    {"publisher", "host", vt::string, "127.0.0.1", true, "",
     "Host name or address of the publisher PostgreSQL server."},
    {"publisher", "port", vt::integer, "5432", true, "", "Port of the publisher."},
    {"publisher", "sslmode", vt::choice, "prefer", true,
     "disable|allow|prefer|require|verify-ca|verify-full",
     "TLS towards the publisher, with libpq's meanings."},
    {"publisher", "sslrootcert", vt::path, "", true, "",
     "CA certificates to verify the publisher with (verify-ca, verify-full); empty: the "
     "system's default store."},
    {"publisher", "connect_timeout", vt::duration, "10s", true, "",
     "Time allowed to connect to the publisher."},
    {"publisher", "admin_conninfo", vt::secret, "", true, "",
     "libpq conninfo sqltapd uses for its own connections to the publisher (table "
     "metadata, recovery); its dbname is replaced by each client's database. Empty: "
     "host and port from this section, user from libpq's defaults (PGUSER, the OS user)."},
    {"capture", "enabled", vt::boolean, "on", false, "",
     "Capture committed row changes into the change log; off makes sqltapd a pure proxy."},
    {"capture", "log_dir", vt::path, "", false, "",
     "Directory of the change log (LMDB); created with mode 0700. Required when capture is on."},
    {"capture", "log_map_size", vt::size, "16GB", false, "",
     "Largest size the change log may reach (LMDB map size; address space, not disk)."},
    {"capture", "durability", vt::choice, "strict", false, "strict|async",
     "strict: a transaction's changes are durable in the log before its COMMIT reaches the "
     "publisher. async: appended when the publisher acknowledges the COMMIT (faster; a crash "
     "of sqltapd's machine can lose the last transactions from the log)."},
    {"capture", "uncaptured", vt::choice, "reject", false, "reject|log",
     "A transaction that writes a captured table in a way sqltapd cannot turn into rows "
     "(a function, procedure, DO block, trigger, rule, MERGE): reject rolls it back with an "
     "error naming the table; log lets it commit and writes a resync-needed record."},
    {"capture", "write_check", vt::choice, "auto", false, "auto|always",
     "How uncaptured writes are looked for. always: every transaction that may write takes "
     "the publisher's write counts when it begins and compares them at COMMIT. auto: a "
     "transaction made only of plain INSERT, UPDATE, DELETE and reads that call no function "
     "(beyond well-known read-only built-ins), on tables without triggers, rules, row-level "
     "security, inheritance or volatile functions in defaults and constraints, cannot write "
     "unseen and skips the counts; anything else takes them from that statement on."},
    {"capture", "tables", vt::string, "*.*", false, "",
     "Tables to capture: comma-separated schema.table patterns, '*' matching any run of "
     "characters. System schemas are never captured."},
    {"capture", "exclude", vt::string, "", false, "",
     "Tables not to capture, as patterns like tables."},
    {"capture", "before_images", vt::boolean, "on", false, "",
     "UPDATEs also log the row as it was before them, so that subscribers can tell when their "
     "row differs from the publisher's (update_differs conflicts). off: cheaper UPDATEs; "
     "subscribers then check only that the row exists."},
    {"capture", "prepare_writes", vt::boolean, "on", false, "",
     "Captured writes a session sends again in a simple Query (the same statement, other "
     "numbers in it) run as sqltapd's own prepared statements (PREPARE sqltap_wN, then "
     "EXECUTE with the numbers), so the publisher parses and analyses each rewritten "
     "statement once per connection. off: every one is sent as text."},
    {"capture", "max_log_size", vt::size, "0", true, "",
     "Most log data to keep for subscribers; 0: no limit. A subscriber so far behind that "
     "keeping its entries would pass it is marked stale (it needs a new initial sync)."},
    {"replay", "node_name", vt::string, "sqltap", false, "",
     "This sqltapd's name as an origin: its apply sessions connect as application_name "
     "sqltap-replay/<node_name>, and a sqltapd in front of a subscriber logs their changes "
     "with that origin, so that they are never sent back (two-way replication)."},
    {"replay", "keep", vt::duration, "0s", true, "",
     "Entries every subscriber has applied are purged from the log once they are this old."},
    {"admin", "listen", vt::address_list, "", false, "",
     "Address of the HTTP endpoint serving /metrics (Prometheus text format) and /health, "
     "as host:port. Empty: no HTTP endpoint."},
    {"admin", "users", vt::string, "", true, "",
     "Users allowed on the admin console: comma-separated names. They connect to the "
     "virtual database 'sqltap' on a [proxy] listen address (psql -h HOST -p PORT -U USER "
     "sqltap) and log in with their publisher password, checked by the publisher against "
     "auth_database. Empty: no console (a database named sqltap is then forwarded as any "
     "other)."},
    {"admin", "auth_database", vt::string, "postgres", true, "",
     "The publisher database console logins are checked against (the user needs CONNECT "
     "on it)."},
    // [subscriber.NAME]: one section per subscriber.
    {"subscriber", "conninfo", vt::secret, "", false, "",
     "libpq connection string (or URI) of the subscriber database. Required."},
    {"subscriber", "database", vt::string, "", false, "",
     "The publisher database whose changes this subscriber takes. Required."},
    {"subscriber", "tables", vt::string, "*.*", false, "",
     "Tables applied to this subscriber, as schema.table patterns like [capture] tables."},
    {"subscriber", "exclude", vt::string, "", false, "", "Tables not applied to this subscriber."},
    {"subscriber", "conflict", vt::choice, "source_wins", false, "error|skip|source_wins|keep_local",
     "What a conflict does (the subscriber's row is not as the publisher's before image says): "
     "error stops this subscriber; skip and keep_local leave the subscriber's row as it is; "
     "source_wins makes the row what the publisher says. Per table: conflict.SCHEMA.TABLE = policy "
     "(patterns allowed). Every conflict is recorded (sqltap-dump --conflicts)."},
    {"subscriber", "replication_role", vt::choice, "replica", false, "replica|origin|local",
     "session_replication_role of the apply sessions: replica (as native logical replication: "
     "ordinary triggers and foreign-key checks do not fire), origin or local."},
    {"subscriber", "apply_ddl", vt::boolean, "on", false, "",
     "Apply the DDL statements of the log (ALTER TABLE …) to this subscriber."},
    {"subscriber", "retry_max", vt::duration, "60s", false, "",
     "Longest wait between attempts to reach an offline subscriber (the wait doubles from 1s)."},
    {"subscriber", "node", vt::string, "", false, "",
     "The node_name of the sqltapd in front of this subscriber, if any: changes that came from "
     "it are not sent back to it. Empty: the section's NAME."},
    // [table SCHEMA.TABLE]: one section per captured table that needs them.
    {"table", "filter", vt::string, "", false, "",
     "Row filter: an SQL boolean expression over the table's columns, which the publisher "
     "evaluates on each row written (e.g. region = 'EU' AND NOT test). Only rows for which it "
     "is true are captured; an UPDATE that moves a row into the filter is captured as an "
     "INSERT, out of it as a DELETE. Needs a primary key or replica identity."},
    {"table", "columns", vt::string, "", false, "",
     "Column list: comma-separated names of the columns to capture (the key columns always "
     "are). Empty: all columns."},
};

std::string trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(" \t\r");
    return std::string(s.substr(b, e - b + 1));
}

std::string lower(std::string_view s) {
    std::string r(s);
    std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return std::tolower(c); });
    return r;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

template <class T>
bool parse_unsigned(std::string_view s, T& out) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

// Splits "123unit" into the number and the unit.
bool split_number(std::string_view s, double& number, std::string& unit) {
    std::size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) return false;
    std::string num(s.substr(0, i));
    try {
        std::size_t used = 0;
        number = std::stod(num, &used);
        if (used != num.size()) return false;
    } catch (...) {
        return false;
    }
    unit = lower(trim(s.substr(i)));
    return true;
}

struct entry {
    std::string value;
    int line;
};

}  // namespace

std::span<const key_spec> schema() { return keys; }

const key_spec* find_key(std::string_view section, std::string_view key) noexcept {
    for (const auto& k : keys)
        if (k.section == section && k.key == key) return &k;
    return nullptr;
}

bool load_result::ok() const {
    return std::none_of(problems.begin(), problems.end(), [](const problem& p) { return !p.warning; });
}

bool parse_duration(std::string_view s, std::chrono::milliseconds& out) noexcept {
    double n = 0;
    std::string unit;
    if (!split_number(s, n, unit)) return false;
    double ms;
    if (unit.empty() || unit == "s" || unit == "sec") ms = n * 1000;
    else if (unit == "ms") ms = n;
    else if (unit == "min") ms = n * 60000;
    else if (unit == "h") ms = n * 3600000;
    else if (unit == "d") ms = n * 86400000;
    else return false;
    out = std::chrono::milliseconds(static_cast<long long>(ms));
    return true;
}

bool parse_size(std::string_view s, std::size_t& out) noexcept {
    double n = 0;
    std::string unit;
    if (!split_number(s, n, unit)) return false;
    double mult;
    if (unit.empty() || unit == "b") mult = 1;
    else if (unit == "kb" || unit == "k") mult = 1024.0;
    else if (unit == "mb" || unit == "m") mult = 1024.0 * 1024;
    else if (unit == "gb" || unit == "g") mult = 1024.0 * 1024 * 1024;
    else if (unit == "tb" || unit == "t") mult = 1024.0 * 1024 * 1024 * 1024;
    else return false;
    out = static_cast<std::size_t>(n * mult);
    return true;
}

bool parse_bool(std::string_view s, bool& out) noexcept {
    std::string v = lower(s);
    if (v == "on" || v == "true" || v == "yes" || v == "1") out = true;
    else if (v == "off" || v == "false" || v == "no" || v == "0") out = false;
    else return false;
    return true;
}

bool parse_host_port_list(std::string_view s, std::vector<host_port>& out, std::string& why) {
    out.clear();
    std::stringstream ss{std::string(s)};
    std::string item;
    while (std::getline(ss, item, ',')) {
        item = trim(item);
        if (item.empty()) continue;
        host_port hp;
        std::string port;
        if (item[0] == '[') {
            auto close = item.find(']');
            if (close == std::string::npos || close + 1 >= item.size() || item[close + 1] != ':') {
                why = "'" + item + "' is not [address]:port";
                return false;
            }
            hp.host = item.substr(1, close - 1);
            port = item.substr(close + 2);
        } else {
            auto colon = item.rfind(':');
            if (colon == std::string::npos) {
                why = "'" + item + "' has no port (host:port)";
                return false;
            }
            hp.host = item.substr(0, colon);
            port = item.substr(colon + 1);
        }
        unsigned p = 0;
        if (!parse_unsigned(port, p) || p > 65535) {
            why = "'" + port + "' is not a port number";
            return false;
        }
        if (hp.host.empty() || hp.host == "*") hp.host = "0.0.0.0";
        hp.port = static_cast<std::uint16_t>(p);
        out.push_back(std::move(hp));
    }
    if (out.empty()) {
        why = "no address given";
        return false;
    }
    return true;
}

std::string_view to_string(sslmode m) noexcept {
    switch (m) {
        case sslmode::disable: return "disable";
        case sslmode::allow: return "allow";
        case sslmode::prefer: return "prefer";
        case sslmode::require: return "require";
        case sslmode::verify_ca: return "verify-ca";
        case sslmode::verify_full: return "verify-full";
    }
    return "?";
}

std::string suggest_key(std::string_view section, std::string_view key) {
    std::string best;
    std::size_t best_d = 4;  // suggest only near misses
    for (const auto& k : keys) {
        std::size_t d = edit_distance(key, k.key) + (k.section == section ? 0 : 1);
        if (d < best_d) {
            best_d = d;
            best = k.section == section ? std::string(k.key)
                                        : "[" + std::string(k.section) + "] " + std::string(k.key);
        }
    }
    return best;
}

namespace {

// Checks a value against its key's type; returns what was expected, or empty.
std::string type_problem(const key_spec& k, const std::string& v) {
    switch (k.type) {
        case vt::integer: {
            long long n;
            return parse_unsigned(v, n) ? "" : "a whole number";
        }
        case vt::boolean: {
            bool b;
            return parse_bool(v, b) ? "" : "on or off";
        }
        case vt::duration: {
            std::chrono::milliseconds d;
            return parse_duration(v, d) ? "" : "a duration such as 30s, 500ms, 5min";
        }
        case vt::size: {
            std::size_t n;
            return parse_size(v, n) ? "" : "a size such as 64MB or 1GB";
        }
        case vt::choice: {
            std::string choices(k.choices), item;
            std::stringstream cs(choices);
            while (std::getline(cs, item, '|'))
                if (item == v) return "";
            return "one of " + choices;
        }
        case vt::address_list: {
            if (trim(v).empty() && k.default_value.empty()) return "";  // optional: off
            std::vector<host_port> hp;
            std::string why;
            return parse_host_port_list(v, hp, why) ? "" : "host:port[, host:port…] (" + why + ")";
        }
        default: return "";
    }
}

template <class Add>
void subscriber(subscriber_settings& s, const std::string& key, const std::string& value, int line,
                std::map<std::string, int>& seen, Add& add) {
    std::string where = "[subscriber." + s.name + "] ";
    auto [it, fresh] = seen.try_emplace(key, line);
    if (!fresh) add(line, where + "'" + key + "' is set twice (first on line " + std::to_string(it->second) + ")");
    if (key.rfind("conflict.", 0) == 0) {
        std::string table = key.substr(9);
        auto dot = table.find('.');
        if (dot == std::string::npos || dot == 0 || dot + 1 == table.size())
            add(line, where + "'" + key + "': expected conflict.SCHEMA.TABLE");
        else if (type_problem(*find_key("subscriber", "conflict"), value).size())
            add(line, where + key + " = '" + value + "': expected one of error|skip|source_wins|keep_local");
        else
            s.table_conflict.emplace_back(table, value);
        return;
    }
    const key_spec* spec = find_key("subscriber", key);
    if (!spec) {
        std::string hint = suggest_key("subscriber", key);
        add(line, "unknown key '" + key + "' in [subscriber." + s.name + "]" + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
        return;
    }
    if (auto expected = type_problem(*spec, value); !expected.empty()) {
        add(line, where + key + " = '" + value + "': expected " + expected);
        return;
    }
    if (key == "conninfo") s.conninfo = value;
    else if (key == "database") s.database = value;
    else if (key == "tables") s.tables = value;
    else if (key == "exclude") s.exclude = value;
    else if (key == "conflict") s.conflict = value;
    else if (key == "replication_role") s.replication_role = value;
    else if (key == "apply_ddl") parse_bool(value, s.apply_ddl);
    else if (key == "retry_max") parse_duration(value, s.retry_max);
    else if (key == "node") s.node = value;
}

}  // namespace

load_result load_text(std::string_view text, const std::string& name) {
    load_result res;
    res.values.path = name;
    auto add = [&](int line, std::string msg, bool warn = false) {
        res.problems.push_back({name, line, std::move(msg), warn});
    };

    std::map<std::pair<std::string, std::string>, entry> values;
    std::string section, section_label;
    table_rule* table_section = nullptr;  // in a [table SCHEMA.TABLE] section
    table_rule ignored_table;             // a malformed one's keys go here
    subscriber_settings* sub_section = nullptr;  // in a [subscriber.NAME] section
    subscriber_settings ignored_sub;
    std::map<std::string, int> sub_keys_seen;    // key -> line, in the current [subscriber.NAME]
    int line_no = 0;
    std::stringstream ss{std::string(text)};
    std::string raw;
    while (std::getline(ss, raw)) {
        ++line_no;
        std::string line = trim(raw);
        if (line.empty() || line[0] == ';' || line[0] == '#') continue;
        if (line[0] == '[') {
            if (line.back() != ']') {
                add(line_no, "section header without closing ']'");
                continue;
            }
            std::string inside = trim(std::string_view(line).substr(1, line.size() - 2));
            section = lower(inside);
            section_label = section.rfind("table ", 0) == 0 ? "table " + trim(std::string_view(inside).substr(5)) : section;
            table_section = nullptr;
            sub_section = nullptr;
            sub_keys_seen.clear();
            if (section.rfind("subscriber.", 0) == 0 || section == "subscriber") {
                std::string name = section == "subscriber" ? "" : trim(std::string_view(inside).substr(11));
                if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos) {
                    add(line_no, "[subscriber." + name + "]: expected [subscriber.NAME], NAME of letters, digits, '_' and '-'");
                    sub_section = &ignored_sub;
                } else {
                    auto& subs = res.values.replay.subscribers;
                    auto it = std::find_if(subs.begin(), subs.end(), [&](const subscriber_settings& x) { return x.name == name; });
                    if (it != subs.end()) {
                        add(line_no, "[subscriber." + name + "] appears twice (first on line " + std::to_string(it->line) + ")");
                        sub_section = &ignored_sub;
                    } else {
                        subscriber_settings ns;
                        ns.name = name;
                        ns.line = line_no;
                        subs.push_back(ns);
                        sub_section = &subs.back();
                    }
                }
                section = "subscriber";
                continue;
            }
            if (section.rfind("table ", 0) == 0 || section == "table") {
                // [table SCHEMA.TABLE]: the name as written (catalog names are case-sensitive).
                std::string name = trim(std::string_view(inside).substr(5));
                auto dot = name.find('.');
                if (dot == std::string::npos || dot == 0 || dot + 1 == name.size() ||
                    name.find('.', dot + 1) != std::string::npos || name.find_first_of(" \t\"'*") != std::string::npos) {
                    add(line_no, "[table " + name + "]: expected [table schema.table] naming one table");
                    table_section = &ignored_table;
                } else {
                    auto& rules = res.values.capture.table_rules;
                    auto it = std::find_if(rules.begin(), rules.end(), [&](const table_rule& r) {
                        return r.schema == name.substr(0, dot) && r.table == name.substr(dot + 1);
                    });
                    if (it != rules.end()) {
                        add(line_no, "[table " + name + "] appears twice (first on line " + std::to_string(it->line) + ")");
                        table_section = &*it;
                    } else {
                        rules.push_back({name.substr(0, dot), name.substr(dot + 1), "", {}, line_no});
                        table_section = &rules.back();
                    }
                }
                section = "table";
                continue;
            }
            bool known = std::any_of(std::begin(keys), std::end(keys),
                                     [&](const key_spec& k) { return k.section == section; });
            if (!known) add(line_no, "unknown section [" + section + "]");
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string::npos) {
            add(line_no, "expected 'key = value'");
            continue;
        }
        std::string key = lower(trim(std::string_view(line).substr(0, eq)));
        std::string value = trim(std::string_view(line).substr(eq + 1));
        // A ';' or '#' after whitespace starts a comment, as in the examples,
        // except inside a value in double quotes.
        std::size_t from = 1;
        if (!value.empty() && value.front() == '"') {
            auto close = value.find('"', 1);
            from = close == std::string::npos ? value.size() : close + 1;
        }
        for (std::size_t i = from; i < value.size(); ++i) {
            if ((value[i] == ';' || value[i] == '#') && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
                value = trim(std::string_view(value).substr(0, i));
                break;
            }
        }
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
            value = value.substr(1, value.size() - 2);
        if (!section.empty()) res.values.file_values.push_back({section_label, key, value, line_no});
        if (sub_section) {
            subscriber(*sub_section, key, value, line_no, sub_keys_seen, add);
            continue;
        }
        if (table_section) {
            if (!find_key("table", key)) {
                std::string hint = suggest_key("table", key);
                add(line_no, "unknown key '" + key + "' in [table]" + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
            } else if (key == "filter") {
                if (!table_section->filter.empty()) add(line_no, "'filter' is set twice in this [table] section");
                table_section->filter = value;
                if (value.empty()) add(line_no, "[table] filter is empty");
            } else {
                if (!table_section->columns.empty()) add(line_no, "'columns' is set twice in this [table] section");
                std::stringstream items(value);
                std::string item;
                while (std::getline(items, item, ',')) {
                    item = trim(item);
                    if (item.empty() || item.find_first_of(" \t\"'.") != std::string::npos)
                        add(line_no, "[table] columns: '" + item + "' is not a column name");
                    else
                        table_section->columns.push_back(item);
                }
            }
            continue;
        }
        if (section.empty()) {
            add(line_no, "'" + key + "' is outside any [section]");
            continue;
        }
        const key_spec* spec = find_key(section, key);
        if (!spec) {
            bool section_known = std::any_of(std::begin(keys), std::end(keys),
                                             [&](const key_spec& k) { return k.section == section; });
            if (!section_known) continue;  // already reported at the section header
            std::string hint = suggest_key(section, key);
            add(line_no, "unknown key '" + key + "' in [" + section + "]" +
                             (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
            continue;
        }
        auto [it, inserted] = values.try_emplace({section, key}, entry{value, line_no});
        if (!inserted) {
            add(line_no, "'" + key + "' is set twice in [" + section + "] (first on line " +
                             std::to_string(it->second.line) + ")");
            it->second = entry{value, line_no};
        }
    }

    // Typed values: every key gets its default, then what the file says.
    auto get = [&](std::string_view sec, std::string_view key, int& line) -> std::string {
        auto it = values.find({std::string(sec), std::string(key)});
        if (it != values.end()) {
            line = it->second.line;
            return it->second.value;
        }
        line = 0;
        return std::string(find_key(sec, key)->default_value);
    };
    auto bad = [&](int line, std::string_view sec, std::string_view key, const std::string& v,
                   const std::string& expected) {
        add(line, "[" + std::string(sec) + "] " + std::string(key) + " = '" + v + "': expected " +
                      expected);
    };
    int line = 0;
    settings& s = res.values;

    // Generic type checks, driven by the schema ([subscriber.NAME] keys are checked where they are read).
    for (const auto& k : keys) {
        if (k.section == "subscriber") continue;
        std::string v = get(k.section, k.key, line);
        if (auto expected = type_problem(k, v); !expected.empty()) bad(line, k.section, k.key, v, expected);
    }

    std::string why;
    parse_bool(get("proxy", "enabled", line), s.proxy.enabled);
    parse_host_port_list(get("proxy", "listen", line), s.proxy.listen, why);
    parse_unsigned(get("proxy", "io_threads", line), s.proxy.io_threads);
    s.proxy.tls_cert_file = get("proxy", "tls_cert_file", line);
    s.proxy.tls_key_file = get("proxy", "tls_key_file", line);
    s.proxy.tls_pfx_file = get("proxy", "tls_pfx_file", line);
    s.proxy.tls_pfx_password = get("proxy", "tls_pfx_password", line);
    s.proxy.auth_file = get("proxy", "auth_file", line);
    parse_duration(get("proxy", "login_timeout", line), s.proxy.login_timeout);
    parse_duration(get("proxy", "shutdown_timeout", line), s.proxy.shutdown_timeout);
    parse_size(get("proxy", "max_message_size", line), s.proxy.max_message_size);
    if (s.proxy.max_message_size < 1024) add(line, "[proxy] max_message_size must be at least 1kB");
    parse_unsigned(get("proxy", "max_client_connections", line), s.proxy.max_client_connections);
    s.proxy.log_level = get("proxy", "log_level", line);

    if (!s.proxy.tls_cert_file.empty() != !s.proxy.tls_key_file.empty())
        add(0, "[proxy] tls_cert_file and tls_key_file go together");
    if (!s.proxy.tls_pfx_file.empty() && !s.proxy.tls_cert_file.empty())
        add(0, "[proxy] set either tls_pfx_file or tls_cert_file/tls_key_file, not both");

    s.publisher.host = get("publisher", "host", line);
    unsigned port = 0;
    std::string pv = get("publisher", "port", line);
    if (parse_unsigned(pv, port) && (port == 0 || port > 65535)) bad(line, "publisher", "port", pv, "a port number");
    s.publisher.port = static_cast<std::uint16_t>(port);
    std::string mode = get("publisher", "sslmode", line);
    for (auto m : {sslmode::disable, sslmode::allow, sslmode::prefer, sslmode::require,
                   sslmode::verify_ca, sslmode::verify_full})
        if (to_string(m) == mode) s.publisher.ssl = m;
    s.publisher.sslrootcert = get("publisher", "sslrootcert", line);
    parse_duration(get("publisher", "connect_timeout", line), s.publisher.connect_timeout);
    s.publisher.admin_conninfo = get("publisher", "admin_conninfo", line);

    parse_bool(get("capture", "enabled", line), s.capture.enabled);
    s.capture.log_dir = get("capture", "log_dir", line);
    if (s.capture.enabled && s.proxy.enabled && s.capture.log_dir.empty())
        add(0, "[capture] log_dir is required when capture is on (or set [capture] enabled = off)");
    parse_size(get("capture", "log_map_size", line), s.capture.log_map_size);
    if (s.capture.log_map_size < (std::size_t{1} << 20)) add(line, "[capture] log_map_size must be at least 1MB");
    s.capture.strict = get("capture", "durability", line) == "strict";
    s.capture.reject_uncaptured = get("capture", "uncaptured", line) == "reject";
    s.capture.always_check_writes = get("capture", "write_check", line) == "always";
    parse_size(get("capture", "max_log_size", line), s.capture.max_log_size);
    parse_bool(get("capture", "before_images", line), s.capture.before_images);
    parse_bool(get("capture", "prepare_writes", line), s.capture.prepare_writes);
    parse_host_port_list(get("admin", "listen", line), s.admin.listen, why);
    if (s.admin.listen.size() > 1) add(line, "[admin] listen takes one host:port");
    {
        std::stringstream items(get("admin", "users", line));
        std::string item;
        while (std::getline(items, item, ',')) {
            item = trim(item);
            if (item.empty()) continue;
            if (item.find_first_of(" \t\"'") != std::string::npos)
                add(line, "[admin] users: '" + item + "' is not a user name");
            else
                s.admin.users.push_back(item);
        }
    }
    s.admin.auth_database = get("admin", "auth_database", line);
    if (!s.admin.users.empty() && s.admin.auth_database.empty())
        add(line, "[admin] auth_database must name a database when [admin] users is set");
    s.replay.node_name = get("replay", "node_name", line);
    if (s.replay.node_name.empty() || s.replay.node_name.find_first_of(" \t/") != std::string::npos)
        add(line, "[replay] node_name must be a non-empty name without spaces or '/'");
    parse_duration(get("replay", "keep", line), s.replay.keep);
    if (!s.proxy.enabled) s.capture.enabled = false;  // nothing to capture without clients
    if (!s.replay.subscribers.empty() && s.capture.log_dir.empty())
        add(0, "[capture] log_dir is required: the subscribers replay the log in it");
    if (!s.proxy.enabled && s.replay.subscribers.empty())
        add(0, "[proxy] enabled = off and no [subscriber.NAME]: there is nothing to do");
    for (const auto& sub : s.replay.subscribers) {
        if (sub.conninfo.empty()) add(sub.line, "[subscriber." + sub.name + "] conninfo is required");
        if (sub.database.empty())
            add(sub.line, "[subscriber." + sub.name + "] database is required (the publisher database it takes changes from)");
    }
    s.capture.tables = get("capture", "tables", line);
    int tables_line = line;
    s.capture.exclude = get("capture", "exclude", line);
    int exclude_line = line;
    for (auto [list, ln, key] : {std::tuple{s.capture.tables, tables_line, "tables"},
                                 std::tuple{s.capture.exclude, exclude_line, "exclude"}}) {
        std::stringstream items(list);
        std::string item;
        while (std::getline(items, item, ',')) {
            item = trim(item);
            if (item.empty()) continue;
            auto dot = item.find('.');
            if (item.find_first_of(" \t\"'") != std::string::npos ||
                (dot != std::string::npos && (dot == 0 || dot + 1 == item.size() || item.find('.', dot + 1) != std::string::npos)))
                add(ln, std::string("[capture] ") + key + ": '" + item + "' is not a schema.table pattern");
        }
    }
    return res;
}

load_result load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        load_result r;
        r.values.path = path;
        r.problems.push_back({path, 0, "cannot open the configuration file", false});
        return r;
    }
    std::stringstream buf;
    buf << in.rdbuf();
    load_result r = load_text(buf.str(), path);
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 0077) &&
        (!r.values.proxy.tls_pfx_password.empty() ||
         r.values.publisher.admin_conninfo.find("password") != std::string::npos ||
         std::any_of(r.values.replay.subscribers.begin(), r.values.replay.subscribers.end(),
                     [](const subscriber_settings& x) { return x.conninfo.find("password") != std::string::npos; }))) {
        r.problems.push_back({path, 0,
                              "the file holds a password and others can read it "
                              "(chmod 600 it)",
                              true});
    }
    return r;
}

namespace {

std::string_view type_name(value_type t) {
    switch (t) {
        case vt::string: return "text";
        case vt::integer: return "integer";
        case vt::boolean: return "boolean (on/off, true/false, yes/no, 1/0)";
        case vt::duration: return "duration (500ms, 30s, 5min, 2h, 1d)";
        case vt::size: return "size (512kB, 64MB, 16GB)";
        case vt::address_list: return "host:port list";
        case vt::choice: return "one of";
        case vt::path: return "file path";
        case vt::secret: return "text, secret (masked by SHOW CONFIG)";
    }
    return "";
}

std::string_view section_intro(std::string_view section) {
    if (section == "proxy") return "The client side: where sqltapd listens, TLS towards clients, limits, logging.";
    if (section == "publisher") return "The PostgreSQL server sqltapd forwards clients to.";
    if (section == "capture") return "Change capture into the LMDB change log.";
    if (section == "replay") return "The replay engine that applies the log to the subscribers.";
    if (section == "admin") return "The admin console and the HTTP endpoint for metrics.";
    if (section == "subscriber")
        return "`[subscriber.NAME]`, one section per subscriber database the log is applied to (NAME: letters, "
               "digits, `_`, `-`).";
    if (section == "table")
        return "`[table SCHEMA.TABLE]`, one section per captured table that needs a row filter or a column list.";
    return "";
}

}  // namespace

std::string reference_markdown() {
    std::string out =
        "# sqltapd configuration reference\n\n"
        "<!-- Generated by `sqltapd --config-reference` from the schema in proxy/config.cpp; do not edit. -->\n\n"
        "sqltapd reads one INI file (`sqltapd --config FILE`). Lines are `key = value`; `#` or `;` start a "
        "comment (after whitespace, within a line too); values may be quoted with double quotes. Section and "
        "key names are case-insensitive. Every key has a default, so a file names only what differs.\n\n"
        "`sqltapd --check-config FILE` reports every problem as `FILE:LINE: error|warning: message` "
        "(unknown keys with a \"did you mean\" suggestion) and exits non-zero on any error.\n\n"
        "**Reload**: on SIGHUP or the console's `RELOAD`, keys marked *live* apply to new sessions; the others "
        "need a restart (sqltapd says so in its log). A file that holds a password and that others can read "
        "draws a warning: `chmod 600` it.\n\n"
        "Examples: `conf/minimal.conf`, `conf/sqltap.conf` (every section), `conf/tls-pfx.conf`, "
        "`conf/subscribers.conf`, `conf/two-way-a.conf` with `conf/two-way-b.conf`, `conf/demo.conf`.\n";
    std::string_view section;
    for (const auto& k : keys) {
        if (k.section != section) {
            section = k.section;
            out += "\n## [";
            out += section == "subscriber" ? "subscriber.NAME" : section == "table" ? "table SCHEMA.TABLE" : section;
            out += "]\n\n";
            out += section_intro(section);
            out += "\n";
        }
        out += "\n### `";
        out += k.key;
        out += "`\n\n";
        out += k.doc;
        out += "\n\n- type: ";
        out += type_name(k.type);
        if (k.type == vt::choice) {
            out += ' ';
            std::string c(k.choices);
            for (auto& ch : c)
                if (ch == '|') ch = ',';
            std::string items, item;
            std::stringstream cs(c);
            while (std::getline(cs, item, ',')) items += (items.empty() ? "`" : ", `") + item + "`";
            out += items;
        }
        out += "\n- default: ";
        out += k.default_value.empty() ? std::string("(empty)") : "`" + std::string(k.default_value) + "`";
        out += "\n- reload: ";
        out += k.reloadable ? "live" : "restart";
        out += "\n";
    }
    return out;
}

}  // namespace sqltap::config
