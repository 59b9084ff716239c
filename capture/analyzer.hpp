#pragma once
// What a client's SQL does, as far as capture cares: the kind of each
// statement, the tables it writes, where it sits in the text, and whether it
// already has a RETURNING list. Parsed with libpg_query (PostgreSQL's own
// parser), cached by exact text.
//
// A cheap pre-check (certainly_read_only) lets plain SELECTs skip the parser.
// It may say "parse me" for a read, never "read" for a write: a false
// "read" would lose data.
#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "capture/sql_shape.hpp"

namespace sqltap::capture {

enum class statement_kind {
    empty,        // nothing but comments and whitespace
    read,         // SELECT, VALUES, TABLE, SHOW, plain EXPLAIN, FETCH, …
    insert,
    update,
    del,
    merge,        // not capturable on PostgreSQL 15 (no RETURNING)
    truncate,
    copy_from,    // COPY … FROM STDIN/file/program into a table
    copy_to,      // COPY … TO; a COPY (query) TO may hold a data-modifying query
    ddl,          // CREATE/ALTER/DROP/COMMENT/GRANT/…, SELECT INTO, CREATE TABLE AS
    begin,        // BEGIN, START TRANSACTION
    commit,       // COMMIT, END
    rollback,     // ROLLBACK, ABORT
    savepoint,
    release,
    rollback_to,
    prepare_transaction,
    commit_prepared,
    rollback_prepared,
    session,      // SET, RESET, DISCARD, LISTEN, NOTIFY, DEALLOCATE, LOCK, …
    call,         // CALL procedure(): may write without returning rows
    do_block,     // DO $$ … $$: may write without returning rows
    explain_analyze,  // EXPLAIN ANALYZE runs its statement (see `inner`)
    prepare_sql,  // SQL-level PREPARE name AS … (see `inner`)
    execute_sql,  // SQL-level EXECUTE name
    other,        // VACUUM, CHECKPOINT, REFRESH MATERIALIZED VIEW, …
};

const char* to_string(statement_kind k) noexcept;

struct table_name {
    std::string schema;  // empty: unqualified, resolved through search_path
    std::string name;
    bool operator==(const table_name&) const = default;
};

// What analyze() found of one statement. rewrite() reads some of these
// fields; rewrite_cache.cpp's alike() must compare every field it reads, or
// the cache would reuse a rewrite made for a statement that differs there.
struct statement {
    statement_kind kind = statement_kind::empty;
    std::size_t location = 0, length = 0;  // byte range of the statement in the text
    std::vector<table_name> targets;       // tables it writes rows of (or DDL touches)
    std::string target_alias;              // INSERT/UPDATE/DELETE: the target's alias, if any
    static constexpr std::size_t npos = std::size_t(-1);
    std::size_t target_location = npos;    // COPY FROM: where the table's name starts, from `location`
    std::vector<std::string> set_columns;  // UPDATE, INSERT … ON CONFLICT DO UPDATE: the columns SET assigns
    bool update_from = false;              // UPDATE … FROM, or WHERE CURRENT OF
    bool other_relations = false;          // UPDATE … FROM, DELETE … USING: more than the target in scope
    std::vector<std::size_t> returning_stars;  // UPDATE: bare "*" items of RETURNING, from `location`
    bool has_returning = false;            // the top-level write has its own RETURNING
    // The columns its own RETURNING yields; npos when an item holds a "*"
    // (how many it yields depends on the catalog).
    std::size_t returning_columns = 0;
    bool modifying_cte = false;            // a WITH holds INSERT/UPDATE/DELETE/MERGE
    bool on_conflict = false;              // INSERT … ON CONFLICT
    bool chain = false;                    // COMMIT/ROLLBACK AND CHAIN
    std::string name;                      // savepoint, gid, or prepared statement name
    std::shared_ptr<const statement> inner;  // EXPLAIN ANALYZE and PREPARE bodies
    // INSERT, UPDATE, DELETE: the number literals (an optional leading "-",
    // then the number), as byte offsets from `location`, that PostgreSQL
    // types by their text alone (integer, bigint, numeric) and whose place
    // takes a parameter of that type with the same meaning, so a prepared
    // statement may take them as parameters (prepared_writes.hpp). Left out:
    // ORDER BY / GROUP BY / DISTINCT ON / window clauses (an integer there
    // may be a column's position), type modifiers, ON CONFLICT (its index
    // inference reads constants).
    std::vector<std::size_t> value_literals;
    // may_call_functions() of the statement's text, taken once by analyze()
    // (it reads tokens only, so it holds for every text of the same shape).
    bool calls_functions = false;

    // True when running it may change rows of some table.
    bool may_write() const noexcept;
};

struct analysis {
    bool ok = true;
    std::string error;  // the parser's message when !ok (the server will say the same)
    std::vector<statement> statements;
};

analysis analyze(std::string_view sql);

// True only when `sql` certainly is one statement that writes no table rows by
// its own syntax (a SELECT without INSERT/UPDATE/DELETE/MERGE/INTO/COPY/
// TRUNCATE anywhere in it). Writes made by functions it calls are caught by
// the transaction's statistics, not here.
bool certainly_read_only(std::string_view sql) noexcept;

// False only when `sql` certainly calls no function that might write: every
// "name(" in it is an SQL keyword or a well-known read-only built-in
// (count, sum, coalesce, now, lower, …). A cheap token scan; literals,
// quoted identifiers and comments are skipped. Used to decide whether an
// autocommit read needs its writes checked.
bool may_call_functions(std::string_view sql) noexcept;

// ASCII case-insensitive comparisons, for keywords in SQL text.
bool equals_ci(std::string_view a, std::string_view b) noexcept;
bool contains_ci(std::string_view hay, std::string_view needle) noexcept;

// The position after the whitespace and comments (-- and nested /* */) that
// start at sql[i].
std::size_t skip_blank(std::string_view sql, std::size_t i) noexcept;

// A bounded least-recently-used map by string key.
template <class V>
class lru_map {
public:
    explicit lru_map(std::size_t capacity) : capacity_(capacity) {}
    V* find(std::string_view key) {
        auto it = map_.find(key);
        if (it == map_.end()) return nullptr;
        lru_.splice(lru_.begin(), lru_, it->second);
        return &it->second->second;
    }
    void put(std::string key, V value) {
        if (capacity_ == 0 || map_.count(key)) return;
        if (map_.size() >= capacity_) {
            map_.erase(lru_.back().first);
            lru_.pop_back();
        }
        lru_.emplace_front(std::move(key), std::move(value));
        map_.emplace(lru_.front().first, lru_.begin());
    }
    // put(), or a new value for a key it holds.
    void assign(std::string key, V value) {
        if (V* v = find(key)) *v = std::move(value);
        else put(std::move(key), std::move(value));
    }
    std::size_t size() const noexcept { return map_.size(); }
    std::size_t capacity() const noexcept { return capacity_; }
    // Takes the least recently used value out (nothing when empty).
    std::optional<V> pop_oldest() {
        if (lru_.empty()) return std::nullopt;
        V v = std::move(lru_.back().second);
        map_.erase(lru_.back().first);
        lru_.pop_back();
        return v;
    }
    void clear() {
        map_.clear();
        lru_.clear();
    }

private:
    std::size_t capacity_;
    std::list<std::pair<std::string, V>> lru_;  // most recent first
    std::unordered_map<std::string_view, typename std::list<std::pair<std::string, V>>::iterator> map_;
};

// A bounded cache of analyses by exact text, and by shape (sql_shape.hpp):
// a text whose shape was analysed before, with other literal values, gets
// that analysis with its positions moved to the new text, when the analysis
// depends on no literal (plain reads, INSERT, UPDATE, DELETE, BEGIN, COMMIT,
// ROLLBACK). Not thread-safe: one per I/O thread.
class analysis_cache {
public:
    explicit analysis_cache(std::size_t capacity = 4096, std::size_t max_text = 64 * 1024)
        : max_text_(max_text), exact_(capacity), shapes_(capacity) {}
    // `shape`, when given: the text's shape (null when it has none, or when
    // the text is too long to be kept).
    std::shared_ptr<const analysis> get(std::string_view sql, std::shared_ptr<const sql_shape>* shape = nullptr);
    std::size_t size() const noexcept { return exact_.size(); }
    std::size_t hits() const noexcept { return hits_; }
    std::size_t shape_hits() const noexcept { return shape_hits_; }
    std::size_t misses() const noexcept { return misses_; }

private:
    struct shaped;  // an analysis and the token positions of the text it was made from
    std::size_t max_text_;
    struct exact {
        std::shared_ptr<const analysis> a;
        std::shared_ptr<const sql_shape> shape;
    };
    lru_map<exact> exact_;
    lru_map<std::shared_ptr<const shaped>> shapes_;
    std::size_t hits_ = 0, shape_hits_ = 0, misses_ = 0;
};

}  // namespace sqltap::capture
