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

class table_filter {
public:
    // Throws std::invalid_argument naming a malformed pattern.
    table_filter(std::string_view tables = "*.*", std::string_view exclude = "");
    bool captures(std::string_view schema, std::string_view table) const;

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
