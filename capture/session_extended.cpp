// The extended-query protocol (Parse/Bind/Describe/Execute/Close/Sync).
//
// Parse: the statement is analysed and, when it writes a captured table,
// rewritten (with catalog lookups while the Parse is held) before it goes; its
// plan is kept under the statement's name and follows Bind to the portal.
// Describe answers for a rewritten statement lose the added columns (NoData
// when the client asked for no rows); Execute's rows lose them too and become
// changes. The added columns are in their own types (column_form::native) and
// Bind asks text for them: a single binary format code becomes one per
// column. With a "*" in the client's RETURNING (its column count unknown) they
// are cast to text instead, and a single format code is left as it is.
//
// Transactions: each Execute that may write is decided once the batches
// before its own have answered, so the transaction state is known:
//   - outside a transaction block, sqltapd opens its own (BEGIN + write-count
//     snapshot, injected before the Execute); at the client's Sync it takes
//     the closing snapshot and the xid, appends the entry (durably first in
//     strict mode), sends COMMIT, then the client's Sync: the client sees
//     what it would have seen without sqltapd, ReadyForQuery 'I' included;
//   - a client's COMMIT (or PREPARE TRANSACTION) Execute is held while the
//     snapshot and xid are taken and the entry appended, then goes;
//   - a refused statement or commit becomes an error raised on the server in
//     its place, so the server's and the client's view of the batch agree.
// sqltapd's own statements run as a named statement and portal (sqltap_s,
// sqltap_p) inside the client's batch; their answers are swallowed. After an
// error the server skips the batch up to Sync, and so does the bookkeeping.
#include <algorithm>

#include "capture/session_state.hpp"

namespace sqltap::capture {

using namespace detail;

namespace {

thread_local analysis_cache cache;

constexpr std::string_view our_statement = "sqltap_s";
constexpr std::string_view our_portal = "sqltap_p";

// Prepared statements sqltapd did not see prepared (SQL PREPARE, say): they may
// write anything.
ext_plan_ptr unknown_plan() {
    static const ext_plan_ptr p = [] {
        auto e = std::make_shared<ext_plan>();
        e->sl.kind = statement_kind::execute_sql;
        e->hidden = true;
        e->unproved = true;
        return e;
    }();
    return p;
}

ext_plan_ptr read_only_plan() {
    static const ext_plan_ptr p = [] {
        auto e = std::make_shared<ext_plan>();
        e->read_only = true;
        return e;
    }();
    return p;
}

bool plan_captures(const ext_plan& p) { return p.sl.plan || !p.sl.truncated.empty() || !p.sl.ddl_sql.empty(); }
// Whether the plan depends on the catalog it was made with: what it captures,
// or that the tables it writes have no hidden writers (write_check = auto).
bool plan_uses_catalog(const ext_plan& p) { return plan_captures(p) || (is_dml(p.sl.kind) && !p.unproved); }

}  // namespace

struct session_capture::state::ext_op {
    enum class phase {
        start,
        search_path,   // waiting for the session's search_path
        tables,        // waiting for catalog lookups
        wait_earlier,  // waiting until the batches before this one have answered
        decide,        // Execute: act on the transaction state
        commit_check,  // waiting for the closing snapshot and xid
        commit_append, // waiting for the log
        rollback_wait, // sqltapd's Sync went; waiting for its ReadyForQuery
    };
    char tag = 0;
    phase ph = phase::start;
    // Parse (or a Bind whose statement is planned again)
    std::string name, sql;
    std::vector<std::uint32_t> types;
    std::shared_ptr<const analysis> a;
    std::shared_ptr<table_lookups> lookups = std::make_shared<table_lookups>();
    // What is waited for: answers of `req` up to `seq`, or all of it.
    std::shared_ptr<request> req;
    std::uint64_t seq = 0;
    // Commit
    std::optional<slot> client_commit;  // the client's COMMIT Execute (else sqltapd's block at Sync)
    std::optional<commit_decision> commit;
    std::string refusal_state, refusal;

    bool answered() const { return !req || req->done || req->answered >= seq; }
};

namespace {

request* open_batch(std::deque<std::shared_ptr<request>>& pending) {
    if (!pending.empty() && pending.back()->extended && !pending.back()->synced) return pending.back().get();
    return nullptr;
}

std::shared_ptr<request> batch(std::deque<std::shared_ptr<request>>& pending) {
    if (open_batch(pending)) return pending.back();
    auto r = std::make_shared<request>();
    r->extended = true;
    pending.push_back(r);
    return r;
}

// Expects the answers to one message; after an error the server skips it.
std::uint64_t expect(request& r, char msg, slot sl = {}, position_map pm = {}) {
    if (r.error && msg != 'S') return r.next_seq - 1;
    ext_item& it = r.items.emplace_back();
    it.msg = msg;
    it.sl = std::move(sl);
    it.positions = std::move(pm);
    it.seq = r.next_seq++;
    return it.seq;
}

// One statement of sqltapd's inside the batch, on its own named statement and
// portal. Returns the sequence number of its Execute.
// Runs a prepared statement on sqltapd's portal; returns the sequence number
// of its Execute.
std::uint64_t execute_prepared(byte_buffer& out, request& r, std::string_view statement, slot sl) {
    protocol::bind_msg b;
    b.portal = our_portal;
    b.statement = statement;
    protocol::build_bind(out, b);
    expect(r, 'B', ours(role::swallow));
    protocol::build_execute(out, our_portal, 0);
    std::uint64_t seq = expect(r, 'E', std::move(sl));
    protocol::build_close(out, 'P', our_portal);
    expect(r, 'C', ours(role::swallow));
    return seq;
}

std::uint64_t inject(byte_buffer& out, request& r, std::string_view sql, slot sl) {
    protocol::build_close(out, 'S', our_statement);
    expect(r, 'C', ours(role::swallow));
    protocol::build_parse(out, our_statement, sql);
    expect(r, 'P', ours(role::swallow));
    return execute_prepared(out, r, our_statement, std::move(sl));
}

void flush(byte_buffer& out) { protocol::build_empty(out, protocol::frontend::flush); }

}  // namespace

// A write-count snapshot inside the batch (the PREPARE of sqltapd's snapshot
// statement first, when it is due). Returns the sequence number of its Execute.
std::uint64_t session_capture::state::inject_snapshot(byte_buffer& out, request& r, snap_use u) {
    auto snap = snapshot(u);
    std::uint64_t seq = 0;
    for (std::size_t i = 0; i < snap.slots.size(); ++i) {
        if (snap.slots[i].prepares_stats) r.stats_prepare_pending = true;
        if (i + 1 == snap.slots.size() && !snap.executes.empty()) {
            // SQL-level prepared statements are the protocol's too: bind it
            // directly (no Parse of "EXECUTE …" each time).
            seq = execute_prepared(out, r, snap.executes, std::move(snap.slots[i]));
        } else {
            seq = inject(out, r, snap.statements[i], std::move(snap.slots[i]));
        }
    }
    return seq;
}

// The write-count snapshot and xid a commit needs, flushed; the operation
// waits for their answers.
void session_capture::state::start_commit_check(byte_buffer& out, ext_op& o, const std::shared_ptr<request>& r) {
    o.req = r;
    o.ph = ext_op::phase::commit_check;
    if (lazy_check() && !checking) {
        // Without counts to take (write_check = auto, nothing needed them),
        // the commit waits only for the rows it appends: the answers of the
        // batch's Executes so far (earlier batches have all answered). Its
        // own Bind and Describe, in the same batch, bring none; should one
        // fail, the server skips the COMMIT and so does the bookkeeping,
        // which settles the entry as not committed (extended_answer).
        o.seq = 0;
        for (const auto& x : r->items)
            if (x.msg != 'B' && x.msg != 'D' && x.msg != 'P' && x.msg != 'C') o.seq = x.seq;
        if (o.seq > r->answered) flush(out);
        return;
    }
    o.seq = inject_snapshot(out, *r, snap_use::check);
    flush(out);
}

verdict session_capture::state::on_extended(const protocol::frame& f, byte_buffer& out) {
    if (!xop) {
        std::shared_ptr<const analysis> parsed;  // a Parse's analysis, for the operation
        switch (f.tag) {
            case 'D': {
                protocol::describe_msg m;
                if (protocol::decode(f.body, m)) return verdict::forward;
                auto& map = m.kind == 'S' ? statements : portals;
                auto it = map.find(std::string(m.name));
                slot sl;
                if (it != map.end() && it->second->sl.plan) {
                    sl.plan = it->second->sl.plan;
                    sl.table = it->second->sl.table;
                }
                expect(*batch(pending), 'D', std::move(sl));
                return verdict::forward;
            }
            case 'C': {
                protocol::close_msg m;
                if (protocol::decode(f.body, m)) return verdict::forward;
                (m.kind == 'S' ? statements : portals).erase(std::string(m.name));
                expect(*batch(pending), 'C');
                return verdict::forward;
            }
            case 'H': return verdict::forward;
            case 'F': {
                // A function call by OID: its own request, like a Query. It
                // may write; in a transaction block the COMMIT's check sees it,
                // so the counts start before it if nothing took them yet.
                if (lazy_check() && !checking) {
                    if (!pending.empty()) return verdict::hold;  // the state it is sent in
                    if (status == 'T') {
                        auto base = std::make_shared<request>();
                        base->ours = true;
                        auto snap = snapshot(snap_use::base);
                        base->slots = std::move(snap.slots);
                        send_query(out, snap.joined(), base);
                        checking = true;
                        return verdict::hold;  // offered again once the base is in
                    }
                }
                auto r = std::make_shared<request>();
                r->extended = true;
                r->synced = true;
                expect(*r, 'F');
                pending.push_back(std::move(r));
                may_write = true;
                return verdict::forward;
            }
            case 'S': {
                request* cur = open_batch(pending);
                if (!cur || cur->txn != 'W') {
                    auto r = batch(pending);
                    expect(*r, 'S');
                    r->synced = true;
                    return verdict::forward;
                }
                break;  // sqltapd's block ends here: an operation
            }
            case 'P': {
                protocol::parse_msg m;
                if (protocol::decode(f.body, m)) return verdict::forward;
                if (!(certainly_read_only(m.sql) && !may_call_functions(m.sql))) parsed = cache.get(m.sql);
                if (!parsed || !parsed->ok || parsed->statements.size() != 1) {
                    // Reads, and what the server will refuse to prepare.
                    statements[std::string(m.statement)] = read_only_plan();
                    expect(*batch(pending), 'P');
                    return verdict::forward;
                }
                break;
            }
            case 'B': {
                protocol::bind_msg m;
                if (protocol::decode(f.body, m)) return verdict::forward;
                auto it = statements.find(std::string(m.statement));
                ext_plan_ptr plan = it == statements.end() ? unknown_plan() : it->second;
                if (plan_uses_catalog(*plan) && plan->generation != eng->generation()) break;  // plan it again
                portals[std::string(m.portal)] = plan;
                auto r = batch(pending);
                if (plan->sl.plan) {
                    bool per_column = m.result_formats.size() > 1;
                    if (!per_column && plan->native_columns && m.result_formats.size() == 1 &&
                        m.result_formats[0] != 0) {
                        // One binary format for all: the client's columns keep
                        // it, the added ones (in their own types) must not.
                        m.result_formats.assign(*plan->native_columns, m.result_formats[0]);
                        per_column = true;
                    }
                    if (per_column) {
                        // Per-column formats: the added columns are text.
                        m.result_formats.insert(m.result_formats.end(), plan->sl.plan->added, 0);
                        protocol::build_bind(out, m);
                        expect(*r, 'B');
                        return verdict::replace;
                    }
                }
                expect(*r, 'B');
                return verdict::forward;
            }
            case 'E': {
                protocol::execute_msg m;
                if (protocol::decode(f.body, m)) return verdict::forward;
                auto it = portals.find(std::string(m.portal));
                if (it != portals.end() && it->second->read_only) {
                    expect(*batch(pending), 'E');
                    return verdict::forward;
                }
                break;
            }
            default: return verdict::forward;
        }
        xop = std::make_shared<ext_op>();
        xop->tag = f.tag;
        xop->a = std::move(parsed);
    }
    ext_op& o = *xop;
    ready.reset();

    switch (o.tag) {
        case 'P':
        case 'B': {
            // Plan a Parse (or a Bind whose statement's catalog changed).
            if (o.ph == ext_op::phase::start) {
                if (o.tag == 'P') {
                    protocol::parse_msg m;
                    protocol::decode(f.body, m);
                    o.name.assign(m.statement);
                    o.sql.assign(m.sql);
                    o.types = m.parameter_types;
                } else {
                    protocol::bind_msg m;
                    protocol::decode(f.body, m);
                    const ext_plan& p = *statements.at(std::string(m.statement));
                    o.name.assign(m.statement);
                    o.sql = p.sql;
                    o.types = p.parameter_types;
                }
                if (!o.a) o.a = cache.get(o.sql);
                bool unqualified = false;
                for (const auto& t : o.a->statements[0].targets)
                    if (t.schema.empty()) unqualified = true;
                if (unqualified && !sp_known && !(pending.empty() && status == 'E')) {
                    auto r = batch(pending);
                    o.req = r;
                    o.seq = inject(out, *r, search_path_query, ours(role::search_path));
                    flush(out);
                }
                o.ph = ext_op::phase::search_path;
            }
            if (o.ph == ext_op::phase::search_path) {
                if (!o.answered()) return verdict::hold;  // (what was injected goes now)
                o.req.reset();
                lookup_targets(*o.a, o.lookups);
                o.ph = ext_op::phase::tables;
            }
            if (o.lookups->pending > 0) return verdict::hold;

            const statement& s = o.a->statements[0];
            auto plan = std::make_shared<ext_plan>();
            plan->sql = o.sql;
            plan->parameter_types = o.types;
            plan->generation = eng->generation();
            std::string text = o.sql;
            if (!o.lookups->error.empty()) {
                plan->sl.kind = s.kind;
                plan->refusal_state = std::string(state_catalog);
                plan->refusal = "sqltap cannot read the publisher's catalog to capture this statement: " +
                                o.lookups->error;
                plan->refusal_hint = "Check [publisher] admin_conninfo; the statement was not run.";
            } else {
                std::vector<table_ptr> keep;
                // The added columns as they are, not each through format():
                // Bind asks text for them, which needs the number of the
                // client's own columns (unknown with a "*" in its RETURNING).
                const bool native = s.returning_columns != statement::npos;
                auto outcome = rewrite_captured(o.sql, *o.a, *o.lookups, keep,
                                                native ? column_form::native : column_form::text);
                std::string unsupported = outcome.unsupported;
                const table_info* unsupported_table = outcome.unsupported_table;
                part_traits traits;
                // DDL targets count when the statement runs (Execute), not here.
                plan->sl = make_slot(s, std::string_view(o.sql).substr(s.location, s.length), outcome.plans[0], keep,
                                     *o.lookups, traits, unsupported, unsupported_table, false, plan->ddl_targets);
                plan->hidden = traits.hidden;
                plan->unproved = traits.unproved;
                plan->non_transactional = traits.non_transactional;
                if (!unsupported.empty()) {
                    if (eng->options().reject_uncaptured) {
                        plan->refusal_state = std::string(state_uncaptured);
                        plan->refusal = unsupported_message(unsupported);
                        plan->refusal_hint = std::string(uncaptured_hint);
                    } else {
                        for (const auto& p : keep)
                            if (p.get() == unsupported_table) plan->flag_table = p;
                        plan->flag_reason = unsupported;
                        plan->hidden = true;
                        plan->unproved = true;  // its resync record needs the xid the counts bring
                    }
                }
                text = outcome.sql;
                if (native && plan->sl.plan) plan->native_columns = s.returning_columns;
                for (auto [at, n] : outcome.insertions)
                    plan->positions.insertions.emplace_back(utf8_chars(std::string_view(o.sql).substr(0, at)), n);
            }
            auto r = batch(pending);
            if (o.tag == 'P') {
                protocol::build_parse(out, o.name, text, o.types);
                expect(*r, 'P', slot{}, plan->positions);
                statements[o.name] = std::move(plan);
                xop.reset();
                return verdict::replace;
            }
            // Bind: prepare the statement again under its name, then bind.
            protocol::build_close(out, 'S', o.name);
            expect(*r, 'C', ours(role::swallow));
            protocol::build_parse(out, o.name, text, o.types);
            expect(*r, 'P', ours(role::swallow));
            statements[o.name] = std::move(plan);
            xop.reset();
            // The Bind, with the fresh plan, after what was added.
            if (on_extended(f, out) == verdict::forward) out.insert(out.end(), f.raw.begin(), f.raw.end());
            return verdict::replace;
        }

        case 'E': {
            protocol::execute_msg m;
            protocol::decode(f.body, m);
            auto it = portals.find(std::string(m.portal));
            ext_plan_ptr plan = it == portals.end() ? unknown_plan() : it->second;
            // The transaction state is known once the batches before this
            // one have answered.
            if (o.ph == ext_op::phase::start) o.ph = ext_op::phase::wait_earlier;
            if (o.ph == ext_op::phase::wait_earlier) {
                if (pending.size() > (open_batch(pending) ? 1u : 0u)) return verdict::hold;
                o.ph = ext_op::phase::decide;
            }
            auto r = batch(pending);
            if (r->txn == 0) r->txn = status;  // I, T, or E (a failed block)
            slot sl = plan->sl;
            sl.r = role::client;

            if (o.ph == ext_op::phase::decide) {
                if (r->error) {  // the server skips it
                    xop.reset();
                    return verdict::forward;
                }
                auto refuse = [&](std::string_view state, const std::string& message, std::string_view hint) {
                    // The error, raised in the Execute's place, fails the batch as
                    // the statement would have.
                    inject(out, *r, raise_sql(state, message, hint), ours(role::swallow));
                    xop.reset();
                    return verdict::replace;
                };
                if (!plan->refusal.empty() && r->txn != 'E') {
                    if (plan->refusal_state == state_uncaptured)
                        eng->counters().rejected_uncaptured.fetch_add(1, std::memory_order_relaxed);
                    return refuse(plan->refusal_state, plan->refusal, plan->refusal_hint);
                }
                // The client may drop sqltapd's snapshot statement: the next
                // snapshot (after this Execute) prepares it again.
                if (sl.drops_prepared) forget_prepared();
                bool in_block = r->txn == 'T' || r->txn == 'W';
                if (r->txn == 'I') checking = false;  // a transaction starts with it, if any
                auto after = [&](snap_use u) {  // a snapshot right after the statement
                    if (in_block || (sl.kind == statement_kind::begin && r->txn == 'I'))
                        inject_snapshot(out, *r, u);
                };
                switch (sl.kind) {
                    case statement_kind::begin:
                        protocol::build_execute(out, m.portal, m.max_rows);
                        if (r->txn == 'W') sl.swallow_notices = true;  // "already a transaction in progress"
                        expect(*r, 'E', std::move(sl));
                        // write_check = auto: the counts wait for a statement that needs them.
                        if (r->txn == 'I' && !lazy_check()) {
                            after(snap_use::base);
                            checking = true;
                        }
                        if (r->txn != 'E') r->txn = 'T';
                        xop.reset();
                        return verdict::replace;
                    case statement_kind::savepoint:
                    case statement_kind::rollback_to:
                        protocol::build_execute(out, m.portal, m.max_rows);
                        sl.checked = checking || !lazy_check();
                        expect(*r, 'E', sl);
                        if (sl.checked) after(sl.kind == statement_kind::savepoint ? snap_use::savepoint : snap_use::rebase);
                        xop.reset();
                        return verdict::replace;
                    case statement_kind::rollback:
                        expect(*r, 'E', std::move(sl));
                        r->txn = 'I';
                        xop.reset();
                        return verdict::forward;
                    case statement_kind::commit:
                    case statement_kind::prepare_transaction:
                        if (in_block && (!buf.empty() || may_write || !resync.empty())) {
                            o.client_commit = sl;
                            start_commit_check(out, o, r);
                            break;
                        }
                        expect(*r, 'E', std::move(sl));
                        r->txn = 'I';
                        xop.reset();
                        return verdict::forward;
                    default: break;
                }
                if (o.ph == ext_op::phase::commit_check) break;
                // Anything else that may write.
                bool writes = plan_captures(*plan) || plan->hidden;
                if (writes && r->txn != 'E') {
                    may_write = true;
                    for (const auto& t : plan->ddl_targets) ddl_tables.push_back(t);
                    if (sl.plan) {
                        std::string qn = sl.table->schema + "." + sl.table->name;
                        if (std::find(ddl_tables.begin(), ddl_tables.end(), qn) != ddl_tables.end() &&
                            plan->ddl_targets.empty()) {
                            std::string why = "a write to captured table " + qn + " after DDL on it in the same transaction";
                            if (eng->options().reject_uncaptured) {
                                eng->counters().rejected_uncaptured.fetch_add(1, std::memory_order_relaxed);
                                return refuse(state_uncaptured, unsupported_message(why), uncaptured_hint);
                            }
                            flag_unsupported(*sl.table, why);
                        }
                    }
                    if (plan->flag_table) flag_unsupported(*plan->flag_table, plan->flag_reason);
                    if (r->txn == 'I' && !plan->non_transactional) {
                        inject(out, *r, "BEGIN", ours(role::swallow, statement_kind::begin));
                        r->txn = 'W';
                    }
                }
                // The write counts from here on, if nothing took them yet
                // (write_check = auto: only for what needs them).
                if ((r->txn == 'T' || r->txn == 'W') && !checking && (plan->unproved || !lazy_check())) {
                    inject_snapshot(out, *r, snap_use::base);
                    checking = true;
                }
                // Without its own RETURNING the statement ran to completion
                // whatever the row limit; with sqltapd's it must still.
                std::int32_t max_rows = m.max_rows;
                if (sl.plan && !sl.plan->client_returning) max_rows = 0;
                protocol::build_execute(out, m.portal, max_rows);
                expect(*r, 'E', std::move(sl));
                xop.reset();
                return verdict::replace;
            }
            break;  // commit phases below
        }

        case 'S': {
            if (o.ph == ext_op::phase::start) {
                // sqltapd's block: the closing snapshot and the xid.
                start_commit_check(out, o, batch(pending));
            }
            break;
        }
    }

    // ---- committing: a client's COMMIT Execute, or the Sync of sqltapd's block ----
    request& r = *o.req;
    auto end_batch_with_rollback = [&]() {
        // Our Sync ends the failed block ('E'); then ROLLBACK, whose
        // ReadyForQuery ('I') answers the client's Sync.
        expect(r, 'S');
        r.synced = true;
        r.swallow_z = true;
        protocol::build_empty(out, protocol::frontend::sync);
        o.ph = ext_op::phase::rollback_wait;
        return verdict::hold;
    };
    if (o.ph == ext_op::phase::commit_check) {
        if (!o.answered()) return verdict::hold;
        if (r.error) {
            // The batch failed before the commit: nothing commits.
            buf.clear();
            resync.clear();
            if (o.client_commit) {  // the server skips the COMMIT; the client's Sync ends the block
                expect(r, 'E');
                r.txn = 'I';
                xop.reset();
                return verdict::forward;
            }
            return end_batch_with_rollback();
        }
        bool prepare = o.client_commit && o.client_commit->kind == statement_kind::prepare_transaction;
        o.commit = decide_commit(find_uncaptured_now(r.check), prepare ? o.client_commit->name : "");
        o.ph = ext_op::phase::commit_append;
    }
    if (o.ph == ext_op::phase::commit_append) {
        commit_ticket& tk = *o.commit->ticket;
        if (eng->commit_waits_for_log() && !tk.appended) return verdict::hold;
        if (auto refusal = commit_refusal(*o.commit)) {
            tk.committed = false;
            settle(tk);
            buf.clear();
            resync.clear();
            // The error fails the transaction on the server too.
            inject(out, r, raise_sql(refusal->first, refusal->second), ours(role::swallow));
            if (o.client_commit) {
                xop.reset();
                return verdict::replace;
            }
            return end_batch_with_rollback();
        }
        if (o.client_commit) {
            slot sl = std::move(*o.client_commit);
            sl.resolves_commit = true;
            sl.ticket = o.commit->ticket;
            expect(r, 'E', std::move(sl));
            r.txn = 'I';
            xop.reset();
            return verdict::forward;
        }
        slot sl = ours(role::swallow, statement_kind::commit);
        sl.resolves_commit = true;
        sl.ticket = o.commit->ticket;
        inject(out, r, "COMMIT", std::move(sl));
        expect(r, 'S');
        r.synced = true;
        r.txn = 'I';
        protocol::build_empty(out, protocol::frontend::sync);
        xop.reset();
        return verdict::replace;  // the client's Sync: sent just now
    }
    if (o.ph == ext_op::phase::rollback_wait) {
        if (!r.done) return verdict::hold;
        auto rb = std::make_shared<request>();
        rb->slots.push_back(ours(role::swallow, statement_kind::rollback));
        send_query(out, "ROLLBACK", rb);
        xop.reset();
        return verdict::replace;  // the client's Sync: answered by the ROLLBACK's ReadyForQuery
    }
    return verdict::hold;
}

}  // namespace sqltap::capture
