#pragma once
// Which tables are captured: [capture] tables and exclude, each a comma-
// separated list of schema.table patterns where '*' matches any run of
// characters (a pattern without a dot means public.<pattern>). The default,
// "*.*", means every table outside the system schemas (pg_catalog,
// information_schema, pg_toast, pg_temp_*, and sqltap's own schema), which are
// never captured.
#include <string>
#include <string_view>
#include <vector>

namespace sqltap::capture {

struct table_info;

// [table SCHEMA.TABLE] filter and columns: which rows and columns of one
// table are captured.
struct table_rule {
    std::string schema, table;
    std::string filter;                // SQL boolean expression; empty: every row
    std::vector<std::string> columns;  // empty: every column (key columns always)
};

// Applies the rule to the table's metadata: its row filter, and only the
// listed columns and the key columns, in table order. Returns the listed
// names the table does not have.
std::vector<std::string> apply_rule(table_info& t, const table_rule& r);

class table_filter {
public:
    // Throws std::invalid_argument naming a malformed pattern.
    table_filter(std::string_view tables = "*.*", std::string_view exclude = "");
    bool captures(std::string_view schema, std::string_view table) const;
    // captures() as an SQL condition on two text expressions (LIKE patterns
    // for the globs), for checks the publisher evaluates.
    std::string sql_condition(std::string_view schema_expr, std::string_view table_expr) const;

    static bool glob(std::string_view pattern, std::string_view text) noexcept;
    static bool system_schema(std::string_view schema) noexcept;

private:
    struct pattern {
        std::string schema, table;
    };
    static std::vector<pattern> parse(std::string_view list);
    std::vector<pattern> include_, exclude_;
};

}  // namespace sqltap::capture
