#include "capture/catalog.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>
#include <utility>

#include "capture/rewriter.hpp"

namespace sqltap::capture {
namespace {

struct result {
    PGresult* r;
    explicit result(PGresult* p) : r(p) {}
    ~result() { PQclear(r); }
    result(result&& o) noexcept : r(std::exchange(o.r, nullptr)) {}
    result(const result&) = delete;
    result& operator=(const result&) = delete;
};

result exec(admin_connection& c, const std::string& sql) {
    result r(PQexecParams(c.get(), sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0));
    auto status = PQresultStatus(r.r);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
        throw catalog_error(std::string("catalog query failed: ") + PQerrorMessage(c.get()));
    return r;
}

}  // namespace

const char* to_string(key_source k) noexcept {
    switch (k) {
        case key_source::primary_key: return "primary key";
        case key_source::replica_identity: return "replica identity index";
        case key_source::all_columns: return "all columns";
    }
    return "?";
}

admin_connection::admin_connection(const std::string& conninfo, const std::string& database) {
    // With expand_dbname, the first "dbname" is read as a whole conninfo and
    // later keywords override what it says.
    const char* keys[] = {"dbname", "dbname", "application_name", nullptr};
    const char* vals[] = {conninfo.c_str(), database.c_str(), "sqltap-catalog", nullptr};
    conn_ = PQconnectdbParams(keys, vals, 1);
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
        std::string msg = conn_ ? PQerrorMessage(conn_) : "out of memory";
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        PQfinish(conn_);
        conn_ = nullptr;
        throw catalog_error("cannot open the admin connection to database \"" + database + "\": " + msg);
    }
}

admin_connection::~admin_connection() { PQfinish(conn_); }

bool admin_connection::ok() const noexcept { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

std::vector<std::string> parse_search_path(std::string_view sp, std::string_view user) {
    std::vector<std::string> out;
    std::size_t i = 0;
    auto blank = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; };
    while (i < sp.size()) {
        while (i < sp.size() && blank(sp[i])) ++i;
        if (i >= sp.size()) break;
        std::string name;
        bool quoted = sp[i] == '"';
        if (quoted) {
            ++i;
            while (i < sp.size()) {
                if (sp[i] == '"') {
                    if (i + 1 < sp.size() && sp[i + 1] == '"') {
                        name.push_back('"');
                        i += 2;
                        continue;
                    }
                    ++i;
                    break;
                }
                name.push_back(sp[i++]);
            }
        } else {
            while (i < sp.size() && sp[i] != ',' && !blank(sp[i]))
                name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(sp[i++]))));
        }
        while (i < sp.size() && blank(sp[i])) ++i;
        if (i < sp.size() && sp[i] == ',') ++i;
        if (name == "$user") {
            if (!user.empty()) out.emplace_back(user);
        } else if (!name.empty()) {
            out.push_back(std::move(name));
        }
    }
    return out;
}

namespace {

std::vector<std::string> search_list(const table_name& t, const std::vector<std::string>& search_schemas) {
    std::vector<std::string> schemas;
    if (!t.schema.empty()) {
        schemas.push_back(t.schema);
    } else {
        if (std::find(search_schemas.begin(), search_schemas.end(), "pg_catalog") == search_schemas.end())
            schemas.push_back("pg_catalog");
        schemas.insert(schemas.end(), search_schemas.begin(), search_schemas.end());
    }
    return schemas;
}

// A text[] literal: every element quoted, quotes and backslashes escaped.
std::string text_array(const std::vector<std::string>& items) {
    std::string array = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) array += ",";
        array += "\"";
        for (char ch : items[i]) {
            if (ch == '"' || ch == '\\') array += '\\';
            array += ch;
        }
        array += "\"";
    }
    return array + "}";
}

// Keys from "indisprimary indkey…" text (null: no key index), given the
// columns' attnums.
void set_keys(table_info& info, char replident, const std::optional<std::string>& key_index,
              const std::vector<int>& attnums) {
    std::string indkey;
    if (key_index && replident != 'f') {
        std::istringstream in(*key_index);
        std::string primary;
        in >> primary;
        std::getline(in, indkey);
        info.key = primary == "t" || primary == "true" ? key_source::primary_key : key_source::replica_identity;
    }
    std::istringstream in(indkey);
    int attnum;
    while (in >> attnum) {
        for (std::size_t j = 0; j < attnums.size(); ++j)
            if (attnums[j] == attnum) info.key_columns.push_back(static_cast<std::uint32_t>(j));
    }
    if (info.key_columns.empty()) {
        info.key = key_source::all_columns;
        for (std::size_t j = 0; j < info.columns.size(); ++j) info.key_columns.push_back(static_cast<std::uint32_t>(j));
    }
}

// Whether something besides a statement may write rows when table `c` is
// written (table_info::hidden_writers), as an SQL boolean over pg_class c.
std::string hidden_writers_sql() {
    return "(c.relkind <> 'r' OR c.relhasrules OR c.relrowsecurity OR c.relhassubclass OR c.relispartition "
           "OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger tg JOIN pg_catalog.pg_proc tp ON tp.oid = tg.tgfoid "
           "WHERE tg.tgrelid = c.oid AND NOT (tg.tgisinternal AND tp.pronamespace = 'pg_catalog'::pg_catalog.regnamespace "
           "AND tp.proname IN ('RI_FKey_check_ins', 'RI_FKey_check_upd', 'RI_FKey_noaction_del', 'RI_FKey_noaction_upd', "
           "'RI_FKey_restrict_del', 'RI_FKey_restrict_upd'))) "
           "OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
           "JOIN pg_catalog.pg_proc p ON p.oid = d.refobjid AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass "
           "WHERE p.provolatile = 'v' AND p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace AND ("
           "(d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid IN "
           "(SELECT ad.oid FROM pg_catalog.pg_attrdef ad WHERE ad.adrelid = c.oid)) OR "
           "(d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND d.objid IN "
           "(SELECT co.oid FROM pg_catalog.pg_constraint co WHERE co.conrelid = c.oid OR co.contypid IN "
           "(SELECT a2.atttypid FROM pg_catalog.pg_attribute a2 WHERE a2.attrelid = c.oid AND a2.attnum > 0))))))";
}

// What capture reads of a table, as one text that changes when any of it
// does: the hidden-writer flag (`hidden`, an SQL boolean), the key index, the
// replica identity and every column. `rel` names a row with the table's oid
// and relreplident.
std::string fingerprint_sql(const std::string& rel, const std::string& hidden) {
    return "((" + hidden + ")::text || '/' || coalesce((SELECT i.indisprimary::text || ' ' || i.indkey::text "
           "FROM pg_catalog.pg_index i WHERE i.indrelid = " + rel + ".oid AND (i.indisprimary OR i.indisreplident) "
           "ORDER BY i.indisprimary DESC LIMIT 1), '') || '/' || " + rel + ".relreplident::text || '/' || coalesce(("
           "SELECT pg_catalog.string_agg(a.attnum::text || ':' || a.attname::text || ':' || a.atttypid::text || ':' || "
           "a.atttypmod::text || ':' || a.attgenerated::text, ',' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a "
           "WHERE a.attrelid = " + rel + ".oid AND a.attnum > 0 AND NOT a.attisdropped), ''))";
}

}  // namespace

std::string table_query(const table_name& t, const std::vector<std::string>& search_schemas) {
    return "WITH t AS (SELECT c.oid, n.nspname, c.relname, c.relkind, c.relreplident, "
           "coalesce(pg_catalog.pg_partition_root(c.oid)::oid, c.oid) AS root, "
           + hidden_writers_sql() + " AS hidden "
           "FROM pg_catalog.unnest(" + quote_literal(text_array(search_list(t, search_schemas))) +
           "::text[]) WITH ORDINALITY AS s(nsp, ord) "
           "JOIN pg_catalog.pg_namespace n ON n.nspname = s.nsp "
           "JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = " + quote_literal(t.name) +
           " ORDER BY s.ord LIMIT 1) "
           "SELECT t.oid::text, t.nspname::text, t.relname::text, t.relkind::text, t.relreplident::text, "
           "t.root::text, a.attnum::text, a.attname::text, a.atttypid::text, "
           "pg_catalog.format_type(a.atttypid, a.atttypmod), (a.attgenerated <> '')::text, "
           "(SELECT i.indisprimary::text || ' ' || pg_catalog.array_to_string(i.indkey, ' ') "
           "FROM pg_catalog.pg_index i WHERE i.indrelid = t.oid AND (i.indisprimary OR i.indisreplident) "
           "ORDER BY i.indisprimary DESC LIMIT 1), t.hidden::text, " + fingerprint_sql("t", "t.hidden") + " "
           "FROM t LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped "
           "ORDER BY a.attnum";
}

std::optional<table_info> table_from_rows(const std::vector<text_row>& rows) {
    if (rows.empty() || rows[0].size() != 14) return std::nullopt;
    auto v = [](const text_row& r, std::size_t i) { return r[i] ? *r[i] : std::string(); };
    table_info info;
    const text_row& f = rows[0];
    info.oid = static_cast<std::uint32_t>(std::strtoul(v(f, 0).c_str(), nullptr, 10));
    info.schema = v(f, 1);
    info.name = v(f, 2);
    info.kind = v(f, 3).empty() ? 'r' : v(f, 3)[0];
    char replident = v(f, 4).empty() ? 'd' : v(f, 4)[0];
    info.root_oid = static_cast<std::uint32_t>(std::strtoul(v(f, 5).c_str(), nullptr, 10));
    std::vector<int> attnums;
    for (const auto& r : rows) {
        if (r.size() != 14) return std::nullopt;
        if (!r[6]) continue;  // a table without columns: its one row has none
        attnums.push_back(std::atoi(v(r, 6).c_str()));
        info.columns.push_back({v(r, 7), static_cast<std::uint32_t>(std::strtoul(v(r, 8).c_str(), nullptr, 10)),
                                v(r, 9), v(r, 10) == "true"});
    }
    set_keys(info, replident, f[11], attnums);
    info.hidden_writers = v(f, 12) != "false";
    info.fingerprint = v(f, 13);
    return info;
}

std::optional<table_info> load_table(admin_connection& c, const table_name& t,
                                     const std::vector<std::string>& search_schemas) {
    result r = exec(c, table_query(t, search_schemas));
    std::vector<text_row> rows;
    for (int i = 0; i < PQntuples(r.r); ++i) {
        text_row row;
        for (int k = 0; k < PQnfields(r.r); ++k)
            row.push_back(PQgetisnull(r.r, i, k) ? std::nullopt : std::optional<std::string>(PQgetvalue(r.r, i, k)));
        rows.push_back(std::move(row));
    }
    return table_from_rows(rows);
}

std::map<std::uint32_t, std::string> fingerprints(admin_connection& c, const std::vector<std::uint32_t>& oids) {
    std::string list;
    for (auto oid : oids) list += (list.empty() ? "" : ",") + std::to_string(oid);
    result r = exec(c, "SELECT c.oid::text, " + fingerprint_sql("c", hidden_writers_sql()) +
                           " FROM pg_catalog.pg_class c WHERE c.oid = ANY('{" + list + "}'::pg_catalog.oid[])");
    std::map<std::uint32_t, std::string> out;
    for (int i = 0; i < PQntuples(r.r); ++i)
        out[static_cast<std::uint32_t>(std::strtoul(PQgetvalue(r.r, i, 0), nullptr, 10))] = PQgetvalue(r.r, i, 1);
    return out;
}

}  // namespace sqltap::capture
