#include "replay/statements.hpp"

#include <stdexcept>

#include "replay/pg.hpp"

namespace sqltap::replay {
namespace {

using capture::value;

std::string param(std::size_t n) { return "$" + std::to_string(n); }

const column_info& column(const column_types& types, const capture::relation& r, std::size_t i) {
    auto t = types.find(r.columns[i]);
    if (t == types.end())
        throw std::runtime_error("the subscriber's " + qualified(r) + " has no column " + pg::quote_ident(r.columns[i]));
    return t->second;
}

// "k1" = $n AND … over the key columns; a NULL key value (possible when the
// key is all columns) compares with IS NULL.
std::string key_condition(const capture::relation& r, const std::vector<value>& key, statement& st) {
    if (key.size() != r.key_columns.size())
        throw std::runtime_error("a change to " + qualified(r) + " carries a key of the wrong size");
    std::string out;
    for (std::size_t i = 0; i < key.size(); ++i) {
        if (i) out += " AND ";
        out += pg::quote_ident(r.columns.at(r.key_columns[i]));
        if (!key[i]) {
            out += " IS NULL";
        } else {
            st.params.push_back(key[i]);
            out += " = " + param(st.params.size());
        }
    }
    return out;
}

// AND every other column IS NOT DISTINCT FROM the before image. Compared as
// the subscriber's text of both, so that types without an equality operator
// (json, point, …) compare too and the capturing client's formats
// (DateStyle, time zone) do not matter.
std::string old_condition(const capture::relation& r, const std::vector<value>& old, const column_types& types,
                          statement& st) {
    if (old.size() != r.columns.size())
        throw std::runtime_error("a before image of " + qualified(r) + " has the wrong number of columns");
    std::string out;
    for (std::size_t i = 0; i < r.columns.size(); ++i) {
        bool is_key = false;
        for (auto k : r.key_columns) is_key = is_key || k == i;
        if (is_key) continue;
        const auto& t = column(types, r, i);
        st.params.push_back(old[i]);
        out += " AND " + pg::quote_ident(r.columns[i]) + "::text IS NOT DISTINCT FROM (" + param(st.params.size()) +
               "::" + t.type + ")::text";
    }
    return out;
}

std::string checked(const std::string& dml, const char* what) {
    return "WITH sqltap_w AS (" + dml + " RETURNING 1) SELECT sqltap.expect_one(count(*), '" + what +
           "') FROM sqltap_w";
}

}  // namespace

std::vector<std::string> setup_sql() {
    return {
        "CREATE SCHEMA IF NOT EXISTS sqltap",
        "CREATE TABLE IF NOT EXISTS sqltap.progress ("
        " subscriber text PRIMARY KEY,"
        " log_id text NOT NULL,"
        " applied_lsn bigint NOT NULL,"
        " applied_at timestamptz,"
        " source_commit_time timestamptz)",
        "CREATE OR REPLACE FUNCTION sqltap.expect_one(n bigint, what text) RETURNS void"
        " LANGUAGE plpgsql AS $f$ BEGIN"
        " IF n <> 1 THEN"
        "  RAISE EXCEPTION USING ERRCODE = 'SQ409', MESSAGE = 'sqltap: ' || what || ' matched ' || n || ' rows';"
        " END IF; END $f$",
    };
}

std::string progress_sql() {
    return checked(
        "UPDATE sqltap.progress SET applied_lsn = $3, applied_at = now(),"
        " source_commit_time = to_timestamp($4::float8 / 1e6)"
        " WHERE subscriber = $1 AND applied_lsn = $2",
        "the progress row");
}

std::string qualified(const capture::relation& r) { return pg::quote_ident(r.schema) + "." + pg::quote_ident(r.table); }

std::vector<value> key_of(const capture::relation& r, const std::vector<value>& row) {
    std::vector<value> key;
    for (auto k : r.key_columns) key.push_back(row.at(k));
    return key;
}

statement insert_row(const capture::relation& r, const std::vector<value>& row, const column_types& types,
                     bool if_absent) {
    if (row.size() != r.columns.size())
        throw std::runtime_error("an inserted row of " + qualified(r) + " has the wrong number of columns");
    statement st;
    std::string cols, vals;
    for (std::size_t i = 0; i < r.columns.size(); ++i) {
        if (column(types, r, i).generated) continue;
        if (!st.params.empty()) {
            cols += ", ";
            vals += ", ";
        }
        st.params.push_back(row[i]);
        cols += pg::quote_ident(r.columns[i]);
        vals += param(st.params.size());
    }
    st.sql = "INSERT INTO " + qualified(r) + " (" + cols + ") OVERRIDING SYSTEM VALUE VALUES (" + vals + ")";
    if (if_absent) st.sql += " ON CONFLICT DO NOTHING";
    return st;
}

statement update_row(const capture::relation& r, const capture::change& c, const column_types& types, bool check,
                     bool compare_old) {
    if (c.new_row.size() != r.columns.size())
        throw std::runtime_error("an updated row of " + qualified(r) + " has the wrong number of columns");
    statement st;
    std::string set;
    for (std::size_t i = 0; i < r.columns.size(); ++i) {
        const auto& col = column(types, r, i);
        if (col.generated || col.identity_always) continue;
        if (!st.params.empty()) set += ", ";
        st.params.push_back(c.new_row[i]);
        set += pg::quote_ident(r.columns[i]) + " = " + param(st.params.size());
    }
    if (st.params.empty()) set = pg::quote_ident(r.columns.at(r.key_columns.at(0))) + " = " + pg::quote_ident(r.columns.at(r.key_columns.at(0)));
    std::string where = key_condition(r, c.key, st);
    if (compare_old && c.old_row) where += old_condition(r, *c.old_row, types, st);
    std::string dml = "UPDATE " + qualified(r) + " SET " + set + " WHERE " + where;
    st.sql = check ? checked(dml, "update") : dml;
    return st;
}

statement delete_row(const capture::relation& r, const capture::change& c, const column_types& types, bool check,
                     bool compare_old) {
    statement st;
    std::string where = key_condition(r, c.key, st);
    if (compare_old && c.old_row) where += old_condition(r, *c.old_row, types, st);
    std::string dml = "DELETE FROM " + qualified(r) + " WHERE " + where;
    st.sql = check ? checked(dml, "delete") : dml;
    return st;
}

statement select_row(const capture::relation& r, const std::vector<value>& key, const column_types& types) {
    statement st;
    std::string cols;
    for (std::size_t i = 0; i < r.columns.size(); ++i) {
        column(types, r, i);
        if (i) cols += ", ";
        cols += pg::quote_ident(r.columns[i]);
    }
    std::string where = key_condition(r, key, st);
    st.sql = "SELECT " + cols + " FROM " + qualified(r) + " WHERE " + where + " LIMIT 1";
    return st;
}

}  // namespace sqltap::replay
