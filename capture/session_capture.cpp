#include "capture/session_capture.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>

#include "capture/analyzer.hpp"
#include "capture/result_filter.hpp"
#include "capture/rewriter.hpp"
#include "capture/txn_buffer.hpp"
#include "capture/write_stats.hpp"
#include "protocol/builders.hpp"
#include "protocol/messages.hpp"
#include "proxy/async_event.hpp"

namespace sqltap::capture {

using protocol::byte_buffer;
using protocol::sender;
using proxy::verdict;

namespace {

// SQLSTATEs of sqltap's own refusals.
constexpr std::string_view state_uncaptured = "0A000";   // feature_not_supported
constexpr std::string_view state_log_failed = "58030";   // io_error
constexpr std::string_view state_catalog = "55000";      // object_not_in_prerequisite_state

std::size_t utf8_chars(std::string_view s) {
    std::size_t n = 0;
    for (char c : s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    return n;
}

bool is_commit_like(statement_kind k) {
    return k == statement_kind::commit || k == statement_kind::prepare_transaction;
}

bool is_txn_control(statement_kind k) {
    switch (k) {
        case statement_kind::begin:
        case statement_kind::commit:
        case statement_kind::rollback:
        case statement_kind::savepoint:
        case statement_kind::release:
        case statement_kind::rollback_to:
        case statement_kind::prepare_transaction:
        case statement_kind::commit_prepared:
        case statement_kind::rollback_prepared: return true;
        default: return false;
    }
}

// Statements that write rows without returning them, whose writes only the
// write-count check can see.
bool may_write_hidden(const statement& s, std::string_view text) {
    switch (s.kind) {
        case statement_kind::call:
        case statement_kind::do_block:
        case statement_kind::execute_sql:
        case statement_kind::merge:
        case statement_kind::other:
        case statement_kind::copy_from: return true;
        case statement_kind::read:
        case statement_kind::copy_to:
        case statement_kind::session: return s.modifying_cte || may_call_functions(text);
        case statement_kind::explain_analyze:
        case statement_kind::prepare_sql: return true;
        default: return false;
    }
}

bool is_dml(statement_kind k) {
    return k == statement_kind::insert || k == statement_kind::update || k == statement_kind::del;
}

thread_local analysis_cache cache;

constexpr std::string_view xid_query = "SELECT pg_catalog.pg_current_xact_id()::text";

}  // namespace

std::string raise_sql(std::string_view sqlstate, std::string_view message, std::string_view hint) {
    std::string body = "RAISE EXCEPTION USING ERRCODE = " + quote_literal(sqlstate) + ", MESSAGE = " + quote_literal(message);
    if (!hint.empty()) body += ", HINT = " + quote_literal(hint);
    std::string tag = "$sqltap$";
    while (body.find(tag) != std::string::npos) tag.insert(1, "x");
    return "DO " + tag + "BEGIN " + body + "; END" + tag;
}

// ---------------------------------------------------------------------------

namespace {

enum class role : std::uint8_t {
    client,       // the client's statement: answers go to the client (stripped)
    swallow,      // ours: the client sees none of its answers
    snapshot,     // ours: a write-count snapshot (stats_query)
    search_path,  // ours: current_setting('search_path'), current_user
    xid,          // ours: pg_current_xact_id()
};
enum class snap_use : std::uint8_t { none, base, savepoint, rebase, check };

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
};

slot ours(role r, statement_kind k = statement_kind::read, snap_use u = snap_use::none) {
    slot s;
    s.r = r;
    s.kind = k;
    s.use = u;
    return s;
}

struct request {
    std::vector<slot> slots;
    std::size_t cur = 0;
    bool extended = false;  // an extended-protocol batch up to Sync, passed through
    bool hold_z = false;    // swallow the closing ReadyForQuery: the operation goes on
    bool ours = false;      // the client sees nothing of it (except notices? no)
    bool error = false;
    std::string error_message;
    std::string error_to_client;  // ours: replace its first CommandComplete with this error
    char status = 0;
    bool done = false;
    bool wrapped = false;   // sqltapd's BEGIN … (its COMMIT or ROLLBACK follows)
    // Error positions: the server counts characters in the text it got.
    std::size_t ours_prefix = 0;  // characters sqltapd put before the client's text
    std::size_t part_offset = 0;  // characters of the client's message before this part
    std::vector<std::pair<std::size_t, std::size_t>> insertions;  // (part char offset, chars added)
    stats_snapshot snap, check;
    std::string search_path, user, xid;
    std::shared_ptr<struct commit_ticket> ticket;  // the in-doubt entry a COMMIT in it resolves
    std::string error_state;  // SQLSTATE of error_to_client
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
};

struct mark {  // a savepoint, for the write-count segments
    std::string name;
    stats_snapshot base;
    expected_counts expected;
    std::vector<uncaptured_write> flags;
    std::optional<stats_snapshot> snap;
};

}  // namespace

struct session_capture::state : std::enable_shared_from_this<session_capture::state> {
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
    bool may_write = false;      // ran something that may have written
    bool have_base = false;
    stats_snapshot base;
    expected_counts expected;    // rows captured since `base`, by table oid
    std::vector<mark> marks;
    std::vector<uncaptured_write> flags;  // found in segments already judged
    std::vector<std::uint32_t> truncated;
    std::vector<std::pair<relation, std::string>> resync;  // uncaptured = log: table, why
    std::vector<std::string> ddl_tables;  // "schema.name" changed by DDL in this transaction
    bool had_ddl = false;
    bool capture_failed = false;
    std::string capture_failure;

    // The client Query being worked on (held), if any.
    struct query_op;
    std::unique_ptr<query_op> op;

    void poke() { ready.set(); }
    void settle(commit_ticket& t) {
        if (t.resolved || !t.appended || !t.committed) return;
        t.resolved = true;
        if (t.failed || t.lsn == 0) return;  // nothing in the log
        if (*t.committed && !t.gid.empty()) {
            eng->prepared(ctx.database, t.gid, t.lsn);
            return;
        }
        eng->log().resolve(t.lsn, *t.committed, [](std::error_code, std::uint64_t) {});
        if (*t.committed) {
            eng->counters().transactions.fetch_add(1, std::memory_order_relaxed);
        }
    }
    void reset_txn() {
        buf.clear();
        xid.clear();
        may_write = false;
        have_base = false;
        base.clear();
        expected.clear();
        marks.clear();
        flags.clear();
        truncated.clear();
        resync.clear();
        ddl_tables.clear();
        capture_failed = false;
        capture_failure.clear();
        if (had_ddl) eng->invalidate(ctx.database);
        had_ddl = false;
    }

    verdict client_message(const protocol::frame& f, byte_buffer& out);
    verdict server_message(const protocol::frame& f, byte_buffer& out);
    verdict on_query(const protocol::frame& f, byte_buffer& out);
    void send_query(byte_buffer& out, std::string text, std::shared_ptr<request> r);
    void on_command_complete(request& r, slot& s, std::string_view tag);
    void on_ready(request& r);
    // The front request's ReadyForQuery: the request is done.
    std::shared_ptr<request> finish_request(const protocol::frame& f);
    void on_snapshot(request& r, slot& s);
    bool fix_error_position(const request& r, const protocol::frame& f, byte_buffer& out);
    std::vector<uncaptured_write> find_uncaptured_now(const stats_snapshot& now) const;
};

// ---------------------------------------------------------------------------
// One client Query message, held until it has been sent whole (possibly in
// parts, with sqltapd's own statements around it).

struct session_capture::state::query_op {
    enum class phase {
        start,
        need_search_path,
        tables,
        plan,
        next_part,
        wait_part,        // a part was sent; waiting for its ReadyForQuery
        commit_snapshot,  // a snapshot for the COMMIT is on its way
        commit_append,    // waiting for the log
        finished,
    };
    phase ph = phase::start;
    std::string sql;
    std::shared_ptr<const analysis> a;
    int lookups = 0;
    std::string lookup_error;
    std::vector<std::pair<std::size_t, std::size_t>> parts;  // statement ranges [b, e)
    std::size_t part = 0;
    std::shared_ptr<request> req;  // the request this operation waits for
    bool wrapped = false;
    bool commit_is_client = false;  // the COMMIT being done is the client's statement
    std::size_t commit_stmt = 0;
    std::shared_ptr<commit_ticket> ticket;  // the commit being prepared
    std::vector<uncaptured_write> uncaptured;
    std::map<std::string, table_ptr> tables;  // resolved targets, by "schema\0name"
};

namespace {

// Split points: a COMMIT or PREPARE TRANSACTION in a message of several
// statements goes alone, so its changes can be made durable before it runs.
std::vector<std::pair<std::size_t, std::size_t>> split_parts(const analysis& a) {
    std::vector<std::pair<std::size_t, std::size_t>> parts;
    std::size_t n = a.statements.size(), b = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (is_commit_like(a.statements[i].kind) && n > 1) {
            if (i > b) parts.emplace_back(b, i);
            parts.emplace_back(i, i + 1);
            b = i + 1;
        }
    }
    if (b < n || parts.empty()) parts.emplace_back(b, n);
    return parts;
}

}  // namespace

void session_capture::state::send_query(byte_buffer& out, std::string text, std::shared_ptr<request> r) {
    protocol::build_query(out, text);
    pending.push_back(std::move(r));
}

std::vector<uncaptured_write> session_capture::state::find_uncaptured_now(const stats_snapshot& now) const {
    std::vector<uncaptured_write> out = flags;
    for (auto& u : find_uncaptured(base, now, expected, eng->filter(), truncated)) out.push_back(std::move(u));
    return out;
}

verdict session_capture::state::on_query(const protocol::frame& f, byte_buffer& out) {
    if (!op) {
        protocol::query_msg q;
        if (protocol::decode(f.body, q)) return verdict::forward;
        std::string_view sql = q.sql;
        // Plain reads need nothing but their place in the queue of answers.
        if (certainly_read_only(sql) && !may_call_functions(sql)) {
            auto r = std::make_shared<request>();
            r->slots.resize(1);
            pending.push_back(std::move(r));
            return verdict::forward;
        }
        op = std::make_unique<query_op>();
        op->sql.assign(sql);
        op->a = cache.get(sql);
    }
    query_op& o = *op;
    const analysis& a = *o.a;
    ready.reset();

    auto finish_with = [&](std::string text, std::shared_ptr<request> r) {
        send_query(out, std::move(text), std::move(r));
        op.reset();
        return verdict::replace;
    };
    auto refuse = [&](std::string_view sqlstate, const std::string& message, std::string_view hint = {}) {
        auto r = std::make_shared<request>();
        r->slots.resize(1);
        return finish_with(raise_sql(sqlstate, message, hint), std::move(r));
    };

    for (;;) {
        switch (o.ph) {
            case query_op::phase::start: {
                if (!a.ok || a.statements.empty()) {
                    // The server will report the syntax error; nothing runs.
                    auto r = std::make_shared<request>();
                    r->slots.resize(a.statements.size());
                    pending.push_back(std::move(r));
                    op.reset();
                    return verdict::forward;
                }
                // Everything below depends on the transaction state: let
                // every earlier answer come in first.
                if (!pending.empty()) return verdict::hold;
                bool unqualified = false;
                for (const auto& s : a.statements)
                    for (const auto& t : s.targets)
                        if (t.schema.empty()) unqualified = true;
                o.ph = unqualified && !sp_known && status != 'E' ? query_op::phase::need_search_path
                                                                 : query_op::phase::tables;
                if (o.ph == query_op::phase::need_search_path) {
                    auto r = std::make_shared<request>();
                    r->ours = true;
                    r->hold_z = true;
                    r->slots.push_back(ours(role::search_path));
                    o.req = r;
                    send_query(out, "SELECT pg_catalog.current_setting('search_path'), current_user::text", r);
                    return verdict::hold;
                }
                continue;
            }
            case query_op::phase::need_search_path:
                if (!o.req->done) return verdict::hold;
                if (!o.req->error) {
                    search_path = o.req->search_path;
                    schemas = parse_search_path(search_path, o.req->user);
                    sp_known = true;
                }
                o.req.reset();
                o.ph = query_op::phase::tables;
                continue;
            case query_op::phase::tables: {
                if (o.lookups > 0) return verdict::hold;
                if (!o.lookup_error.empty()) {
                    return refuse(state_catalog,
                                  "sqltap cannot read the publisher's catalog to capture this statement: " +
                                      o.lookup_error,
                                  "Check [publisher] admin_conninfo; the statement was not run.");
                }
                if (status == 'E') {  // it will fail on the server; nothing to capture
                    o.ph = query_op::phase::plan;
                    continue;
                }
                for (const auto& s : a.statements) {
                    bool wants_table = is_dml(s.kind) || s.kind == statement_kind::merge ||
                                       s.kind == statement_kind::truncate || s.kind == statement_kind::copy_from ||
                                       s.kind == statement_kind::explain_analyze || s.modifying_cte;
                    if (!wants_table) continue;
                    for (const auto& t : s.targets) {
                        std::string key = t.schema + '\0' + t.name;
                        if (o.tables.count(key)) continue;
                        if (auto c = eng->cached_table(ctx.database, schemas, t)) {
                            o.tables[key] = *c;
                            continue;
                        }
                        ++o.lookups;
                        o.tables[key] = nullptr;
                        eng->lookup_table(ctx.database, schemas, t,
                                          [self = shared_from_this(), key](table_ptr p, std::string error) {
                                              asio::post(self->ex, [self, key, p = std::move(p),
                                                                    error = std::move(error)] {
                                                  if (!self->op) return;
                                                  --self->op->lookups;
                                                  self->op->tables[key] = p;
                                                  if (!error.empty()) self->op->lookup_error = error;
                                                  self->poke();
                                              });
                                          });
                    }
                }
                if (o.lookups > 0) return verdict::hold;
                o.ph = query_op::phase::plan;
                continue;
            }
            case query_op::phase::plan:
                o.parts = split_parts(a);
                o.part = 0;
                o.ph = query_op::phase::next_part;
                continue;
            case query_op::phase::next_part: {
                auto [b, e] = o.parts[o.part];
                bool last = o.part + 1 == o.parts.size();
                const statement& first = a.statements[b];
                // A COMMIT of a transaction that may have written: check and
                // append before it goes.
                if (e == b + 1 && is_commit_like(first.kind) && status == 'T' &&
                    (!buf.empty() || may_write || !resync.empty())) {
                    o.commit_is_client = true;
                    o.commit_stmt = b;
                    auto r = std::make_shared<request>();
                    r->ours = true;
                    r->hold_z = true;
                    r->slots.push_back(ours(role::snapshot, statement_kind::read, snap_use::check));
                    r->slots.push_back(ours(role::xid));
                    o.req = r;
                    send_query(out, std::string(stats_query()) + ";" + std::string(xid_query), r);
                    o.ph = query_op::phase::commit_snapshot;
                    return verdict::hold;
                }

                // The text of this part.
                std::size_t from = b == 0 ? 0 : a.statements[b].location;
                std::size_t to = e == a.statements.size()
                                     ? o.sql.size()
                                     : a.statements[e - 1].location + a.statements[e - 1].length;
                std::string_view part_text = std::string_view(o.sql).substr(from, to - from);

                // Tables, plans and what the part does.
                bool captures = false, hidden = false, control = false, non_transactional = false;
                std::vector<table_ptr> keep;
                auto resolve = [&](const table_name& t) -> table_ptr {
                    auto it = o.tables.find(t.schema + '\0' + t.name);
                    table_ptr p = it == o.tables.end() ? nullptr : it->second;
                    if (p && (p->kind == 'r' || p->kind == 'p') && eng->filter().captures(p->schema, p->name))
                        return p;
                    return nullptr;
                };
                std::vector<slot> slots;
                analysis sub;  // the part's statements, located within part_text
                for (std::size_t i = b; i < e; ++i) {
                    statement s = a.statements[i];
                    s.location -= from;
                    sub.statements.push_back(std::move(s));
                }
                std::string unsupported;
                const table_info* unsupported_table = nullptr;
                // In a failed transaction everything fails: nothing to rewrite.
                auto outcome = rewrite(part_text, sub, [&](const statement& s) -> const table_info* {
                    if (status == 'E') return nullptr;
                    for (const auto& t : s.targets) {
                        if (table_ptr p = resolve(t)) {
                            keep.push_back(p);
                            return p.get();
                        }
                    }
                    return nullptr;
                });
                unsupported = outcome.unsupported;
                unsupported_table = outcome.unsupported_table;

                for (std::size_t i = 0; i < sub.statements.size(); ++i) {
                    const statement& s = sub.statements[i];
                    std::string_view text = part_text.substr(s.location, s.length);
                    slot sl;
                    sl.kind = s.kind;
                    sl.name = s.name;
                    if (outcome.plans[i]) {
                        sl.plan = outcome.plans[i];
                        for (const auto& p : keep)
                            if (p.get() == sl.plan->table) sl.table = p;
                        captures = true;
                        // A write after DDL on the same table in this
                        // transaction: the catalog the plan came from is old.
                        std::string qn = sl.table->schema + "." + sl.table->name;
                        if (std::find(ddl_tables.begin(), ddl_tables.end(), qn) != ddl_tables.end()) {
                            unsupported = "a write to captured table " + qn +
                                          " after DDL on it in the same transaction";
                            unsupported_table = sl.table.get();
                        }
                    }
                    if (s.kind == statement_kind::truncate && status != 'E') {
                        for (const auto& t : s.targets)
                            if (table_ptr p = resolve(t)) sl.truncated.push_back(p);
                        if (!sl.truncated.empty()) captures = true;
                    }
                    if (s.kind == statement_kind::ddl) {
                        bool captured_target = false;
                        for (const auto& t : s.targets) {
                            if (!t.schema.empty()) {
                                captured_target |= eng->filter().captures(t.schema, t.name);
                            } else {
                                for (const auto& sc : schemas) captured_target |= eng->filter().captures(sc, t.name);
                                if (schemas.empty()) captured_target |= eng->filter().captures("public", t.name);
                            }
                        }
                        if (captured_target) {
                            sl.ddl_sql = std::string(text);
                            captures = true;
                            if (contains_ci(text, "concurrently")) non_transactional = true;
                            for (const auto& t : s.targets) {
                                if (!t.schema.empty()) ddl_tables.push_back(t.schema + "." + t.name);
                                else
                                    for (const auto& sc : schemas) ddl_tables.push_back(sc + "." + t.name);
                            }
                        }
                    }
                    if (s.kind == statement_kind::other) non_transactional = true;
                    if (is_txn_control(s.kind)) control = true;
                    if (may_write_hidden(s, text)) hidden = true;
                    if (s.kind == statement_kind::session || contains_ci(text, "search_path") ||
                        s.kind == statement_kind::rollback || s.kind == statement_kind::rollback_to)
                        sl.changes_search_path = true;
                    slots.push_back(std::move(sl));
                }

                if (!unsupported.empty()) {
                    if (eng->options().reject_uncaptured) {
                        eng->counters().rejected_uncaptured.fetch_add(1, std::memory_order_relaxed);
                        return refuse(state_uncaptured,
                                      "sqltap cannot capture " + unsupported + "; the statement was refused",
                                      "[capture] uncaptured = reject. Write the table with plain INSERT, UPDATE "
                                      "or DELETE, or set uncaptured = log to let it through and mark the table "
                                      "for resynchronisation.");
                    }
                    eng->counters().flagged_uncaptured.fetch_add(1, std::memory_order_relaxed);
                    relation rel;
                    rel.schema = unsupported_table->schema;
                    rel.table = unsupported_table->name;
                    resync.emplace_back(rel, unsupported);
                    hidden = true;
                }

                std::string text = outcome.sql;
                auto r = std::make_shared<request>();
                r->part_offset = utf8_chars(std::string_view(o.sql).substr(0, from));
                for (auto [at, n] : outcome.insertions)
                    r->insertions.emplace_back(utf8_chars(part_text.substr(0, at)), n);

                // Snapshots after BEGIN, SAVEPOINT and ROLLBACK TO: insert
                // after each such statement (in the rewritten text).
                if (status != 'E') {
                    std::vector<std::pair<std::size_t, slot>> extra;  // (statement index, snapshot slot)
                    for (std::size_t i = 0; i < sub.statements.size(); ++i) {
                        snap_use u = snap_use::none;
                        switch (sub.statements[i].kind) {
                            case statement_kind::begin: u = status == 'I' ? snap_use::base : snap_use::none; break;
                            case statement_kind::savepoint: u = snap_use::savepoint; break;
                            case statement_kind::rollback_to: u = snap_use::rebase; break;
                            default: break;
                        }
                        if (u != snap_use::none) extra.emplace_back(i, ours(role::snapshot, statement_kind::read, u));
                    }
                    // Insert back to front so earlier offsets stay valid.
                    for (auto it = extra.rbegin(); it != extra.rend(); ++it) {
                        const statement& s = sub.statements[it->first];
                        // Offset of the statement's end in the rewritten text.
                        std::size_t end_client = last_token_end(part_text, s.location, s.location + s.length);
                        std::size_t shift = 0;
                        for (auto [at, n] : outcome.insertions)
                            if (at <= end_client) shift += n;
                        std::string ins = ";" + std::string(stats_query());
                        text.insert(end_client + shift, ins);
                        r->insertions.emplace_back(utf8_chars(part_text.substr(0, end_client)), ins.size());
                        slots.insert(slots.begin() + long(it->first) + 1, it->second);
                    }
                    std::sort(r->insertions.begin(), r->insertions.end());
                }

                bool wrap = status == 'I' && (captures || hidden) && !control && !non_transactional;
                o.wrapped = wrap;
                r->wrapped = wrap;
                if (captures || hidden) may_write = true;
                if (wrap) {
                    std::string prefix = "BEGIN;" + std::string(stats_query()) + ";";
                    r->ours_prefix = prefix.size();
                    text = prefix + text + "\n;" + std::string(stats_query()) + ";" + std::string(xid_query);
                    slots.insert(slots.begin(), ours(role::snapshot, statement_kind::read, snap_use::base));
                    slots.insert(slots.begin(), ours(role::swallow, statement_kind::begin));
                    slots.push_back(ours(role::snapshot, statement_kind::read, snap_use::check));
                    slots.push_back(ours(role::xid));
                    r->hold_z = true;
                } else {
                    r->hold_z = !last;
                }
                r->slots = std::move(slots);
                o.req = r;
                send_query(out, std::move(text), r);
                if (!r->hold_z) {
                    op.reset();
                    return verdict::replace;
                }
                o.ph = query_op::phase::wait_part;
                return verdict::hold;
            }
            case query_op::phase::wait_part: {
                if (!o.req->done) return verdict::hold;
                auto done = std::move(o.req);
                bool failed = done->error || done->status == 'E';
                if (o.wrapped) {
                    o.wrapped = false;
                    if (failed) {
                        // The client's statements failed inside our block: end it.
                        auto r = std::make_shared<request>();
                        r->slots.push_back(ours(role::swallow, statement_kind::rollback));
                        return finish_with("ROLLBACK", std::move(r));
                    }
                    // Commit what the block did, as sqltapd's own COMMIT.
                    o.commit_is_client = false;
                    o.uncaptured = find_uncaptured_now(done->check);
                    o.ph = query_op::phase::commit_append;
                    continue;
                }
                // A part that failed ends the message, as it would have whole;
                // its ReadyForQuery was held, so say it now through an empty
                // query's answer? No: a failed part's Z was not held (see
                // server_message), so there is nothing more to send.
                if (failed) {
                    op.reset();
                    return verdict::replace;
                }
                ++o.part;
                o.ph = query_op::phase::next_part;
                continue;
            }
            case query_op::phase::commit_snapshot: {
                if (!o.req->done) return verdict::hold;
                auto done = std::move(o.req);
                if (done->error) {
                    // The snapshot failed: the transaction had already failed.
                    // Send the COMMIT as it is; the server says ROLLBACK.
                    o.uncaptured.clear();
                    buf.clear();
                    resync.clear();
                } else {
                    o.uncaptured = find_uncaptured_now(done->check);
                }
                o.ph = query_op::phase::commit_append;
                continue;
            }
            case query_op::phase::commit_append: {
                bool reject = !o.uncaptured.empty() && eng->options().reject_uncaptured;
                if (!o.ticket) {
                    o.ticket = std::make_shared<commit_ticket>();
                    o.ticket->appended = true;  // nothing to append unless below
                    if (reject) {
                        eng->counters().rejected_uncaptured.fetch_add(1, std::memory_order_relaxed);
                    } else {
                        if (!o.uncaptured.empty()) {
                            eng->counters().flagged_uncaptured.fetch_add(1, std::memory_order_relaxed);
                            for (const auto& u : o.uncaptured) {
                                relation rel;
                                rel.schema = u.schema;
                                rel.table = u.name;
                                resync.emplace_back(rel, "written without returning its rows: " + u.describe());
                            }
                        }
                        for (auto& [rel, why] : resync) {
                            change c;
                            c.kind = op::resync;
                            c.reason = why;
                            buf.add(rel, std::move(c));
                        }
                        resync.clear();
                        if (!buf.empty()) {
                            transaction t = buf.take();
                            t.xid = xid;
                            t.database = ctx.database;
                            t.commit_time_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                                   std::chrono::system_clock::now().time_since_epoch())
                                                   .count();
                            auto ticket = o.ticket;
                            ticket->appended = false;
                            if (o.commit_is_client && a.statements[o.commit_stmt].kind == statement_kind::prepare_transaction)
                                ticket->gid = a.statements[o.commit_stmt].name;
                            eng->log().append_in_doubt(
                                std::move(t), [self = shared_from_this(), ticket](std::error_code ec, std::uint64_t lsn) {
                                    asio::post(self->ex, [self, ticket, ec, lsn] {
                                        ticket->failed = bool(ec);
                                        ticket->error = ec;
                                        ticket->lsn = lsn;
                                        ticket->appended = true;
                                        self->settle(*ticket);
                                        self->poke();
                                    });
                                });
                        }
                    }
                }
                commit_ticket& tk = *o.ticket;
                // strict: durable before the COMMIT goes; async: the order is
                // taken (the request is queued), the disk is not waited for.
                if (eng->options().strict && !tk.appended) return verdict::hold;
                auto end_with_rollback = [&](std::string_view sqlstate, std::string message) {
                    auto r = std::make_shared<request>();
                    r->slots.push_back(ours(role::swallow, statement_kind::rollback));
                    r->error_to_client = std::move(message);
                    r->error_state = std::string(sqlstate);
                    tk.committed = false;
                    settle(tk);
                    reset_txn();
                    return finish_with("ROLLBACK", std::move(r));
                };
                if (tk.failed) {
                    eng->counters().log_failures.fetch_add(1, std::memory_order_relaxed);
                    return end_with_rollback(state_log_failed,
                                             "sqltap could not write the transaction to the change log (" +
                                                 tk.error.message() + "); it was rolled back and nothing was committed");
                }
                if (reject) {
                    std::string list;
                    for (const auto& u : o.uncaptured) list += (list.empty() ? "" : "; ") + u.describe();
                    return end_with_rollback(state_uncaptured,
                                             "sqltap rolled back the transaction: captured table " + list +
                                                 " was written in a way sqltapd cannot capture (by a function, "
                                                 "procedure, DO block, trigger, rule or cascade)");
                }
                // Send the COMMIT: sqltapd's own, or the client's statement.
                auto r = std::make_shared<request>();
                r->ticket = o.ticket;
                bool last = o.part + 1 == o.parts.size();
                r->hold_z = !last;
                std::string text;
                if (o.commit_is_client) {
                    const statement& s = a.statements[o.commit_stmt];
                    slot sl;
                    sl.kind = s.kind;
                    sl.name = s.name;
                    sl.resolves_commit = true;
                    r->slots.push_back(std::move(sl));
                    std::size_t from = o.commit_stmt == 0 ? 0 : s.location;
                    std::size_t to = o.commit_stmt + 1 == a.statements.size() ? o.sql.size() : s.location + s.length;
                    text = o.sql.substr(from, to - from);
                    r->part_offset = utf8_chars(std::string_view(o.sql).substr(0, from));
                } else {
                    slot sl = ours(role::swallow, statement_kind::commit);
                    sl.resolves_commit = true;
                    r->slots.push_back(std::move(sl));
                    text = "COMMIT";
                }
                o.ticket.reset();
                o.req = r;
                send_query(out, std::move(text), r);
                if (last) {
                    op.reset();
                    return verdict::replace;
                }
                o.ph = query_op::phase::wait_part;
                return verdict::hold;
            }
            case query_op::phase::finished: op.reset(); return verdict::replace;
        }
    }
}

// ---------------------------------------------------------------------------

verdict session_capture::state::client_message(const protocol::frame& f, byte_buffer& out) {
    switch (f.tag) {
        case 'Q': return on_query(f, out);
        case 'P': case 'B': case 'D': case 'E': case 'C': case 'H': case 'S': {
            // Extended protocol: one request per batch up to Sync.
            if (pending.empty() || !pending.back()->extended || pending.back()->done ||
                pending.back()->status == 'S') {
                auto r = std::make_shared<request>();
                r->extended = true;
                pending.push_back(r);
            }
            if (f.tag == 'S') pending.back()->status = 'S';  // closed: the next batch is new
            if (f.tag == 'P' || f.tag == 'E') may_write = true;
            return verdict::forward;
        }
        case 'F': {
            auto r = std::make_shared<request>();
            r->extended = true;
            r->status = 'S';
            pending.push_back(r);
            may_write = true;
            return verdict::forward;
        }
        default: return verdict::forward;
    }
}

void session_capture::state::on_snapshot(request& r, slot& s) {
    switch (s.use) {
        case snap_use::base:
            if (!have_base) {
                base = r.snap;
                have_base = true;
                expected.clear();
            }
            break;
        case snap_use::savepoint:
            if (!marks.empty() && !marks.back().snap) marks.back().snap = r.snap;
            break;
        case snap_use::rebase:
            base = r.snap;
            have_base = true;
            expected.clear();
            break;
        case snap_use::check: r.check = std::move(r.snap); break;
        case snap_use::none: break;
    }
    r.snap.clear();
}

void session_capture::state::on_command_complete(request& r, slot& s, std::string_view tag) {
    if (s.changes_search_path) sp_known = false;
    auto starts = [&](std::string_view w) { return tag.substr(0, w.size()) == w; };
    switch (s.kind) {
        case statement_kind::truncate:
            for (const auto& t : s.truncated) {
                relation rel;
                rel.schema = t->schema;
                rel.table = t->name;
                for (const auto& c : t->columns) rel.columns.push_back(c.name);
                rel.key_columns = t->key_columns;
                change c;
                c.kind = op::truncate;
                buf.add(rel, std::move(c));
                truncated.push_back(t->oid);
            }
            break;
        case statement_kind::ddl:
            if (!s.ddl_sql.empty()) {
                buf.add_ddl(s.ddl_sql, search_path);
                had_ddl = true;
                eng->invalidate(ctx.database);
            }
            break;
        case statement_kind::savepoint:
            buf.savepoint(s.name);
            marks.push_back(mark{s.name, base, expected, flags, std::nullopt});
            break;
        case statement_kind::release: {
            buf.release(s.name);
            for (auto it = marks.rbegin(); it != marks.rend(); ++it) {
                if (it->name == s.name) {
                    marks.erase(std::next(it).base(), marks.end());
                    break;
                }
            }
            break;
        }
        case statement_kind::rollback_to: {
            buf.rollback_to(s.name);
            for (auto it = marks.rbegin(); it != marks.rend(); ++it) {
                if (it->name != s.name) continue;
                marks.erase(it.base(), marks.end());  // later savepoints are gone; this one stays
                mark& m = marks.back();
                flags = m.flags;
                // The segment before the savepoint stays: judge it now.
                if (m.snap)
                    for (auto& u : find_uncaptured(m.base, *m.snap, m.expected, eng->filter(), truncated))
                        flags.push_back(std::move(u));
                else
                    flags.push_back(uncaptured_write{});  // no table to name: see describe()
                break;
            }
            break;
        }
        case statement_kind::rollback:
            if (starts("ROLLBACK")) reset_txn();
            break;
        case statement_kind::commit:
        case statement_kind::prepare_transaction:
            if (s.resolves_commit && r.ticket) {
                r.ticket->committed = starts("COMMIT") || starts("PREPARE TRANSACTION");
                settle(*r.ticket);
            }
            reset_txn();
            break;
        case statement_kind::commit_prepared:
            eng->finish_prepared(ctx.database, s.name, true);
            break;
        case statement_kind::rollback_prepared:
            eng->finish_prepared(ctx.database, s.name, false);
            break;
        default: break;
    }
}

void session_capture::state::on_ready(request& r) {
    if (r.status == 'I') {
        // A COMMIT whose CommandComplete never came (an error instead).
        if (r.ticket && !r.ticket->committed) {
            r.ticket->committed = false;
            settle(*r.ticket);
        }
        if (!buf.empty() && !r.error && !r.extended) {
            // Rows committed by a transaction sqltapd did not end itself
            // (it could not wrap it): keep them, after the fact.
            transaction t = buf.take();
            t.xid = xid.empty() ? "0" : xid;
            t.database = ctx.database;
            eng->log().append_committed(std::move(t), [](std::error_code, std::uint64_t) {});
            eng->counters().transactions.fetch_add(1, std::memory_order_relaxed);
        }
        reset_txn();
    }
}

std::shared_ptr<request> session_capture::state::finish_request(const protocol::frame& f) {
    protocol::ready_for_query_msg z;
    if (!protocol::decode(f.body, z)) status = z.status;
    auto r = std::move(pending.front());
    pending.pop_front();
    r->status = status;
    r->done = true;
    on_ready(*r);
    poke();
    return r;
}

bool session_capture::state::fix_error_position(const request& r, const protocol::frame& f, byte_buffer& out) {
    if (r.ours_prefix == 0 && r.part_offset == 0 && r.insertions.empty()) return false;
    protocol::field_msg m;
    if (protocol::decode(f.body, m)) return false;
    std::string_view pos = m.get('P');
    if (pos.empty()) return false;
    long c = std::atol(std::string(pos).c_str()) - 1 - long(r.ours_prefix);  // 0-based, in the part
    if (c < 0) return false;  // in sqltapd's own text
    for (auto [at, n] : r.insertions) {
        if (c <= long(at)) break;
        if (c < long(at + n)) {
            c = long(at);
            break;
        }
        c -= long(n);
    }
    std::string fixed = std::to_string(c + long(r.part_offset) + 1);
    std::vector<protocol::field_msg::field> fields = m.fields;
    for (auto& fl : fields)
        if (fl.code == 'P') fl.value = fixed;
    protocol::build_field_message(out, f.tag, fields);
    return true;
}

verdict session_capture::state::server_message(const protocol::frame& f, byte_buffer& out) {
    char tag = f.tag;
    if (tag == 'A' || tag == 'S') return verdict::forward;  // belong to no query
    if (pending.empty()) return verdict::forward;
    request& r = *pending.front();

    if (r.extended) {
        if (tag == 'Z') finish_request(f);
        return verdict::forward;
    }

    slot* s = r.cur < r.slots.size() ? &r.slots[r.cur] : nullptr;
    switch (tag) {
        case 'T': {
            if (!s || s->r == role::client) {
                if (s && s->plan) {
                    result_filter rf(*s->plan);
                    if (rf.on_row_description(f.body, out)) return verdict::forward;  // not ours after all
                    return verdict::replace;
                }
                return verdict::forward;
            }
            return verdict::replace;
        }
        case 'D': {
            if (!s) return verdict::forward;
            if (s->r == role::client) {
                if (!s->plan) return verdict::forward;
                result_filter rf(*s->plan);
                captured_row row;
                if (rf.on_data_row(f.body, row, out)) {
                    capture_failed = true;
                    capture_failure = "a result row of a captured write could not be read";
                    return verdict::forward;
                }
                if (xid.empty()) xid = row.xid;
                const table_info& t = *s->plan->table;
                auto& e = expected[t.root_oid ? t.root_oid : t.oid];
                change c = rf.to_change(std::move(row), 0);
                if (c.kind == op::insert) ++e.inserted;
                else if (c.kind == op::update) ++e.updated;
                else ++e.deleted;
                buf.add(rf.log_relation(), std::move(c));
                return verdict::replace;
            }
            if (s->r == role::snapshot) {
                protocol::data_row_msg d;
                if (!protocol::decode(f.body, d)) {
                    std::vector<std::optional<std::string>> vals;
                    for (const auto& v : d.columns)
                        vals.push_back(v ? std::optional<std::string>(std::string(protocol::as_text(*v))) : std::nullopt);
                    add_stats_row(r.snap, vals);
                }
            } else if (s->r == role::xid) {
                protocol::data_row_msg d;
                if (!protocol::decode(f.body, d) && d.columns.size() == 1 && d.columns[0] && xid.empty())
                    xid = std::string(protocol::as_text(*d.columns[0]));
            } else if (s->r == role::search_path) {
                protocol::data_row_msg d;
                if (!protocol::decode(f.body, d) && d.columns.size() == 2 && d.columns[0] && d.columns[1]) {
                    r.search_path = std::string(protocol::as_text(*d.columns[0]));
                    r.user = std::string(protocol::as_text(*d.columns[1]));
                }
            }
            return verdict::replace;
        }
        case 'C': {
            protocol::command_complete_msg cc;
            std::string_view ctag;
            if (!protocol::decode(f.body, cc)) ctag = cc.tag;
            if (!s) return verdict::forward;
            slot& sl = *s;
            ++r.cur;
            if (sl.r == role::snapshot) {
                on_snapshot(r, sl);
                return verdict::replace;
            }
            if (sl.r == role::search_path || sl.r == role::xid) return verdict::replace;
            on_command_complete(r, sl, ctag);
            if (sl.r == role::swallow) {
                if (!r.error_to_client.empty()) {
                    protocol::build_error_response(out, {"ERROR", r.error_state, r.error_to_client});
                    r.error_to_client.clear();
                }
                return verdict::replace;
            }
            return verdict::forward;
        }
        case 'E': {
            r.error = true;
            if (s && s->resolves_commit && r.ticket && !r.ticket->committed) {
                // A COMMIT that failed (a deferred constraint, say): aborted.
                r.ticket->committed = false;
                settle(*r.ticket);
            }
            if (r.ours || (s && s->r != role::client)) {
                if (r.ours) {
                    protocol::field_msg m;
                    if (!protocol::decode(f.body, m)) r.error_message = std::string(m.get('M'));
                    return verdict::replace;
                }
                // Our statement inside the client's message failed: the
                // client must still hear that something failed.
                return verdict::forward;
            }
            return fix_error_position(r, f, out) ? verdict::replace : verdict::forward;
        }
        case 'N':
            if (r.ours || (s && s->r != role::client)) return verdict::replace;
            return verdict::forward;
        case 'I':
            if (s) ++r.cur;
            return verdict::forward;
        case 'Z': {
            auto keep = finish_request(f);
            // A part that failed ends the whole message: its ReadyForQuery is
            // the client's, unless sqltapd must still end its own block.
            bool failed = keep->error || status == 'E';
            bool swallow = keep->ours || (keep->hold_z && (keep->wrapped || !failed));
            return swallow ? verdict::replace : verdict::forward;
        }
        default: return verdict::forward;  // COPY traffic, ParameterDescription, …
    }
}

// ---------------------------------------------------------------------------

session_capture::session_capture(std::shared_ptr<engine> e, asio::any_io_executor ex, session_context ctx)
    : st_(std::make_shared<state>()) {
    st_->eng = std::move(e);
    st_->ex = std::move(ex);
    st_->ctx = std::move(ctx);
}

session_capture::~session_capture() {
    // A COMMIT whose answer never came leaves its entry in doubt; the
    // engine's worker finds it there and asks the publisher how it ended.
    st_->op.reset();
}

bool session_capture::needs_whole(sender from, char tag) const noexcept {
    if (from == sender::frontend) return tag == 'Q';
    if (tag != 'D') return true;
    if (st_->pending.empty()) return false;
    const request& r = *st_->pending.front();
    if (r.extended || r.cur >= r.slots.size()) return false;
    const slot& s = r.slots[r.cur];
    return s.r != role::client || s.plan.has_value();
}

verdict session_capture::on_message(sender from, const protocol::frame& f, byte_buffer& out) {
    return from == sender::frontend ? st_->client_message(f, out) : st_->server_message(f, out);
}

awaitable<void> session_capture::wait_ready() { co_await st_->ready.wait(); }

void session_capture::abort_wait() { st_->ready.set(); }

void session_capture::on_streamed(sender from, const protocol::frame_header& h) {
    // Only data rows of plain statements and large client messages other than
    // Query stream through; they change nothing capture tracks.
    (void)from;
    (void)h;
}

}  // namespace sqltap::capture
