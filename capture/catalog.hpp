#pragma once
// Table metadata from the publisher's catalog, read over an admin connection
// (libpq; [publisher] admin_conninfo with the dbname replaced by the client's
// database). These calls block: run them on a worker thread, never on an I/O
// thread.
#include <libpq-fe.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "capture/analyzer.hpp"

namespace sqltap::capture {

class catalog_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct column_info {
    std::string name;
    std::uint32_t type_oid = 0;
    std::string type;        // format_type(): "integer", "character varying(20)", …
    bool generated = false;  // GENERATED ALWAYS AS (…) STORED: not written by replay
};

enum class key_source { primary_key, replica_identity, all_columns };
const char* to_string(key_source k) noexcept;

struct table_info {
    std::uint32_t oid = 0;
    std::uint32_t root_oid = 0;  // a partition's root table; the table itself otherwise
    std::string schema, name;
    std::vector<column_info> columns;       // in attnum order
    std::vector<std::uint32_t> key_columns;  // indexes into columns
    key_source key = key_source::primary_key;
    char kind = 'r';  // relkind: r table, p partitioned table, v view, …
    std::string row_filter;  // [table] filter: only rows it is true for are captured
    bool before_images = false;  // UPDATEs return the row before them too ([capture] before_images)
    // Something other than the statement may write rows when it is written:
    // triggers (but a foreign key's checks, which write nothing: its
    // cascades and SET NULL/DEFAULT actions count), rules, row-level
    // security policies, inheritance children or
    // partitions, or a volatile function outside pg_catalog in a column
    // default or a constraint (of the table or of a domain it uses). Only a
    // plain table without them can be written without the write-count check.
    bool hidden_writers = true;
    // What capture read of the table, as one text that changes when any of it
    // does (see fingerprints()).
    std::string fingerprint;
};

class admin_connection {
public:
    // Connects with `conninfo`, using `database` instead of its dbname.
    // Throws catalog_error with libpq's message (which never holds the password).
    admin_connection(const std::string& conninfo, const std::string& database);
    ~admin_connection();
    admin_connection(const admin_connection&) = delete;
    admin_connection& operator=(const admin_connection&) = delete;
    PGconn* get() const noexcept { return conn_; }
    bool ok() const noexcept;

private:
    PGconn* conn_ = nullptr;
};

// The schemas a search_path setting names, in order, as PostgreSQL reads it:
// comma-separated identifiers, unquoted ones folded to lower case, "$user"
// replaced by `user` (the client's role, not the admin connection's).
std::vector<std::string> parse_search_path(std::string_view search_path, std::string_view user);

// The table a name means for a session with these search schemas (pg_catalog
// is searched first unless listed); nullopt when there is none. Reads only
// pg_class and pg_namespace, so the admin role needs no USAGE on the schemas.
// Throws catalog_error on query failures.
std::optional<table_info> load_table(admin_connection& c, const table_name& t,
                                     const std::vector<std::string>& search_schemas);

// The fingerprint (table_info::fingerprint) of each of `oids` that is still
// a table, as the catalog says now: a table whose fingerprint moved was
// changed (by DDL that did not pass sqltapd, say) since it was read.
// Throws catalog_error on query failures.
std::map<std::uint32_t, std::string> fingerprints(admin_connection& c, const std::vector<std::uint32_t>& oids);

// The query load_table() runs, which a session may also run on its own
// connection (inside its transaction, so it sees tables that transaction
// created or altered): one row per column (one row with null column fields
// for a table without columns), 14 text columns. table_from_rows() reads its
// rows; no rows means no such table.
std::string table_query(const table_name& t, const std::vector<std::string>& search_schemas);
using text_row = std::vector<std::optional<std::string>>;
std::optional<table_info> table_from_rows(const std::vector<text_row>& rows);

}  // namespace sqltap::capture
