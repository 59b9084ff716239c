#pragma once
// Internal to the session filter (session_capture.cpp, session_simple.cpp,
// session_extended.cpp): what one session tracks. Every request sent to the
// publisher (a client's Query, an extended-protocol batch up to Sync, or a
// statement sqltapd injected) waits in `pending` until its ReadyForQuery.
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "capture/analyzer.hpp"
#include "capture/prepared_writes.hpp"
#include "capture/result_filter.hpp"
#include "capture/rewriter.hpp"
#include "capture/session_capture.hpp"
#include "capture/txn_buffer.hpp"
#include "capture/write_stats.hpp"
#include "protocol/builders.hpp"
#include "protocol/messages.hpp"
#include "proxy/async_event.hpp"

namespace sqltap::capture::detail {

using protocol::byte_buffer;
using protocol::sender;
using proxy::verdict;

// SQLSTATEs of sqltap's own refusals.
inline constexpr std::string_view state_uncaptured = "0A000";  // feature_not_supported
inline constexpr std::string_view state_log_failed = "58030";  // io_error
inline constexpr std::string_view state_catalog = "55000";     // object_not_in_prerequisite_state

inline constexpr std::string_view uncaptured_hint =
    "[capture] uncaptured = reject. Write the table with plain INSERT, UPDATE or DELETE, or set uncaptured = log "
    "to let it through and mark the table for resynchronisation.";

inline constexpr std::string_view search_path_query =
    "SELECT pg_catalog.current_setting('search_path'), current_user::text";

std::size_t utf8_chars(std::string_view s);
bool is_commit_like(statement_kind k);
bool is_txn_control(statement_kind k);
bool is_dml(statement_kind k);
// Writes rows without returning them: only the write-count check sees them.
bool may_write_hidden(const statement& s);
// Whether the statement needs its target tables from the catalog.
bool wants_tables(const statement& s);
struct table_lookups;
// Whether only the write counts can tell what it wrote (see part_traits);
// `hidden`: may_write_hidden(s).
bool unproved(const statement& s, bool hidden, const table_lookups& l);

enum class role : std::uint8_t {
    client,       // the client's statement: answers go to the client (stripped)
    swallow,      // ours: the client sees none of its answers
    snapshot,     // ours: a write-count snapshot (stats_query; check_query at a COMMIT)
    search_path,  // ours: current_setting('search_path'), current_user
    catalog,      // ours: table_query() on the session's own connection
};
enum class snap_use : std::uint8_t { none, base, savepoint, rebase, check };

struct commit_ticket;

// One statement on its way: what its answers mean.
struct slot {
    role r = role::client;
    statement_kind kind = statement_kind::read;
    snap_use use = snap_use::none;
    std::optional<capture_plan> plan;
    table_ptr table;                   // keeps plan->table alive
    std::vector<table_ptr> truncated;  // captured tables a TRUNCATE empties
    std::string name;                  // savepoint or gid
    std::string ddl_sql;               // non-empty: a captured DDL entry when it succeeds
    bool changes_search_path = false;
    bool resolves_commit = false;      // its CommandComplete says how the commit ended
    bool swallow_notices = false;      // e.g. a client BEGIN inside sqltapd's block warns
    bool prepares_stats = false;       // ours: the PREPARE of sqltapd's snapshot statement
    bool drops_prepared = false;       // the client's DEALLOCATE or DISCARD: may drop it
    std::string prepares_write;        // ours: the PREPARE of a captured write (its prepared_writes key)
    bool verifies = false;             // ours: the publisher's check before the COMMIT after it
    bool checked = false;              // SAVEPOINT: the write counts were being taken when it was sent
    std::shared_ptr<commit_ticket> ticket;  // resolves_commit: the entry it resolves
};

inline slot ours(role r, statement_kind k = statement_kind::read, snap_use u = snap_use::none) {
    slot s;
    s.r = r;
    s.kind = k;
    s.use = u;
    return s;
}

// Where text was added to what the client sent, for error positions.
struct position_map {
    std::size_t ours_prefix = 0;  // characters sqltapd put before the client's text
    std::size_t part_offset = 0;  // characters of the client's message before this part
    std::vector<std::pair<std::size_t, std::size_t>> insertions;  // (part char offset, chars added)
    bool empty() const noexcept { return ours_prefix == 0 && part_offset == 0 && insertions.empty(); }
};

// What sqltapd knows of a prepared statement (extended protocol): the plan of
// its one statement, as it was forwarded.
struct ext_plan {
    slot sl;                          // kind, capture plan, DDL, TRUNCATE targets
    bool read_only = false;           // certainly writes nothing and needs nothing tracked
    bool hidden = false;              // may write without returning rows
    bool unproved = false;            // only the write counts can tell what it wrote (see part_traits)
    bool non_transactional = false;   // cannot run inside a transaction block
    std::string refusal;              // non-empty: refused at Execute with this message
    std::string refusal_state, refusal_hint;
    std::vector<std::string> ddl_targets;  // "schema.name" its DDL changes
    table_ptr flag_table;             // uncaptured = log: a write sqltapd cannot capture ...
    std::string flag_reason;          // ... and why (a resync record when it runs)
    position_map positions;           // for the Parse's error positions
    // A rewritten statement whose added columns are in their own types
    // (column_form::native): the columns the client's own RETURNING yields.
    // Bind then asks text for the added columns (see on_extended).
    std::optional<std::size_t> native_columns;
    std::uint64_t generation = 0;     // the engine's catalog generation it was planned with
    std::string sql;                  // as the client sent it
    std::vector<std::uint32_t> parameter_types;
};
using ext_plan_ptr = std::shared_ptr<const ext_plan>;

// One message of an extended-protocol batch whose answers are still due.
struct ext_item {
    char msg = 0;     // the frontend message: P B D E C F S
    slot sl;          // E: what the statement is; D: sl.plan describes its rows
    position_map positions;  // P: error positions
    std::uint64_t seq = 0;
};

struct request {
    std::vector<slot> slots;  // simple Query: one per statement
    std::size_t cur = 0;
    bool extended = false;    // an extended-protocol batch (or FunctionCall) up to its ReadyForQuery
    bool synced = false;      // extended: its Sync (or FunctionCall) has been sent
    // (A list: a deque allocates on construction, and most requests, a
    // simple Query's, never hold an item.)
    std::list<ext_item> items;
    std::uint64_t next_seq = 1, answered = 0;  // extended: items pushed / answered or dropped
    char txn = 0;             // extended: the transaction as the batch goes: I, T (client block), W (sqltapd's block)
    bool swallow_z = false;   // extended: the ReadyForQuery is sqltapd's
    bool hold_z = false;      // simple: swallow the closing ReadyForQuery: the operation goes on
    bool ours = false;        // the client sees nothing of it
    bool error = false;
    std::string error_message;
    std::string error_to_client;  // ours: replace its first CommandComplete with this error
    std::string error_state;      // SQLSTATE of error_to_client
    char status = 0;
    bool done = false;
    bool stats_prepare_pending = false;  // holds a PREPARE of the snapshot that has not completed
    bool verify_failed = false;          // its `verifies` statement failed (the COMMIT after it did not run)
    std::string verify_message;
    bool wrapped = false;     // sqltapd's BEGIN … (its COMMIT or ROLLBACK follows)
    position_map positions;
    stats_snapshot snap, check;
    std::string search_path, user, xid;
    std::map<std::size_t, std::vector<text_row>> catalog_rows;  // by slot index
};

// An in-doubt log entry and the outcome of its COMMIT: whichever of the two
// (the log's completion, the server's answer) comes second resolves it.
struct commit_ticket {
    std::uint64_t lsn = 0;
    bool appended = false;  // lsn is valid
    bool failed = false;    // the append failed
    std::error_code error;
    std::optional<bool> committed;
    bool resolved = false;
    std::string gid;  // PREPARE TRANSACTION: stays in doubt until COMMIT PREPARED
    std::size_t changes = 0;  // in the entry (the counters)
    // async: what to report should the append fail after the COMMIT went
    std::string xid;
    std::vector<std::pair<std::string, std::string>> tables;
};

struct mark {  // a savepoint, for the write-count segments
    std::string name;
    stats_snapshot base;
    expected_counts expected;
    std::vector<uncaptured_write> flags;
    std::optional<stats_snapshot> snap;
    bool checked = true;  // false: no counts were taken before it (write_check = auto), nothing to judge
};

// Catalog lookups of one operation, completed on the session's thread.
struct table_lookups {
    bool in_session = false;  // read on the session's connection, inside its transaction
    int pending = 0;
    std::string error;
    std::map<std::string, table_ptr> tables;  // by "schema\0name"; null: not a table
};

// What a statement (or a part of a message) does, beyond its slot.
struct part_traits {
    bool captures = false, hidden = false, control = false, non_transactional = false;
    // Something in it may write rows that no RETURNING brings back (anything
    // but transaction control, a read calling no function, and a plain
    // INSERT/UPDATE/DELETE of tables without hidden writers): with
    // write_check = auto, the write counts are taken from it on.
    bool unproved = false;
};

// A commit about to be forwarded: its in-doubt entry, or why it must not go.
struct commit_decision {
    std::shared_ptr<commit_ticket> ticket;
    bool reject = false;  // uncaptured writes with uncaptured = reject
    std::string reject_message;
};

}  // namespace sqltap::capture::detail

namespace sqltap::capture {

struct session_capture::state : std::enable_shared_from_this<session_capture::state> {
    using request = detail::request;
    using slot = detail::slot;
    using verdict = proxy::verdict;
    using byte_buffer = protocol::byte_buffer;

    std::shared_ptr<engine> eng;
    asio::any_io_executor ex;
    session_context ctx;
    proxy::async_event ready;

    std::deque<std::shared_ptr<request>> pending;  // sent, answers not complete
    char status = 'I';                              // the last ReadyForQuery
    bool sp_known = false;
    std::vector<std::string> schemas;  // the search path's schemas
    std::string search_path;           // as the server reports it

    // The open transaction.
    txn_buffer buf;
    std::string xid;
    std::int64_t xid_seen_us = 0;  // when the xid came (sqltapd's clock): see in_doubt_entry
    void learn_xid(const std::string& x);  // the transaction's xid, from the first row or check that has it
    bool may_write = false;  // ran something that may have written
    // Send side: the open transaction's write counts are being taken (a base
    // snapshot was sent). write_check = always: from BEGIN on; auto: from
    // the first statement that needs them. Reset where a statement is sent
    // outside a transaction block.
    bool checking = false;
    bool lazy_check() const { return !eng->options().always_check_writes; }
    bool have_base = false;
    stats_snapshot base;
    expected_counts expected;  // rows captured since `base`, by table oid
    std::vector<detail::mark> marks;
    std::vector<uncaptured_write> flags;  // found in segments already judged
    std::vector<std::uint32_t> truncated;
    std::vector<std::pair<relation, std::string>> resync;  // uncaptured = log: table, why
    std::vector<std::string> ddl_tables;  // "schema.name" changed by DDL in this transaction
    bool had_ddl = false;
    bool capture_failed = false;
    std::string capture_failure;

    // sqltapd's prepared write-count snapshots (stats_query, check_query,
    // verify_query):
    // SQL-level PREPAREs (so a simple Query can EXECUTE them), planned once
    // per connection instead of at every snapshot. New names each time they
    // are prepared again (after a failure before the PREPAREs ran, or the
    // client's DEALLOCATE / DISCARD), so a PREPARE never meets an older one.
    std::string stats_name, check_name, verify_name;
    bool stats_sent = false;  // its PREPARE was sent and nothing undid it since
    std::uint32_t stats_seq = 0;
    // Captured writes of simple Queries that run as sqltapd's prepared statements.
    prepared_writes writes;
    // Their shortcut: a write sent before but for its numbers, inside a
    // transaction block, whose prepared statement is ready, goes as its
    // EXECUTE without being analysed, looked up and rewritten again
    // (try_known_write). By the text's pattern_key and whether the xid is
    // asked for.
    struct known_write {
        write_pattern pattern;
        std::string key;  // in `writes`
        detail::slot sl;  // the statement's slot
        // What the catalog entry in the slot was looked up with.
        bool unqualified = false;  // a target without a schema: looked up by `schemas`
        std::vector<std::string> schemas;
        std::uint64_t generation = 0;  // the engine's catalog generation before the lookup
    };
    lru_map<known_write> known_writes{128};
    // The session's side of the shortcut (both where a pattern is recorded
    // and where it is used): in a block (no wrapping), no DDL in it (no
    // lookups on the session's connection), no write counts to take.
    bool may_shortcut() const { return status == 'T' && !had_ddl && ddl_tables.empty() && lazy_check(); }
    std::optional<verdict> try_known_write(std::string_view sql, byte_buffer& out);  // session_simple.cpp
    // The client may have dropped prepared statements (DEALLOCATE, DISCARD):
    // sqltapd's are prepared again, under new names.
    void forget_prepared() {
        stats_sent = false;
        writes.forget();
    }

    // COPY FROM STDIN while a Query is held (see client_message).
    bool copy_in = false;         // the server waits for the client's COPY data
    bool held_copy_end = false;   // the held message is a CopyDone/CopyFail already sent

    // Extended protocol: prepared statements and portals by name.
    std::unordered_map<std::string, detail::ext_plan_ptr> statements, portals;

    // The client message being worked on (held), if any: a Query, or an
    // extended-protocol message.
    struct query_op;
    std::shared_ptr<query_op> op;  // shared_ptr: destroyed where the type is incomplete
    struct ext_op;
    std::shared_ptr<ext_op> xop;

    void poke() { ready.set(); }
    void settle(detail::commit_ticket& t);
    void reset_txn();

    // ---- client side ----
    verdict client_message(const protocol::frame& f, byte_buffer& out);
    verdict on_query(const protocol::frame& f, byte_buffer& out);          // session_simple.cpp
    verdict on_extended(const protocol::frame& f, byte_buffer& out);       // session_extended.cpp
    void start_commit_check(byte_buffer& out, ext_op& o, const std::shared_ptr<request>& r);
    void send_query(byte_buffer& out, std::string text, std::shared_ptr<request> r);
    // A write-count snapshot (with the xid, for snap_use::check): one
    // statement, or the PREPAREs and the EXECUTE when sqltapd's statements
    // are not prepared yet. `plain`: the query itself, for a message in which the client
    // may drop prepared statements.
    struct snapshot_sql {
        std::vector<std::string> statements;
        std::vector<detail::slot> slots;  // one per statement
        std::string executes;             // the prepared statement the last one EXECUTEs, if any
        std::string joined() const;       // the statements joined by ';'
    };
    snapshot_sql snapshot(detail::snap_use u, bool plain = false);
    std::uint64_t inject_snapshot(byte_buffer& out, request& r, detail::snap_use u);  // session_extended.cpp
    // The EXECUTE of sqltapd's verify statement for the open transaction, or
    // nothing when the COMMIT's check cannot be left to the publisher (see
    // session_simple.cpp).
    std::optional<std::string> verify_statement() const;
    std::string uncaptured_message(const std::string& list) const;

    // Shared by both protocols.
    // Starts catalog lookups for the analysis' targets; done when l->pending is 0.
    void lookup_targets(const analysis& a, const std::shared_ptr<detail::table_lookups>& l);
    // The captured table a statement's target names, if it is one.
    table_ptr captured_target(const detail::table_lookups& l, const table_name& t) const;
    // rewrite() with the captured tables of `l` (kept alive in `keep`);
    // through the I/O thread's rewrite_cache when `shape` (that of `sql`) is given.
    rewrite_outcome rewrite_captured(std::string_view sql, const analysis& a, const detail::table_lookups& l,
                                     std::vector<table_ptr>& keep, column_form form = column_form::text,
                                     const sql_shape* shape = nullptr, bool with_xid = true) const;
    // The slot of one statement (not ours) and what it does. `ddl_changed`:
    // the tables DDL changed before it (a write to one is refused), to which
    // its own DDL targets are added.
    slot make_slot(const statement& s, std::string_view text, const std::optional<capture_plan>& plan,
                   const std::vector<table_ptr>& keep, const detail::table_lookups& l, detail::part_traits& traits,
                   std::string& unsupported, const table_info*& unsupported_table, bool failed_txn,
                   std::vector<std::string>& ddl_changed);
    // uncaptured = log: the resync record for a write sqltapd cannot capture.
    void flag_unsupported(const table_info& t, const std::string& why);
    std::vector<uncaptured_write> find_uncaptured_now(const stats_snapshot& now) const;
    // Judges the transaction's writes and, unless they must be refused,
    // queues its in-doubt entry (gid: PREPARE TRANSACTION).
    detail::commit_decision decide_commit(std::vector<uncaptured_write> uncaptured, std::string gid);
    // After the append (strict) or at once (async): the refusal to send
    // instead of the COMMIT, if any (SQLSTATE, message).
    std::optional<std::pair<std::string_view, std::string>> commit_refusal(const detail::commit_decision& d);
    std::string unsupported_message(const std::string& what) const;

    // ---- server side ----
    verdict server_message(const protocol::frame& f, byte_buffer& out);
    verdict extended_answer(request& r, const protocol::frame& f, byte_buffer& out);
    // Shared handlers of one statement's answers.
    verdict on_row_description(slot* s, const protocol::frame& f, byte_buffer& out, bool describe);
    verdict on_data_row(request& r, slot* s, const protocol::frame& f, byte_buffer& out);
    verdict on_complete(request& r, slot& s, const protocol::frame& f, byte_buffer& out);
    void on_command_complete(request& r, slot& s, std::string_view tag);
    void on_ready(request& r);
    std::shared_ptr<request> finish_request(const protocol::frame& f);
    void on_snapshot(request& r, slot& s);
    bool fix_error_position(const detail::position_map& pm, const protocol::frame& f, byte_buffer& out);
};

}  // namespace sqltap::capture
