#include "capture/table_filter.hpp"

#include "capture/catalog.hpp"

#include <algorithm>

#include <stdexcept>

namespace sqltap::capture {

bool table_filter::glob(std::string_view p, std::string_view t) noexcept {
    // Iterative matching with one backtrack point: linear for '*' patterns.
    std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
    while (ti < t.size()) {
        if (pi < p.size() && p[pi] == '*') {
            star = pi++;
            mark = ti;
        } else if (pi < p.size() && p[pi] == t[ti]) {
            ++pi;
            ++ti;
        } else if (star != std::string_view::npos) {
            pi = star + 1;
            ti = ++mark;
        } else {
            return false;
        }
    }
    while (pi < p.size() && p[pi] == '*') ++pi;
    return pi == p.size();
}

bool table_filter::system_schema(std::string_view s) noexcept {
    return s == "pg_catalog" || s == "information_schema" || s == "sqltap" || s.rfind("pg_toast", 0) == 0 ||
           s.rfind("pg_temp_", 0) == 0;
}

std::vector<table_filter::pattern> table_filter::parse(std::string_view list) {
    std::vector<pattern> out;
    std::size_t pos = 0;
    while (pos <= list.size()) {
        std::size_t comma = list.find(',', pos);
        std::string_view item = list.substr(pos, comma == std::string_view::npos ? list.npos : comma - pos);
        auto b = item.find_first_not_of(" \t");
        auto e = item.find_last_not_of(" \t");
        if (b != std::string_view::npos) {
            item = item.substr(b, e - b + 1);
            std::size_t dot = item.find('.');
            if (item.find('.', dot == item.npos ? item.size() : dot + 1) != item.npos)
                throw std::invalid_argument("table pattern '" + std::string(item) + "' has more than one '.'");
            pattern p = dot == item.npos ? pattern{"public", std::string(item)}
                                         : pattern{std::string(item.substr(0, dot)), std::string(item.substr(dot + 1))};
            if (p.schema.empty() || p.table.empty())
                throw std::invalid_argument("table pattern '" + std::string(item) + "' needs schema.table");
            out.push_back(std::move(p));
        }
        if (comma == std::string_view::npos) break;
        pos = comma + 1;
    }
    return out;
}

table_filter::table_filter(std::string_view tables, std::string_view exclude)
    : include_(parse(tables)), exclude_(parse(exclude)) {}

bool table_filter::captures(std::string_view schema, std::string_view table) const {
    if (system_schema(schema)) return false;
    for (const auto& p : exclude_)
        if (glob(p.schema, schema) && glob(p.table, table)) return false;
    for (const auto& p : include_)
        if (glob(p.schema, schema) && glob(p.table, table)) return true;
    return false;
}

namespace {
// A LIKE pattern as an E'' literal (the same whatever
// standard_conforming_strings says).
std::string e_literal(std::string_view pattern) {
    std::string out = "E'";
    for (char c : pattern) {
        if (c == '\\' || c == '\'') out += c;  // doubled
        out += c;
    }
    return out + "'";
}
// A glob as a LIKE pattern literal: '*' is '%', LIKE's own wildcards and its
// escape character are escaped.
std::string like_literal(std::string_view glob) {
    std::string like;
    for (char c : glob) {
        if (c == '*') like += '%';
        else if (c == '%' || c == '_' || c == '\\') (like += '\\') += c;
        else like += c;
    }
    return e_literal(like);
}
}  // namespace

std::string table_filter::sql_condition(std::string_view schema_expr, std::string_view table_expr) const {
    std::string s(schema_expr), t(table_expr);
    auto any = [&](const std::vector<pattern>& ps) {
        std::string out;
        for (const auto& p : ps)
            out += (out.empty() ? "" : " OR ") + ("(" + s + " LIKE " + like_literal(p.schema) + " AND " + t +
                                                  " LIKE " + like_literal(p.table) + ")");
        return out.empty() ? std::string("false") : "(" + out + ")";
    };
    // system_schema()
    std::string system = "(" + s + " IN ('pg_catalog', 'information_schema', 'sqltap') OR " + s + " LIKE " +
                         e_literal("pg\\_toast%") + " OR " + s + " LIKE " + e_literal("pg\\_temp\\_%") + ")";
    return "(NOT " + system + " AND NOT " + any(exclude_) + " AND " + any(include_) + ")";
}

std::vector<std::string> apply_rule(table_info& t, const table_rule& r) {
    t.row_filter = r.filter;
    std::vector<std::string> missing;
    if (r.columns.empty()) return missing;
    for (const auto& name : r.columns)
        if (std::none_of(t.columns.begin(), t.columns.end(), [&](const column_info& c) { return c.name == name; }))
            missing.push_back(name);
    std::vector<column_info> kept;
    std::vector<std::uint32_t> now_at(t.columns.size());  // a kept column's new index
    for (std::uint32_t i = 0; i < t.columns.size(); ++i) {
        bool key = std::find(t.key_columns.begin(), t.key_columns.end(), i) != t.key_columns.end();
        bool listed = std::find(r.columns.begin(), r.columns.end(), t.columns[i].name) != r.columns.end();
        if (!key && !listed) continue;
        now_at[i] = static_cast<std::uint32_t>(kept.size());
        kept.push_back(std::move(t.columns[i]));
    }
    for (auto& k : t.key_columns) k = now_at[k];  // key order stays
    t.columns = std::move(kept);
    return missing;
}

}  // namespace sqltap::capture
