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

// The checked form: every row the statement touches calls sqltap.seen with
// the statement's ordinal in its transaction, which raises SQ409 unless the
// statements before it touched exactly one row each and this one touches
// one; sqltap.expect_seen at the end of the transaction checks the last one.
// A plain RETURNING, because a data-modifying WITH is what a sqltapd in front
// of the subscriber (two-way replication) cannot capture.
void check(std::string& dml, statement& st, int ordinal) {
    st.params.push_back(std::to_string(ordinal));
    dml += " RETURNING sqltap.seen(" + param(st.params.size()) + "::int)";
}

}  // namespace

std::string expect_seen_sql() { return "SELECT sqltap.expect_seen($1::int)"; }

std::vector<std::string> setup_sql() {
    return {
        "CREATE SCHEMA IF NOT EXISTS sqltap",
        "CREATE TABLE IF NOT EXISTS sqltap.progress ("
        " subscriber text PRIMARY KEY,"
        " log_id text NOT NULL,"
        " applied_lsn bigint NOT NULL,"
        " applied_at timestamptz,"
        " source_commit_time timestamptz)",
        // Added with initial sync (replay/progress.hpp says what they hold).
        "ALTER TABLE sqltap.progress ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0,"
        " ADD COLUMN IF NOT EXISTS syncing boolean NOT NULL DEFAULT false,"
        " ADD COLUMN IF NOT EXISTS sync_snapshot text,"
        " ADD COLUMN IF NOT EXISTS synced_at timestamptz",
        "CREATE OR REPLACE FUNCTION sqltap.expect_one(n bigint, what text) RETURNS void"
        " LANGUAGE plpgsql AS $f$ BEGIN"
        " IF n <> 1 THEN"
        "  RAISE EXCEPTION USING ERRCODE = 'SQ409', MESSAGE = 'sqltap: ' || what || ' matched ' || n || ' rows';"
        " END IF; END $f$",
        // sqltap.seen: the count of checked statements done in this
        // transaction (a transaction-local setting) must be the ordinal of the
        // one calling it, once per row.
        "CREATE OR REPLACE FUNCTION sqltap.seen(k int) RETURNS int"
        " LANGUAGE plpgsql AS $f$ DECLARE n int := coalesce(nullif(current_setting('sqltap.seen', true), ''), '0')::int;"
        " BEGIN"
        " IF n <> k THEN"
        "  RAISE EXCEPTION USING ERRCODE = 'SQ409', MESSAGE = 'sqltap: ' || CASE WHEN n < k"
        "   THEN 'change ' || n || ' of the transaction matched no row' ELSE 'change ' || k || ' matched several rows' END;"
        " END IF;"
        " PERFORM set_config('sqltap.seen', (n + 1)::text, true);"
        " RETURN 1; END $f$",
        "CREATE OR REPLACE FUNCTION sqltap.expect_seen(total int) RETURNS void"
        " LANGUAGE plpgsql AS $f$ DECLARE n int := coalesce(nullif(current_setting('sqltap.seen', true), ''), '0')::int;"
        " BEGIN"
        " IF n <> total THEN"
        "  RAISE EXCEPTION USING ERRCODE = 'SQ409', MESSAGE = 'sqltap: change ' || n || ' of the transaction matched no row';"
        " END IF; END $f$",
    };
}

std::string progress_sql() {
    return "WITH sqltap_w AS (UPDATE sqltap.progress SET applied_lsn = $3, applied_at = now(),"
           " source_commit_time = to_timestamp($4::float8 / 1e6)"
           " WHERE subscriber = $1 AND applied_lsn = $2 AND epoch = $5 RETURNING 1)"
           " SELECT sqltap.expect_one(count(*), 'the progress row') FROM sqltap_w";
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

statement update_row(const capture::relation& r, const capture::change& c, const column_types& types, int checked,
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
    st.sql = "UPDATE " + qualified(r) + " SET " + set + " WHERE " + where;
    if (checked >= 0) check(st.sql, st, checked);
    return st;
}

statement delete_row(const capture::relation& r, const capture::change& c, const column_types& types, int checked,
                     bool compare_old) {
    statement st;
    std::string where = key_condition(r, c.key, st);
    if (compare_old && c.old_row) where += old_condition(r, *c.old_row, types, st);
    st.sql = "DELETE FROM " + qualified(r) + " WHERE " + where;
    if (checked >= 0) check(st.sql, st, checked);
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
