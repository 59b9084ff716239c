// The simple-query protocol: one client Query message, held until it has been
// sent whole (possibly in parts, with sqltapd's own statements around it).
#include <algorithm>
#include <cstring>

#include "capture/session_state.hpp"

namespace sqltap::capture {

using namespace detail;

namespace {

thread_local analysis_cache cache;

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

// Where known_writes keeps a write's pattern: by the text without its
// digits, and whether the write asks for the xid (the first of a block).
std::string known_key(std::string_view sql, bool with_xid) {
    std::string key = pattern_key(sql);
    key.push_back(with_xid ? 'x' : '-');
    return key;
}

}  // namespace

struct session_capture::state::query_op {
    enum class phase {
        start,
        need_search_path,
        tables,
        tables_in_session,  // catalog queries on the session's connection are on their way
        plan,
        next_part,
        wait_part,        // a part was sent; waiting for its ReadyForQuery
        commit_snapshot,  // a snapshot for the COMMIT is on its way
        commit_append,    // waiting for the log
        verify_append,    // the COMMIT goes with the publisher's own check: waiting for the log
        verify_wait,      // the check and the COMMIT were sent
    };
    phase ph = phase::start;
    std::string sql;
    std::shared_ptr<const analysis> a;
    std::shared_ptr<const sql_shape> shape;  // of sql, when it has one
    std::shared_ptr<table_lookups> lookups = std::make_shared<table_lookups>();
    std::vector<std::pair<std::size_t, std::size_t>> parts;  // statement ranges [b, e)
    std::size_t part = 0;
    std::shared_ptr<request> req;  // the request this operation waits for
    bool wrapped = false;
    bool commit_is_client = false;  // the COMMIT being done is the client's statement
    std::size_t commit_stmt = 0;
    std::optional<commit_decision> commit;  // the commit being prepared
    std::vector<uncaptured_write> uncaptured;
    std::string verify;  // verify_append: the EXECUTE that goes before the COMMIT
    std::uint64_t generation = 0;  // the engine's catalog generation when the message came
};

std::optional<verdict> session_capture::state::try_known_write(std::string_view sql, byte_buffer& out) {
    // As next_part would send it: in a block (no wrapping), no counts to
    // take, no DDL in the transaction (lookups on the session's connection),
    // every earlier answer in (the transaction state is known).
    if (known_writes.size() == 0 || !may_shortcut() || !pending.empty() || sql.size() > prepared_writes::max_text)
        return std::nullopt;
    std::size_t b = sql.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos || sql[b] == '\0' || !std::strchr("iIuUdDwW", sql[b]))
        return std::nullopt;  // not INSERT, UPDATE, DELETE or WITH
    known_write* k = known_writes.find(known_key(sql, xid.empty()));  // (the xid is asked for until it is known)
    // The same catalog entry: no DDL since, the same search path.
    if (!k || k->generation != eng->generation() || (k->unqualified && (!sp_known || k->schemas != schemas)))
        return std::nullopt;
    const std::string* name = writes.ready(k->key);
    if (!name) return std::nullopt;
    auto values = match_write_pattern(k->pattern, sql);
    if (!values) return std::nullopt;
    ready.reset();
    std::string text;
    text.reserve(9 + name->size() + values->size() + 2);
    text.append("EXECUTE ").append(*name);
    if (!values->empty()) text.append("(").append(*values).append(")");
    auto r = std::make_shared<request>();
    r->slots.push_back(k->sl);
    may_write = true;
    send_query(out, std::move(text), std::move(r));
    eng->counters().prepared_writes.fetch_add(1, std::memory_order_relaxed);
    eng->counters().prepared_shortcuts.fetch_add(1, std::memory_order_relaxed);
    return verdict::replace;
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
        if (auto v = try_known_write(sql, out)) return *v;
        op = std::make_shared<query_op>();
        op->generation = eng->generation();
        op->sql.assign(sql);
        op->a = cache.get(sql, &op->shape);
    }
    query_op& o = *op;
    const analysis& a = *o.a;
    ready.reset();

    auto finish_with = [&](std::string text, std::shared_ptr<request> r) {
        send_query(out, std::move(text), std::move(r));
        op.reset();
        return verdict::replace;
    };
    // Catalog lookups: over the admin connection, or, when this transaction
    // has run DDL on captured tables (created or altered tables the admin
    // connection cannot see yet), on the session's own connection.
    auto start_lookups = [&]() -> bool {  // true: a request was sent
        if (status == 'E') return false;
        if (!(status == 'T' && had_ddl)) {
            lookup_targets(a, o.lookups);
            return false;
        }
        o.lookups->in_session = true;
        auto r = std::make_shared<request>();
        r->ours = true;
        r->hold_z = true;
        std::string text;
        for (const auto& st : a.statements) {
            if (!wants_tables(st)) continue;
            for (const auto& t : st.targets) {
                std::string key = t.schema + '\0' + t.name;
                if (o.lookups->tables.count(key)) continue;
                o.lookups->tables[key] = nullptr;
                slot sl = ours(role::catalog);
                sl.name = key;
                r->slots.push_back(std::move(sl));
                text += (text.empty() ? "" : ";") + table_query(t, schemas);
            }
        }
        if (text.empty()) return false;
        o.req = r;
        send_query(out, std::move(text), r);
        o.ph = query_op::phase::tables_in_session;
        return true;
    };
    // The client's COMMIT statement: its slot's kind and name, its text and
    // where that sits in the client's message.
    auto client_commit = [&](slot& sl, request& r) {
        const statement& s = a.statements[o.commit_stmt];
        sl.kind = s.kind;
        sl.name = s.name;
        std::size_t from = o.commit_stmt == 0 ? 0 : s.location;
        std::size_t to = o.commit_stmt + 1 == a.statements.size() ? o.sql.size() : s.location + s.length;
        r.positions.part_offset = utf8_chars(std::string_view(o.sql).substr(0, from));
        return o.sql.substr(from, to - from);
    };
    // The commit's decision (made once, with o.uncaptured), and its ticket
    // once the COMMIT may go: strict, when the entry is durable; async, at
    // once (the order is taken when the request is queued), except while the
    // log is full (then as strict: refused rather than lost). Null: wait.
    auto decided = [&]() -> commit_ticket* {
        if (!o.commit) {
            std::string gid;
            if (o.commit_is_client && a.statements[o.commit_stmt].kind == statement_kind::prepare_transaction)
                gid = a.statements[o.commit_stmt].name;
            o.commit = decide_commit(std::move(o.uncaptured), std::move(gid));
        }
        commit_ticket& tk = *o.commit->ticket;
        return eng->commit_waits_for_log() && !tk.appended ? nullptr : &tk;
    };
    // ROLLBACK instead of the client's COMMIT, and the client hears the error
    // in place of its answer.
    auto roll_back = [&](commit_ticket& tk, std::string_view sqlstate, std::string message) {
        auto r = std::make_shared<request>();
        r->slots.push_back(ours(role::swallow, statement_kind::rollback));
        r->error_to_client = std::move(message);
        r->error_state = std::string(sqlstate);
        tk.committed = false;
        settle(tk);
        reset_txn();
        return finish_with("ROLLBACK", std::move(r));
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
                    send_query(out, std::string(search_path_query), r);
                    return verdict::hold;
                }
                if (start_lookups()) return verdict::hold;
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
                if (start_lookups()) return verdict::hold;
                continue;
            case query_op::phase::tables_in_session: {
                if (!o.req->done) return verdict::hold;
                auto done = std::move(o.req);
                if (done->error) o.lookups->error = done->error_message;
                for (std::size_t i = 0; i < done->slots.size(); ++i) {
                    auto it = done->catalog_rows.find(i);
                    if (it == done->catalog_rows.end()) continue;
                    if (auto t = table_from_rows(it->second)) {
                        eng->apply_rules(*t);
                        o.lookups->tables[done->slots[i].name] = std::make_shared<const table_info>(std::move(*t));
                    }
                }
                o.ph = query_op::phase::tables;
                continue;
            }
            case query_op::phase::tables: {
                if (o.lookups->pending > 0) return verdict::hold;
                if (!o.lookups->error.empty()) {
                    return refuse(state_catalog,
                                  "sqltap cannot read the publisher's catalog to capture this statement: " +
                                      o.lookups->error,
                                  "Check [publisher] admin_conninfo; the statement was not run.");
                }
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
                    // Nothing in the transaction needed the write counts
                    // (write_check = auto): every row it wrote came back.
                    if (lazy_check() && !checking) {
                        o.uncaptured = flags;
                        o.ph = query_op::phase::commit_append;
                        continue;
                    }
                    // The last part: the publisher checks the write counts in
                    // the COMMIT's own message (one round trip fewer) when
                    // it can.
                    if (last) {
                        if (auto v = verify_statement()) {
                            o.verify = std::move(*v);
                            o.ph = query_op::phase::verify_append;
                            continue;
                        }
                    }
                    auto r = std::make_shared<request>();
                    r->ours = true;
                    r->hold_z = true;
                    auto snap = snapshot(snap_use::check);
                    r->slots = std::move(snap.slots);
                    o.req = r;
                    send_query(out, snap.joined(), r);
                    o.ph = query_op::phase::commit_snapshot;
                    return verdict::hold;
                }

                // The text of this part.
                std::size_t from = b == 0 ? 0 : a.statements[b].location;
                std::size_t to = e == a.statements.size()
                                     ? o.sql.size()
                                     : a.statements[e - 1].location + a.statements[e - 1].length;
                std::string_view part_text = std::string_view(o.sql).substr(from, to - from);

                std::vector<table_ptr> keep;
                // The part's statements, located within part_text (the
                // analysis itself when the part is the whole text).
                analysis part_analysis;
                const bool whole = b == 0 && e == a.statements.size();
                if (!whole) {
                    for (std::size_t i = b; i < e; ++i) {
                        statement s = a.statements[i];
                        s.location -= from;
                        part_analysis.statements.push_back(std::move(s));
                    }
                }
                const analysis& sub = whole ? a : part_analysis;
                // In a failed transaction everything fails: nothing to rewrite.
                // Results of a simple Query are text: the added columns can be plain.
                static const table_lookups nothing;
                const table_lookups& tables = status == 'E' ? nothing : *o.lookups;
                // A part that is the whole text has the text's shape.
                const sql_shape* shape = b == 0 && e == a.statements.size() ? o.shape.get() : nullptr;
                // The xid, once a write of this transaction brought it, is
                // known: a message of one statement inside the block (so
                // nothing before it in the message ends the transaction)
                // runs in the same transaction, and its writes need not
                // return it again.
                const bool with_xid = !(status == 'T' && !xid.empty() && a.statements.size() == 1);
                auto outcome = rewrite_captured(part_text, sub, tables, keep, column_form::native, shape, with_xid);
                std::string unsupported = outcome.unsupported;
                const table_info* unsupported_table = outcome.unsupported_table;

                part_traits traits;
                std::vector<slot> slots;
                std::vector<std::size_t> slot_end;  // per statement: the index after its last slot
                for (std::size_t i = 0; i < sub.statements.size(); ++i) {
                    const statement& s = sub.statements[i];
                    slot sl = make_slot(s, part_text.substr(s.location, s.length), outcome.plans[i], keep,
                                        *o.lookups, traits, unsupported, unsupported_table, status == 'E',
                                        ddl_tables);
                    if (const auto& x = outcome.copies[i]) {
                        // Staging table, the client's COPY, INSERT … RETURNING, DROP.
                        slots.push_back(ours(role::swallow));
                        slots.push_back(std::move(sl));
                        slot ins = ours(role::swallow, statement_kind::insert);
                        ins.plan = x->insert;
                        for (const auto& p : keep)
                            if (p.get() == x->insert.table) ins.table = p;
                        slots.push_back(std::move(ins));
                        slots.push_back(ours(role::swallow));
                        traits.captures = true;
                    } else {
                        slots.push_back(std::move(sl));
                    }
                    slot_end.push_back(slots.size());
                }

                if (!unsupported.empty()) {
                    if (eng->options().reject_uncaptured) {
                        eng->counters().rejected_uncaptured.fetch_add(1, std::memory_order_relaxed);
                        return refuse(state_uncaptured, unsupported_message(unsupported), uncaptured_hint);
                    }
                    flag_unsupported(*unsupported_table, unsupported);
                    traits.hidden = true;
                    traits.unproved = true;  // its resync record needs the xid the counts bring
                }

                auto r = std::make_shared<request>();
                // Error positions: where the client's text is in what is sent.
                auto map_positions = [&] {
                    r->positions.part_offset = utf8_chars(std::string_view(o.sql).substr(0, from));
                    for (auto [at, n] : outcome.insertions)
                        r->positions.insertions.emplace_back(utf8_chars(part_text.substr(0, at)), n);
                };

                // A message in which the client may drop prepared statements
                // takes its snapshots with the query itself, and sqltapd's
                // statement is prepared again after it.
                bool drops = std::any_of(slots.begin(), slots.end(), [](const slot& x) { return x.drops_prepared; });
                std::string text;
                bool prepared = false;  // text is sqltapd's EXECUTE (and PREPARE)

                // A captured write sent before in the same form: EXECUTE of
                // sqltapd's prepared statement, the PREPARE first the first
                // time (prepared_writes.hpp).
                if (eng->options().prepare_writes && shape && status != 'E' && !drops && unsupported.empty() &&
                    sub.statements.size() == 1 && slots.size() == 1 && slots[0].r == role::client && slots[0].plan &&
                    slots[0].table) {
                    if (auto form = make_prepared_form(part_text, sub.statements[0], outcome, shape)) {
                        // The text, the parameters' types (a literal of another
                        // size may have another), the catalog entry.
                        std::string key = std::move(form->key);
                        key.append(1, '\0').append(form->types);
                        const void* table = slots[0].table.get();
                        key.append(reinterpret_cast<const char*>(&table), sizeof table);
                        if (auto use = writes.get(key, slots[0].table)) {
                            // Next time, a text that differs from this one
                            // in its numbers alone may take the shortcut
                            // (try_known_write).
                            if (may_shortcut() && whole && !o.lookups->in_session && traits.captures &&
                                !traits.hidden && !traits.unproved && !traits.control && !traits.non_transactional) {
                                if (auto pattern = make_write_pattern(part_text, sub.statements[0], *shape, *form)) {
                                    known_write k;
                                    k.pattern = std::move(*pattern);
                                    k.key = key;
                                    k.sl = slots[0];
                                    for (const auto& t : sub.statements[0].targets) k.unqualified |= t.schema.empty();
                                    k.schemas = schemas;
                                    k.generation = o.generation;
                                    known_writes.assign(known_key(part_text, with_xid), std::move(k));
                                }
                            }
                            std::string head;
                            std::vector<slot> ours_slots;
                            if (use->deallocate) {
                                head = "DEALLOCATE " + *use->deallocate + ";";
                                ours_slots.push_back(ours(role::swallow));
                            }
                            std::string exec = "EXECUTE " + use->name;
                            if (!form->values.empty()) exec += "(" + form->values + ")";
                            if (use->prepare) {
                                head += "PREPARE " + use->name;
                                if (!form->types.empty()) head += "(" + form->types + ")";
                                head += " AS ";
                                text = head + form->body + ";" + exec;
                                slot p = ours(role::swallow);
                                p.prepares_write = std::move(key);
                                ours_slots.push_back(std::move(p));
                                // The PREPARE's errors point into the client's
                                // text: past sqltapd's words, the added text and
                                // the parameters longer than their literals.
                                map_positions();
                                r->positions.ours_prefix = head.size();
                                for (auto [at, n] : form->growth)
                                    r->positions.insertions.emplace_back(utf8_chars(part_text.substr(0, at)), n);
                                std::sort(r->positions.insertions.begin(), r->positions.insertions.end());
                            } else {
                                text = head + exec;  // (its errors have no position in the client's text)
                            }
                            prepared = true;
                            eng->counters().prepared_writes.fetch_add(1, std::memory_order_relaxed);
                            slots.insert(slots.begin(), ours_slots.begin(), ours_slots.end());
                            for (auto& e : slot_end) e += ours_slots.size();
                        }
                    }
                }

                if (!prepared) {
                    map_positions();
                    text = std::move(outcome.sql);
                }

                // The write counts: write_check = always takes them from
                // BEGIN on; auto from the first part that needs them (a
                // base before it when a block is open).
                if (status == 'I') checking = false;
                bool counts = !lazy_check() || traits.unproved;
                bool base_first = status == 'T' && counts && !checking;
                // First in the text, so it is the one that prepares sqltapd's
                // statements when they must be (the snapshots below execute them).
                std::optional<snapshot_sql> base_snap;
                if (base_first) base_snap = snapshot(snap_use::base, drops);
                // Snapshots after BEGIN, SAVEPOINT and ROLLBACK TO: insert
                // after each such statement (in the rewritten text).
                if (status != 'E' && (counts || checking)) {
                    for (auto& sl : slots)
                        if (sl.kind == statement_kind::savepoint && sl.r == role::client) sl.checked = true;
                    std::vector<std::pair<std::size_t, snap_use>> extra;  // (statement index, use)
                    for (std::size_t i = 0; i < sub.statements.size(); ++i) {
                        snap_use u = snap_use::none;
                        switch (sub.statements[i].kind) {
                            case statement_kind::begin: u = status == 'I' ? snap_use::base : snap_use::none; break;
                            case statement_kind::savepoint: u = snap_use::savepoint; break;
                            case statement_kind::rollback_to: u = snap_use::rebase; break;
                            default: break;
                        }
                        if (u != snap_use::none) extra.emplace_back(i, u);
                    }
                    if (std::any_of(extra.begin(), extra.end(), [](auto& x) { return x.second == snap_use::base; }))
                        checking = true;
                    // The first snapshot in the text prepares the statement
                    // (if it must be), the others execute it.
                    std::vector<snapshot_sql> snaps;
                    for (auto [i, u] : extra) snaps.push_back(snapshot(u, drops));
                    // Insert back to front so earlier offsets stay valid.
                    for (std::size_t k = extra.size(); k-- > 0;) {
                        const statement& s = sub.statements[extra[k].first];
                        // Offset of the statement's end in the rewritten text.
                        std::size_t end_client = last_token_end(part_text, s.location, s.location + s.length);
                        std::string ins = ";" + snaps[k].joined();
                        text.insert(rewritten_offset(outcome, end_client), ins);
                        r->positions.insertions.emplace_back(utf8_chars(part_text.substr(0, end_client)), ins.size());
                        slots.insert(slots.begin() + long(slot_end[extra[k].first]), snaps[k].slots.begin(),
                                     snaps[k].slots.end());
                    }
                    std::sort(r->positions.insertions.begin(), r->positions.insertions.end());
                }
                if (base_snap) {
                    // A block the counts were not taken in so far: they start here.
                    std::string prefix = base_snap->joined() + ";";
                    r->positions.ours_prefix += prefix.size();
                    text = prefix + text;
                    slots.insert(slots.begin(), base_snap->slots.begin(), base_snap->slots.end());
                    checking = true;
                }

                bool writes = traits.captures || traits.hidden;
                bool wrap = status == 'I' && writes && !traits.control && !traits.non_transactional;
                o.wrapped = wrap;
                r->wrapped = wrap;
                if (writes) may_write = true;
                if (wrap && !counts) {
                    // Every row it writes comes back: sqltapd's block needs no counts.
                    std::string prefix = "BEGIN;";
                    r->positions.ours_prefix += prefix.size();
                    text = prefix + text;
                    slots.insert(slots.begin(), ours(role::swallow, statement_kind::begin));
                    r->hold_z = true;
                } else if (wrap) {
                    checking = true;
                    auto before = snapshot(snap_use::base, drops);
                    auto after = snapshot(snap_use::check, drops);
                    std::string prefix = "BEGIN;" + before.joined() + ";";
                    r->positions.ours_prefix += prefix.size();
                    text = prefix + text + "\n;" + after.joined();
                    slots.insert(slots.begin(), before.slots.begin(), before.slots.end());
                    slots.insert(slots.begin(), ours(role::swallow, statement_kind::begin));
                    slots.insert(slots.end(), after.slots.begin(), after.slots.end());
                    r->hold_z = true;
                } else {
                    r->hold_z = !last;
                }
                if (drops) forget_prepared();
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
                // A part that failed ends the message, as it would have
                // whole; its ReadyForQuery went to the client.
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
            case query_op::phase::verify_append: {
                commit_ticket* ready = decided();
                if (!ready) return verdict::hold;
                commit_ticket& tk = *ready;
                if (auto refusal = commit_refusal(*o.commit))
                    return roll_back(tk, refusal->first, std::move(refusal->second));
                // sqltapd's check, then the client's COMMIT: if the check
                // fails, the server skips the COMMIT and the block is failed.
                auto r = std::make_shared<request>();
                slot check = ours(role::swallow);
                check.verifies = true;
                r->slots.push_back(std::move(check));
                slot sl;
                std::string text = client_commit(sl, *r);
                sl.resolves_commit = true;
                sl.ticket = o.commit->ticket;
                r->slots.push_back(std::move(sl));
                std::string prefix = o.verify + ";";
                r->positions.ours_prefix = prefix.size();
                o.req = r;
                send_query(out, prefix + text, r);
                o.ph = query_op::phase::verify_wait;
                return verdict::hold;
            }
            case query_op::phase::verify_wait: {
                if (!o.req->done) return verdict::hold;
                auto done = std::move(o.req);
                commit_ticket& tk = *o.commit->ticket;
                if (!done->verify_failed) {  // the COMMIT's answers went to the client
                    op.reset();
                    return verdict::replace;
                }
                if (auto list = verify_failure(done->verify_message)) {
                    eng->counters().rejected_uncaptured.fetch_add(1, std::memory_order_relaxed);
                    return roll_back(tk, state_uncaptured, uncaptured_message(*list));
                }
                return roll_back(tk, state_uncaptured,
                                 "sqltap could not check the transaction's writes (" + done->verify_message +
                                     "); it was rolled back and nothing was committed");
            }
            case query_op::phase::commit_append: {
                commit_ticket* ready = decided();
                if (!ready) return verdict::hold;
                commit_ticket& tk = *ready;
                if (auto refusal = commit_refusal(*o.commit))
                    return roll_back(tk, refusal->first, std::move(refusal->second));
                // Send the COMMIT: sqltapd's own, or the client's statement.
                auto r = std::make_shared<request>();
                bool last = o.part + 1 == o.parts.size();
                r->hold_z = !last;
                std::string text;
                slot sl;
                if (o.commit_is_client) {
                    text = client_commit(sl, *r);
                } else {
                    sl = ours(role::swallow, statement_kind::commit);
                    text = "COMMIT";
                }
                sl.resolves_commit = true;
                sl.ticket = o.commit->ticket;
                r->slots.push_back(std::move(sl));
                o.commit.reset();
                o.req = r;
                send_query(out, std::move(text), r);
                if (last) {
                    op.reset();
                    return verdict::replace;
                }
                o.ph = query_op::phase::wait_part;
                return verdict::hold;
            }
        }
    }
}

}  // namespace sqltap::capture
