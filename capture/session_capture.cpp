#include "capture/session_capture.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>

#include "capture/rewrite_cache.hpp"
#include "capture/session_state.hpp"

namespace sqltap::capture {

std::string origin_of(const session_context& ctx) {
    constexpr std::string_view prefix = "sqltap-replay/";
    if (ctx.application_name.rfind(prefix, 0) != 0) return {};
    return ctx.application_name.substr(prefix.size());
}

using namespace detail;

namespace detail {

std::size_t utf8_chars(std::string_view s) {
    // The bytes less the continuation bytes (10xxxxxx), eight at a time.
    std::size_t cont = 0, i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, s.data() + i, 8);
        cont += std::popcount(w & ~(w << 1) & 0x8080808080808080ull);
    }
    for (; i < s.size(); ++i)
        if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++cont;
    return s.size() - cont;
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

bool may_write_hidden(const statement& s) {
    switch (s.kind) {
        case statement_kind::call:
        case statement_kind::do_block:
        case statement_kind::execute_sql:
        case statement_kind::merge:
        case statement_kind::other:
        case statement_kind::copy_from: return true;
        case statement_kind::read:
        case statement_kind::copy_to:
        case statement_kind::session: return s.modifying_cte || s.calls_functions;
        case statement_kind::explain_analyze:
        case statement_kind::prepare_sql: return true;
        default: return false;
    }
}

bool is_dml(statement_kind k) {
    return k == statement_kind::insert || k == statement_kind::update || k == statement_kind::del;
}

bool unproved(const statement& s, bool hidden, const table_lookups& l) {
    if (hidden) return true;
    switch (s.kind) {
        case statement_kind::empty:
        case statement_kind::read:
        case statement_kind::session:
        case statement_kind::copy_to: return false;
        case statement_kind::insert:
        case statement_kind::update:
        case statement_kind::del: {
            // RETURNING brings back every row the statement itself writes;
            // only a trigger, rule, policy, child table or a function (in
            // the text, a default or a constraint) could write more.
            if (s.modifying_cte || s.targets.empty() || s.calls_functions) return true;
            for (const auto& t : s.targets) {
                auto it = l.tables.find(t.schema + '\0' + t.name);
                if (it == l.tables.end() || !it->second || it->second->hidden_writers) return true;
            }
            return false;
        }
        default: return !is_txn_control(s.kind);
    }
}

bool wants_tables(const statement& s) {
    return is_dml(s.kind) || s.kind == statement_kind::merge || s.kind == statement_kind::truncate ||
           s.kind == statement_kind::copy_from || s.kind == statement_kind::explain_analyze || s.modifying_cte;
}

}  // namespace detail

std::string raise_sql(std::string_view sqlstate, std::string_view message, std::string_view hint) {
    std::string body = "RAISE EXCEPTION USING ERRCODE = " + quote_literal(sqlstate) + ", MESSAGE = " + quote_literal(message);
    if (!hint.empty()) body += ", HINT = " + quote_literal(hint);
    std::string tag = "$sqltap$";
    while (body.find(tag) != std::string::npos) tag.insert(1, "x");
    return "DO " + tag + "BEGIN " + body + "; END" + tag;
}

// ---------------------------------------------------------------------------
// Transaction state

void session_capture::state::settle(commit_ticket& t) {
    if (t.resolved || !t.appended || !t.committed) return;
    t.resolved = true;
    if (t.failed && *t.committed) {
        // async: the COMMIT went before the append failed.
        eng->lost(ctx.database, t.xid, t.tables, t.error);
        return;
    }
    if (t.failed || t.lsn == 0) return;  // nothing in the log
    if (*t.committed && !t.gid.empty()) {
        eng->prepared(ctx.database, t.gid, t.lsn);
        return;
    }
    eng->log().resolve(t.lsn, *t.committed, [](std::error_code, std::uint64_t) {});
    if (*t.committed) {
        eng->counters().transactions.fetch_add(1, std::memory_order_relaxed);
        eng->counters().changes.fetch_add(t.changes, std::memory_order_relaxed);
    }
}

void session_capture::state::reset_txn() {
    buf.clear();
    xid.clear();
    xid_seen_us = 0;
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

void session_capture::state::learn_xid(const std::string& x) {
    if (!xid.empty() || x.empty()) return;
    xid = x;
    xid_seen_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
}

void session_capture::state::send_query(byte_buffer& out, std::string text, std::shared_ptr<request> r) {
    protocol::build_query(out, text);
    for (const auto& s : r->slots)
        if (s.prepares_stats) r->stats_prepare_pending = true;
    pending.push_back(std::move(r));
}

std::string session_capture::state::snapshot_sql::joined() const {
    std::string out;
    for (const auto& s : statements) out += (out.empty() ? "" : ";") + s;
    return out;
}

session_capture::state::snapshot_sql session_capture::state::snapshot(snap_use u, bool plain) {
    snapshot_sql out;
    bool check = u == snap_use::check;
    if (plain) {
        out.statements.push_back(check ? check_query() : stats_query());
    } else {
        if (!stats_sent) {
            std::string n = std::to_string(++stats_seq);
            stats_name = "sqltap_stats_" + n;
            check_name = "sqltap_check_" + n;
            verify_name = "sqltap_verify_" + n;
            out.statements.push_back("PREPARE " + stats_name + " AS " + stats_query());
            out.statements.push_back("PREPARE " + check_name + " AS " + check_query());
            out.statements.push_back("PREPARE " + verify_name +
                                     " (oid[], int8[], int8[], int8[], int8[], int8[], int8[], oid[]) AS " +
                                     verify_query(eng->filter()));
            for (int i = 0; i < 3; ++i) {
                slot p = ours(role::swallow);
                p.prepares_stats = true;
                out.slots.push_back(std::move(p));
            }
            stats_sent = true;
        }
        out.executes = check ? check_name : stats_name;
        out.statements.push_back("EXECUTE " + out.executes);
    }
    out.slots.push_back(ours(role::snapshot, statement_kind::read, u));
    return out;
}

std::optional<std::string> session_capture::state::verify_statement() const {
    // Only when the check could but refuse the commit (uncaptured = reject),
    // nothing is known to be refused already, sqltapd's statements are
    // prepared, and the entry has its xid.
    if (!eng->options().reject_uncaptured || !stats_sent || !flags.empty() || !resync.empty()) return std::nullopt;
    if (!buf.empty() && xid.empty()) return std::nullopt;
    std::vector<std::uint32_t> oids;
    for (const auto& [oid, t] : base) oids.push_back(oid);
    for (const auto& [oid, n] : expected)
        if (!base.count(oid)) oids.push_back(oid);
    std::string arr[7];
    for (auto oid : oids) {
        write_counts b, e;
        if (auto it = base.find(oid); it != base.end()) b = it->second.n;
        if (auto it = expected.find(oid); it != expected.end()) e = it->second;
        std::uint64_t v[7] = {oid, b.inserted, b.updated, b.deleted, e.inserted, e.updated, e.deleted};
        for (int k = 0; k < 7; ++k) arr[k] += (arr[k].empty() ? "" : ",") + std::to_string(v[k]);
    }
    std::string trunc;
    for (auto oid : truncated) trunc += (trunc.empty() ? "" : ",") + std::to_string(oid);
    std::string sql = "EXECUTE " + verify_name + "(";
    for (int k = 0; k < 7; ++k) sql += "'{" + arr[k] + "}', ";
    return sql + "'{" + trunc + "}')";
}

std::string session_capture::state::uncaptured_message(const std::string& list) const {
    return "sqltap rolled back the transaction: captured table " + list +
           " was written in a way sqltapd cannot capture (by a function, procedure, DO block, trigger, rule or "
           "cascade)";
}

std::vector<uncaptured_write> session_capture::state::find_uncaptured_now(const stats_snapshot& now) const {
    std::vector<uncaptured_write> out = flags;
    for (auto& u : find_uncaptured(base, now, expected, eng->filter(), truncated)) out.push_back(std::move(u));
    return out;
}

void session_capture::state::lookup_targets(const analysis& a, const std::shared_ptr<table_lookups>& l) {
    for (const auto& s : a.statements) {
        if (!wants_tables(s)) continue;
        for (const auto& t : s.targets) {
            std::string key = t.schema + '\0' + t.name;
            if (l->tables.count(key)) continue;
            if (auto c = eng->cached_table(ctx.database, schemas, t)) {
                l->tables[key] = *c;
                continue;
            }
            ++l->pending;
            l->tables[key] = nullptr;
            eng->lookup_table(ctx.database, schemas, t,
                              [self = shared_from_this(), l, key](table_ptr p, std::string error) {
                                  asio::post(self->ex, [self, l, key, p = std::move(p), error = std::move(error)] {
                                      --l->pending;
                                      l->tables[key] = p;
                                      if (!error.empty()) l->error = error;
                                      self->poke();
                                  });
                              });
        }
    }
}

table_ptr session_capture::state::captured_target(const table_lookups& l, const table_name& t) const {
    auto it = l.tables.find(t.schema + '\0' + t.name);
    table_ptr p = it == l.tables.end() ? nullptr : it->second;
    if (p && (p->kind == 'r' || p->kind == 'p') && eng->filter().captures(p->schema, p->name)) return p;
    return nullptr;
}

rewrite_outcome session_capture::state::rewrite_captured(std::string_view sql, const analysis& a,
                                                         const table_lookups& l, std::vector<table_ptr>& keep,
                                                         column_form form, const sql_shape* shape,
                                                         bool with_xid) const {
    thread_local rewrite_cache rewrites;
    return rewrites.get(sql, a, shape, [&](const statement& s) -> table_ptr {
        for (const auto& t : s.targets) {
            if (table_ptr p = captured_target(l, t)) {
                keep.push_back(p);
                return p;
            }
        }
        return nullptr;
    }, form, with_xid);
}

session_capture::state::slot session_capture::state::make_slot(const statement& s, std::string_view text,
                                                               const std::optional<capture_plan>& plan,
                                                               const std::vector<table_ptr>& keep,
                                                               const table_lookups& l, part_traits& traits,
                                                               std::string& unsupported,
                                                               const table_info*& unsupported_table, bool failed_txn,
                                                               std::vector<std::string>& ddl_changed) {
    slot sl;
    sl.kind = s.kind;
    sl.name = s.name;
    if (plan) {
        sl.plan = plan;
        for (const auto& p : keep)
            if (p.get() == plan->table) sl.table = p;
        traits.captures = true;
        // A write after DDL on the same table in this transaction: the
        // catalog the plan came from is old (unless it was read inside the
        // transaction).
        std::string qn = sl.table->schema + "." + sl.table->name;
        if (!l.in_session && std::find(ddl_changed.begin(), ddl_changed.end(), qn) != ddl_changed.end()) {
            unsupported = "a write to captured table " + qn + " after DDL on it in the same transaction";
            unsupported_table = sl.table.get();
        }
    }
    if (s.kind == statement_kind::truncate && !failed_txn) {
        for (const auto& t : s.targets)
            if (table_ptr p = captured_target(l, t)) sl.truncated.push_back(p);
        if (!sl.truncated.empty()) traits.captures = true;
    }
    if (s.kind == statement_kind::ddl) {
        bool captured = false;
        for (const auto& t : s.targets) {
            if (!t.schema.empty()) {
                captured |= eng->filter().captures(t.schema, t.name);
            } else {
                for (const auto& sc : schemas) captured |= eng->filter().captures(sc, t.name);
                if (schemas.empty()) captured |= eng->filter().captures("public", t.name);
            }
        }
        if (captured) {
            sl.ddl_sql = std::string(text);
            traits.captures = true;
            if (contains_ci(text, "concurrently")) traits.non_transactional = true;
            for (const auto& t : s.targets) {
                if (!t.schema.empty()) ddl_changed.push_back(t.schema + "." + t.name);
                else
                    for (const auto& sc : schemas) ddl_changed.push_back(sc + "." + t.name);
            }
        }
    }
    if (s.kind == statement_kind::other) traits.non_transactional = true;
    if (s.kind == statement_kind::session) {
        std::string_view t = text.substr(std::min(text.size(), skip_blank(text, 0)));
        auto starts = [&](std::string_view w) { return t.size() >= w.size() && equals_ci(t.substr(0, w.size()), w); };
        sl.drops_prepared = starts("deallocate") || starts("discard");
    }
    if (is_txn_control(s.kind)) traits.control = true;
    bool hidden = may_write_hidden(s);
    if (hidden) traits.hidden = true;
    if (unproved(s, hidden, l)) {
        traits.unproved = true;
        // A write whose table something else writes with it (a trigger, a
        // cascade): even in autocommit, and even when its own table is not
        // captured, only the counts can tell what else it wrote.
        if (is_dml(s.kind)) traits.hidden = true;
    }
    if (s.kind == statement_kind::session || contains_ci(text, "search_path") || s.kind == statement_kind::rollback ||
        s.kind == statement_kind::rollback_to)
        sl.changes_search_path = true;
    return sl;
}

std::string session_capture::state::unsupported_message(const std::string& what) const {
    return "sqltap cannot capture " + what + "; the statement was refused";
}

void session_capture::state::flag_unsupported(const table_info& t, const std::string& why) {
    eng->counters().flagged_uncaptured.fetch_add(1, std::memory_order_relaxed);
    relation rel;
    rel.schema = t.schema;
    rel.table = t.name;
    resync.emplace_back(rel, why);
}

commit_decision session_capture::state::decide_commit(std::vector<uncaptured_write> uncaptured, std::string gid) {
    commit_decision d;
    d.ticket = std::make_shared<commit_ticket>();
    d.ticket->appended = true;  // nothing to append unless below
    if (!uncaptured.empty() && eng->options().reject_uncaptured) {
        eng->counters().rejected_uncaptured.fetch_add(1, std::memory_order_relaxed);
        d.reject = true;
        std::string list;
        for (const auto& u : uncaptured) list += (list.empty() ? "" : "; ") + u.describe();
        d.reject_message = uncaptured_message(list);
        return d;
    }
    if (!uncaptured.empty()) {
        eng->counters().flagged_uncaptured.fetch_add(1, std::memory_order_relaxed);
        for (const auto& u : uncaptured) {
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
    if (buf.empty()) return d;
    transaction t = buf.take();
    t.xid = xid;
    t.database = ctx.database;
    t.origin = origin_of(ctx);
    t.commit_time_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    auto ticket = d.ticket;
    ticket->appended = false;
    ticket->gid = std::move(gid);
    ticket->changes = t.changes.size();
    if (!eng->options().strict) {
        ticket->xid = t.xid;
        for (const auto& r : t.relations) ticket->tables.emplace_back(r.schema, r.table);
    }
    eng->log().append_in_doubt(std::move(t), [self = shared_from_this(), ticket](std::error_code ec, std::uint64_t lsn) {
        asio::post(self->ex, [self, ticket, ec, lsn] {
            ticket->failed = bool(ec);
            ticket->error = ec;
            ticket->lsn = lsn;
            ticket->appended = true;
            self->settle(*ticket);
            self->poke();
        });
    }, xid_seen_us);
    return d;
}

std::optional<std::pair<std::string_view, std::string>> session_capture::state::commit_refusal(
    const commit_decision& d) {
    if (d.ticket->failed) {
        eng->refused(d.ticket->error);
        return std::pair{state_log_failed, "sqltap could not write the transaction to the change log (" +
                                               d.ticket->error.message() +
                                               "); it was rolled back and nothing was committed"};
    }
    if (d.reject) return std::pair{state_uncaptured, d.reject_message};
    return std::nullopt;
}

// ---------------------------------------------------------------------------

verdict session_capture::state::client_message(const protocol::frame& f, byte_buffer& out) {
    // COPY … FROM STDIN inside a held Query: the server waits for the
    // client's data, so the held message (already sent as sqltapd's text) is
    // let go, the data flows, and the CopyDone (or CopyFail) is held instead
    // until the operation can go on.
    if (op) {
        bool copy_end = f.tag == 'c' || f.tag == 'f';
        if (copy_in && (f.tag == 'Q' || (copy_end && held_copy_end))) {
            held_copy_end = false;
            return verdict::replace;
        }
        if (f.tag == 'd') return verdict::forward;
        if (copy_end && !held_copy_end) {
            out.insert(out.end(), f.raw.begin(), f.raw.end());
            held_copy_end = true;
            copy_in = false;
            return verdict::hold;
        }
        verdict v = on_query(f, out);
        if (v != verdict::hold) held_copy_end = false;
        return v;
    }
    switch (f.tag) {
        case 'Q': return on_query(f, out);
        case 'P': case 'B': case 'D': case 'E': case 'C': case 'H': case 'S': case 'F':
            return on_extended(f, out);
        default: return verdict::forward;  // CopyData/Done/Fail, Terminate
    }
}

// ---------------------------------------------------------------------------
// Server side

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
    (void)r;
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
            if (!s.ddl_sql.empty()) buf.add_ddl(s.ddl_sql, search_path);
            // Any DDL, captured or not (CREATE TRIGGER names no table we
            // capture), may change what the catalog says of a table: read it
            // again now and when the transaction ends.
            had_ddl = true;
            eng->invalidate(ctx.database);
            break;
        case statement_kind::savepoint:
            buf.savepoint(s.name);
            marks.push_back(mark{s.name, base, expected, flags, std::nullopt, s.checked});
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
                // The segment before the savepoint stays: judge it now
                // (unless nothing in it needed the counts: write_check = auto).
                if (m.snap)
                    for (auto& u : find_uncaptured(m.base, *m.snap, m.expected, eng->filter(), truncated))
                        flags.push_back(std::move(u));
                else if (m.checked)
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
            if (s.resolves_commit && s.ticket) {
                s.ticket->committed = starts("COMMIT") || starts("PREPARE TRANSACTION");
                settle(*s.ticket);
            }
            reset_txn();
            break;
        case statement_kind::commit_prepared: eng->finish_prepared(ctx.database, s.name, true); break;
        case statement_kind::rollback_prepared: eng->finish_prepared(ctx.database, s.name, false); break;
        default: break;
    }
}

void session_capture::state::on_ready(request& r) {
    if (r.status != 'I') return;
    // A COMMIT whose CommandComplete never came (an error instead).
    for (auto& s : r.slots)
        if (s.resolves_commit && s.ticket && !s.ticket->committed) {
            s.ticket->committed = false;
            settle(*s.ticket);
        }
    if (!buf.empty() && !r.error) {
        // Rows committed by a transaction sqltapd did not end itself
        // (it could not wrap it): keep them, after the fact.
        transaction t = buf.take();
        t.xid = xid.empty() ? "0" : xid;
        t.database = ctx.database;
        t.origin = origin_of(ctx);
        eng->counters().changes.fetch_add(t.changes.size(), std::memory_order_relaxed);
        eng->log().append_committed(std::move(t), [](std::error_code, std::uint64_t) {});
        eng->counters().transactions.fetch_add(1, std::memory_order_relaxed);
    }
    reset_txn();
}

std::shared_ptr<session_capture::state::request> session_capture::state::finish_request(const protocol::frame& f) {
    protocol::ready_for_query_msg z;
    if (!protocol::decode(f.body, z)) status = z.status;
    auto r = std::move(pending.front());
    pending.pop_front();
    // Its PREPARE of the snapshot statement never ran: prepare it again.
    if (r->stats_prepare_pending) stats_sent = false;
    r->status = status;
    r->done = true;
    r->answered = r->next_seq;
    r->items.clear();
    on_ready(*r);
    poke();
    return r;
}

bool session_capture::state::fix_error_position(const position_map& pm, const protocol::frame& f, byte_buffer& out) {
    if (pm.empty()) return false;
    protocol::field_msg m;
    if (protocol::decode(f.body, m)) return false;
    std::string_view pos = m.get('P');
    if (pos.empty()) return false;
    long c = std::atol(std::string(pos).c_str()) - 1 - long(pm.ours_prefix);  // 0-based, in the part
    if (c < 0) return false;  // in sqltapd's own text
    for (auto [at, n] : pm.insertions) {
        if (c <= long(at)) break;
        if (c < long(at + n)) {
            c = long(at);
            break;
        }
        c -= long(n);
    }
    std::string fixed = std::to_string(c + long(pm.part_offset) + 1);
    std::vector<protocol::field_msg::field> fields = m.fields;
    for (auto& fl : fields)
        if (fl.code == 'P') fl.value = fixed;
    protocol::build_field_message(out, f.tag, fields);
    return true;
}

verdict session_capture::state::on_row_description(slot* s, const protocol::frame& f, byte_buffer& out,
                                                   bool describe) {
    if (s && s->r != role::client) return verdict::replace;
    if (!s || !s->plan) return verdict::forward;
    result_filter rf(*s->plan);
    if (rf.on_row_description(f.body, out)) return verdict::forward;  // not ours after all
    // A Describe of a write without the client's own RETURNING: no rows.
    if (describe && !s->plan->client_returning) protocol::build_empty(out, protocol::backend::no_data);
    return verdict::replace;
}

verdict session_capture::state::on_data_row(request& r, slot* s, const protocol::frame& f, byte_buffer& out) {
    if (!s) return verdict::forward;
    if (s->r == role::client || s->plan) {  // (a plan on sqltapd's statement: COPY's INSERT)
        if (!s->plan) return verdict::forward;
        result_filter rf(*s->plan);
        captured_row row;
        if (rf.on_data_row(f.body, row, out)) {
            capture_failed = true;
            capture_failure = "a result row of a captured write could not be read";
            return verdict::forward;
        }
        learn_xid(row.xid);
        const table_info& t = *s->plan->table;
        auto& e = expected[t.root_oid ? t.root_oid : t.oid];
        switch (rf.written(row)) {  // counted as written, whatever a row filter keeps
            case op::insert: ++e.inserted; break;
            case op::update: ++e.updated; break;
            default: ++e.deleted; break;
        }
        if (auto c = rf.to_change(std::move(row), 0)) {
            if (s->table) buf.add(s->table, [&] { return rf.log_relation(); }, std::move(*c));
            else buf.add(rf.log_relation(), std::move(*c));
        }
        return verdict::replace;
    }
    protocol::data_row_msg d;
    if (protocol::decode(f.body, d)) return verdict::replace;
    auto text = [&](std::size_t i) { return std::string(protocol::as_text(*d.columns[i])); };
    if (s->r == role::snapshot) {
        std::vector<std::optional<std::string>> vals;
        for (const auto& v : d.columns)
            vals.push_back(v ? std::optional<std::string>(std::string(protocol::as_text(*v))) : std::nullopt);
        if (s->use == snap_use::check && !vals.empty()) {  // check_query: the xid first
            if (vals[0]) learn_xid(*vals[0]);
            vals.erase(vals.begin());
            if (!vals.empty() && !vals[0]) return verdict::replace;  // nothing written
        }
        add_stats_row(r.snap, vals);
    } else if (s->r == role::catalog) {
        text_row row;
        for (const auto& v : d.columns)
            row.push_back(v ? std::optional<std::string>(std::string(protocol::as_text(*v))) : std::nullopt);
        r.catalog_rows[r.cur].push_back(std::move(row));
    } else if (s->r == role::search_path) {
        if (d.columns.size() == 2 && d.columns[0] && d.columns[1]) {
            r.search_path = text(0);
            r.user = text(1);
        }
    }
    return verdict::replace;
}

verdict session_capture::state::on_complete(request& r, slot& sl, const protocol::frame& f, byte_buffer& out) {
    protocol::command_complete_msg cc;
    std::string_view ctag;
    if (!protocol::decode(f.body, cc)) ctag = cc.tag;
    if (sl.prepares_stats) r.stats_prepare_pending = false;
    if (!sl.prepares_write.empty()) writes.prepared(sl.prepares_write);
    if (sl.r == role::snapshot) {
        on_snapshot(r, sl);
        return verdict::replace;
    }
    if (sl.r == role::search_path) {
        // Extended: the answer arrives inside a batch; take it at once.
        if (r.extended && !r.search_path.empty()) {
            search_path = r.search_path;
            schemas = parse_search_path(search_path, r.user);
            sp_known = true;
        }
        return verdict::replace;
    }
    if (sl.r == role::catalog) return verdict::replace;
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

verdict session_capture::state::server_message(const protocol::frame& f, byte_buffer& out) {
    char tag = f.tag;
    if (tag == 'A' || tag == 'S') return verdict::forward;  // belong to no query
    if (pending.empty()) return verdict::forward;
    request& r = *pending.front();
    if (r.extended) return extended_answer(r, f, out);

    slot* s = r.cur < r.slots.size() ? &r.slots[r.cur] : nullptr;
    if (tag == 'C' || tag == 'E' || tag == 'Z') copy_in = false;
    switch (tag) {
        case 'G':  // CopyInResponse: the client must be heard (see client_message)
            copy_in = true;
            poke();
            return verdict::forward;
        case 'T': return on_row_description(s, f, out, false);
        case 'D': return on_data_row(r, s, f, out);
        case 'C': {
            if (!s) return verdict::forward;
            ++r.cur;
            return on_complete(r, *s, f, out);
        }
        case 'E': {
            r.error = true;
            if (s && s->r == role::client && s->plan && writes.size() > 0) {
                // A table's columns changed type without DDL through sqltapd:
                // its prepared writes cannot run again (the client hears
                // this once); they are prepared anew, under new names.
                protocol::field_msg m;
                if (!protocol::decode(f.body, m) && m.get('C') == "0A000" &&
                    m.get('M').starts_with("cached plan must not change result type"))
                    writes.forget();
            }
            if (s && s->verifies) {  // the COMMIT after it does not run; the operation answers the client
                r.verify_failed = true;
                protocol::field_msg m;
                if (!protocol::decode(f.body, m)) r.verify_message = std::string(m.get('M'));
                return verdict::replace;
            }
            if (s && s->resolves_commit && s->ticket && !s->ticket->committed) {
                // A COMMIT that failed (a deferred constraint, say): aborted.
                s->ticket->committed = false;
                settle(*s->ticket);
            }
            if (r.ours) {
                protocol::field_msg m;
                if (!protocol::decode(f.body, m)) r.error_message = std::string(m.get('M'));
                return verdict::replace;
            }
            // Our statement inside the client's message failed: the client
            // must still hear that something failed. (The PREPARE of a
            // captured write fails where the statement would have.)
            if (s && s->r != role::client && s->prepares_write.empty()) return verdict::forward;
            return fix_error_position(r.positions, f, out) ? verdict::replace : verdict::forward;
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
            bool swallow = keep->ours || keep->verify_failed || (keep->hold_z && (keep->wrapped || !failed));
            return swallow ? verdict::replace : verdict::forward;
        }
        default: return verdict::forward;  // COPY traffic, ParameterDescription, …
    }
}

// Answers to an extended-protocol batch: each belongs to the oldest message
// still waiting for its answer. After an ErrorResponse the server skips every
// message up to Sync, so those wait for nothing.
verdict session_capture::state::extended_answer(request& r, const protocol::frame& f, byte_buffer& out) {
    char tag = f.tag;
    if (tag == 'Z') {
        auto keep = finish_request(f);
        return keep->swallow_z ? verdict::replace : verdict::forward;
    }
    if (r.items.empty() || r.items.front().msg == 'S') return verdict::forward;
    ext_item& it = r.items.front();
    auto pop = [&] {
        r.answered = it.seq;
        r.items.pop_front();
        poke();
    };
    bool ours_item = it.sl.r != role::client;
    switch (tag) {
        case '1': case '2': case '3': case 'n': case 'V': {
            pop();
            return ours_item ? verdict::replace : verdict::forward;
        }
        case 't': return ours_item ? verdict::replace : verdict::forward;
        case 'T': {
            if (it.msg != 'D') return verdict::forward;
            slot sl = std::move(it.sl);
            pop();
            return on_row_description(&sl, f, out, true);
        }
        case 'D': return on_data_row(r, &it.sl, f, out);
        case 'C': case 'I': case 's': {
            slot sl = std::move(it.sl);
            pop();
            if (tag == 'C') return on_complete(r, sl, f, out);
            return sl.r == role::client ? verdict::forward : verdict::replace;
        }
        case 'E': {
            r.error = true;
            position_map pm = it.msg == 'P' ? it.positions : position_map{};
            bool forward_it = r.ours ? false : true;  // inside the client's batch the client must hear it
            // This message failed; the server skips the rest up to Sync.
            while (!r.items.empty() && r.items.front().msg != 'S') {
                ext_item& x = r.items.front();
                if (x.sl.resolves_commit && x.sl.ticket && !x.sl.ticket->committed) {
                    x.sl.ticket->committed = false;
                    settle(*x.sl.ticket);
                }
                r.answered = x.seq;
                r.items.pop_front();
            }
            poke();
            if (!forward_it) return verdict::replace;
            return fix_error_position(pm, f, out) ? verdict::replace : verdict::forward;
        }
        case 'N': return ours_item || it.sl.swallow_notices ? verdict::replace : verdict::forward;
        default: return verdict::forward;  // COPY traffic
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
    st_->xop.reset();
}

bool session_capture::needs_whole(sender from, char tag) const noexcept {
    if (from == sender::frontend) return tag != 'd';  // all but CopyData: small, or rewritten (Query, Parse, Bind)
    if (tag != 'D') return true;
    if (st_->pending.empty()) return false;
    const request& r = *st_->pending.front();
    if (r.extended) {
        if (r.items.empty()) return false;
        const slot& s = r.items.front().sl;
        return s.r != role::client || s.plan.has_value();
    }
    if (r.cur >= r.slots.size()) return false;
    const slot& s = r.slots[r.cur];
    return s.r != role::client || s.plan.has_value();
}

verdict session_capture::on_message(sender from, const protocol::frame& f, byte_buffer& out) {
    return from == sender::frontend ? st_->client_message(f, out) : st_->server_message(f, out);
}

awaitable<void> session_capture::wait_ready() { co_await st_->ready.wait(); }

void session_capture::abort_wait() { st_->ready.set(); }

void session_capture::on_streamed(sender from, const protocol::frame_header& h) {
    // Only CopyData from clients and data rows of plain statements stream
    // through; they change nothing capture tracks.
    (void)from;
    (void)h;
}

}  // namespace sqltap::capture
