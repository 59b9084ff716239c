#include "replay/applier.hpp"

#include <algorithm>

#include "replay/progress.hpp"

namespace sqltap::replay {
namespace {

constexpr int what_progress = -2, what_prepare = -4, what_other = -5, what_sync = -6;

// The progress statement's parameters for one transaction (see progress_sql()).
std::vector<capture::value> progress_params(const std::string& subscriber, std::uint64_t prev, std::uint64_t lsn,
                                            std::int64_t commit_time_us, std::int64_t epoch) {
    return {subscriber, std::to_string(prev), std::to_string(lsn), std::to_string(commit_time_us),
            std::to_string(epoch)};
}

}  // namespace

applier::applier(subscriber_options opts, applier_context ctx)
    : opts_(std::move(opts)), ctx_(std::move(ctx)), filter_(opts_.tables, opts_.exclude) {
    status_.name = opts_.name;
    if (opts_.node.empty()) opts_.node = opts_.name;
    // What an earlier run left: the conflict count and a stale mark survive restarts.
    if (auto saved = ctx_.log->get_replay(status_key(opts_.name))) {
        subscriber_status s;
        if (decode(*saved, s)) {
            status_.applied_lsn = s.applied_lsn;
            if (s.st == state::stale) {
                status_.st = state::stale;
                status_.message = s.message;
            }
        }
    }
    std::string prefix = std::string(conflict_prefix) + opts_.name;
    prefix.push_back('\0');
    ctx_.log->scan_replay(prefix, [&](std::string_view, std::string_view) {
        ++status_.conflicts;
        return true;
    });
}

applier::~applier() { stop(); }

void applier::start() {
    thread_ = std::thread([this] { run(); });
}

void applier::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

subscriber_status applier::status() const {
    std::lock_guard lock(mu_);
    return status_;
}

void applier::mark_stale(const std::string& why) {
    {
        std::lock_guard lock(mu_);
        if (status_.st == state::stale) return;
        status_.st = state::stale;
        status_.message = why;
    }
    cv_.notify_all();
}

void applier::set_state(state s, const std::string& message) {
    state before;
    {
        std::lock_guard lock(mu_);
        if (status_.st == state::stale) return;  // only a new initial sync ends it
        before = status_.st;
        status_.st = s;
        status_.message = message;
    }
    if (before == s) return;
    // Streaming and catching up alternate with every burst of writes: the
    // state shows them; the log only says when applying starts or stops.
    auto applying = [](state x) { return x == state::streaming || x == state::catching_up; };
    if (applying(before) && applying(s)) return;
    std::string m = "subscriber " + opts_.name + ": " + std::string(to_string(s)) + (message.empty() ? "" : ": " + message);
    if (s == state::error || s == state::offline) ctx_.warn(m);
    else ctx_.info(m);
}

bool applier::sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [&] { return stopping_ || status_.st == state::stale || paused_ || kick_; });
    kick_ = false;
    return !stopping_;
}

void applier::pause() {
    {
        std::lock_guard lock(mu_);
        paused_ = true;
    }
    cv_.notify_all();
}

void applier::resume() {
    {
        std::lock_guard lock(mu_);
        paused_ = false;
        kick_ = true;
    }
    cv_.notify_all();
}

bool applier::wait_while_paused() {
    {
        std::lock_guard lock(mu_);
        if (!paused_ || stopping_) return !stopping_;
    }
    set_state(state::paused, "paused by the admin console (RESUME SUBSCRIBER " + opts_.name + ")");
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stopping_ || !paused_; });
    kick_ = false;
    if (status_.st == state::paused) status_.st = state::starting, status_.message.clear();
    return !stopping_;
}

bool applier::wait_for_sync() {
    // Stale: only a new initial sync (perhaps run by another process) ends it.
    for (;;) {
        {
            std::unique_lock lock(mu_);
            if (stopping_) return false;
            if (status_.st != state::stale) return true;
            cv_.wait_for(lock, std::chrono::seconds(2), [&] { return stopping_; });
            if (stopping_) return false;
        }
        auto v = ctx_.log->get_replay(sync_key(opts_.name));
        if (v && parse_sync_mark(*v).done) {
            std::lock_guard lock(mu_);
            status_.st = state::starting;
            status_.message.clear();
            ctx_.info("subscriber " + opts_.name + ": an initial sync finished; applying again");
            return true;
        }
    }
}

void applier::run() {
    int attempt = 0;
    for (;;) {
        if (!wait_for_sync()) break;
        if (!wait_while_paused()) break;
        // A new connection: nothing is prepared on it yet.
        prepared_.clear();
        types_.clear();
        try {
            pg::connection c(opts_.conninfo, "sqltap-replay/" + ctx_.node_name);
            attempt = 0;
            session(c);
            break;  // stopping
        } catch (const stop_applying& e) {
            set_state(state::error, e.what());
            // Stays stopped until sqltapd restarts or the console resumes it.
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || kick_ || paused_; });
            if (stopping_) break;
            kick_ = false;
            attempt = 0;
            continue;
        } catch (const pause_requested&) {
            attempt = 0;
            continue;
        } catch (const sync_running& e) {
            set_state(state::syncing, e.what());
            attempt = 0;
            if (!sleep_for(std::chrono::milliseconds(1000))) break;
            continue;
        } catch (const pg::error& e) {
            set_state(e.connection_lost() ? state::offline : state::error, e.what());
        } catch (const std::exception& e) {
            set_state(state::error, e.what());
        }
        // Exponential backoff: 1 s, 2 s, 4 s, … up to retry_max.
        auto delay = std::chrono::milliseconds(1000) * (1LL << std::min(attempt, 16));
        ++attempt;
        if (!sleep_for(std::min<std::chrono::milliseconds>(delay, opts_.retry_max))) break;
    }
}

std::uint64_t applier::read_progress(pg::connection& c) {
    setup_subscriber(c);
    const std::string& id = ctx_.log->log_id();
    progress_row row = read_progress_row(c, opts_.name, id);
    if (row.syncing)
        throw sync_running("an initial sync (sqltapd --sync " + opts_.name +
                           ") is copying the tables; applying resumes when it ends (if it was "
                           "interrupted, run it again)");
    if (row.log_id != id) {
        if (row.applied_lsn != 0)
            throw stop_applying("the subscriber's progress row belongs to another change log (id " + row.log_id +
                                ", this log is " + id + "); run an initial sync (sqltapd --sync " + opts_.name + ")");
        c.exec("UPDATE sqltap.progress SET log_id = $2 WHERE subscriber = $1", {opts_.name, id});
    }
    if (row.applied_lsn + 1 < ctx_.log->purged_below())
        throw stop_applying("the log no longer holds entries this subscriber needs (it applied up to LSN " +
                            std::to_string(row.applied_lsn) + ", the log starts at " +
                            std::to_string(ctx_.log->purged_below()) + "); it needs a new initial sync");
    epoch_ = row.epoch;
    sync_snapshot_.reset();
    if (!row.sync_snapshot.empty()) {
        sync_snapshot_ = snapshot::parse(row.sync_snapshot);
        if (!sync_snapshot_)
            throw stop_applying("the subscriber's progress row holds a snapshot sqltapd cannot read: " +
                                row.sync_snapshot);
    }
    // A finished sync's hold on the log ends once this applier stands on its
    // position (the engine's purge then follows this applier again).
    if (auto v = ctx_.log->get_replay(sync_key(opts_.name)); v && parse_sync_mark(*v).done)
        store(*ctx_.log, sync_key(opts_.name), "");
    return row.applied_lsn;
}

void applier::session(pg::connection& c) {
    c.exec("SET session_replication_role = " + opts_.replication_role);
    c.exec("SET synchronous_commit = on");  // whatever the server's default
    std::uint64_t applied = read_progress(c);
    // As native logical replication's apply workers: commits do not wait for
    // the subscriber's WAL flush, except the last of each batch (which
    // flushes all before it) and the careful path's. A subscriber crash may
    // undo a suffix of unflushed commits, progress rows with them, so the
    // applier then re-applies them; and an LSN counts as applied (for purging
    // and the status) only once flushed. (read_progress above committed
    // synchronously, flushing whatever an earlier session left unflushed.)
    c.exec("SET synchronous_commit = off");
    {
        std::lock_guard lock(mu_);
        status_.applied_lsn = applied;
    }
    std::uint64_t read_pos = applied + 1;
    for (;;) {
        {
            std::lock_guard lock(mu_);
            if (stopping_ || status_.st == state::stale) return;
            if (paused_) throw pause_requested("paused");
        }
        std::uint64_t end = ctx_.log->wait_visible(read_pos, std::chrono::milliseconds(200));
        if (end <= read_pos) {
            set_state(state::streaming);
            continue;
        }
        set_state(end - read_pos > 1 ? state::catching_up : state::streaming);
        std::uint64_t pos = read_pos;
        auto batch = next_batch(pos, end, applied);
        if (batch.empty()) {
            read_pos = pos;
            continue;
        }
        if (batch.size() == 1 && batch[0].ddl) {
            apply_careful(c, batch[0]);
            applied = batch[0].lsn;
            read_pos = pos;
            continue;
        }
        pg::result failure;
        bool on_change = false;
        std::size_t done = apply_pipelined(c, batch, failure, on_change);
        if (done > 0) applied = batch[done - 1].lsn;
        if (done == batch.size()) {
            read_pos = pos;
            continue;
        }
        // Something failed: what the pipeline prepared may be gone.
        prepared_.clear();
        if (PQtransactionStatus(c.get()) == PQTRANS_INERROR) c.exec("ROLLBACK");
        c.exec("DEALLOCATE ALL");
        const auto& p = batch[done];
        std::string code = failure ? failure.sqlstate() : "";
        if (on_change && (code == conflict_sqlstate || code == "23505")) {
            apply_careful(c, p);
            applied = p.lsn;
            read_pos = p.lsn + 1;
            continue;
        }
        throw pg::error("applying LSN " + std::to_string(p.lsn) + " failed: " +
                            (failure ? failure.message() : std::string("no result")),
                        code.empty() ? "XX000" : code);
    }
}

bool applier::takes(const capture::transaction& t, const capture::change& ch) const {
    switch (ch.kind) {
        case capture::op::ddl: return opts_.apply_ddl;
        case capture::op::resync: return false;
        default: {
            const auto& r = t.relations.at(ch.rel);
            return filter_.captures(r.schema, r.table);
        }
    }
}

std::vector<applier::pending> applier::next_batch(std::uint64_t& read_pos, std::uint64_t end, std::uint64_t sent) {
    std::vector<pending> batch;
    std::size_t rows = 0;
    bool stopped = false;
    std::uint64_t last_seen = 0;
    std::string bad;
    ctx_.log->read(read_pos, end, [&](std::uint64_t lsn, std::string_view bytes) {
        pending p;
        p.lsn = lsn;
        p.txn.lsn = lsn;
        if (auto ec = capture::decode(bytes, p.txn)) {
            bad = "the log entry at LSN " + std::to_string(lsn) + " cannot be read: " + ec.message();
            stopped = true;
            return false;
        }
        last_seen = lsn;
        bool ddl = false;
        // Changes that came from this subscriber (through a sqltapd in front
        // of it) are never sent back: no loops in two-way setups.
        // Entries whose transaction the last initial sync's copy already
        // holds are not applied again.
        bool copied = sync_snapshot_ && sync_snapshot_->visible(p.txn.xid);
        if (p.txn.database == opts_.database && p.txn.origin != opts_.node && !copied) {
            for (std::uint32_t i = 0; i < p.txn.changes.size(); ++i) {
                const auto& ch = p.txn.changes[i];
                if (ch.kind == capture::op::resync) {
                    const auto& r = p.txn.relations.at(ch.rel);
                    if (filter_.captures(r.schema, r.table))
                        ctx_.warn("subscriber " + opts_.name + ": the log says " + r.schema + "." + r.table +
                                  " had writes that could not be captured (LSN " + std::to_string(lsn) +
                                  "); the table needs a new initial sync");
                    continue;
                }
                if (!takes(p.txn, ch)) continue;
                p.apply.push_back(i);
                ddl = ddl || ch.kind == capture::op::ddl;
            }
        }
        if (p.apply.empty()) return true;
        // DDL changes the tables' columns: a transaction with DDL goes alone
        // (on the careful path, which looks the columns up again after it).
        if (ddl && !batch.empty()) {
            last_seen = batch.back().lsn;
            stopped = true;
            return false;
        }
        p.prev = sent;
        sent = lsn;
        p.rows = p.apply.size();
        p.ddl = ddl;
        rows += p.rows;
        batch.push_back(std::move(p));
        if (ddl || batch.size() >= ctx_.max_batch_txns || rows >= ctx_.max_batch_rows) {
            stopped = true;
            return false;
        }
        return true;
    });
    if (!bad.empty()) {
        if (batch.empty()) throw stop_applying(bad);
        read_pos = batch.back().lsn + 1;  // apply what came before; the next batch stops on it
        return batch;
    }
    read_pos = stopped ? last_seen + 1 : end;
    // Entries this subscriber does not take still move its progress, so that
    // the log can be purged behind it.
    if (read_pos - 1 > sent) {
        pending p;
        p.lsn = read_pos - 1;
        p.prev = sent;
        batch.push_back(std::move(p));
    }
    return batch;
}

const column_types& applier::types_of(pg::connection& c, const capture::relation& r) {
    std::string name = r.schema + "." + r.table;
    auto it = types_.find(name);
    if (it != types_.end()) return it->second;
    auto res = c.exec(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> '', a.attidentity = 'a'"
        " FROM pg_attribute a"
        " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
        {qualified(r)});
    if (res.rows() == 0)
        throw pg::error("the subscriber has no table " + qualified(r), "42P01");
    column_types t;
    for (int i = 0; i < res.rows(); ++i) t[res.text(i, 0)] = {res.text(i, 1), res.text(i, 2) == "t", res.text(i, 3) == "t"};
    return types_.emplace(name, std::move(t)).first->second;
}

std::size_t applier::apply_pipelined(pg::connection& c, const std::vector<pending>& batch, pg::result& failure,
                                     bool& failed_on_change) {
    // Column types first (the before-image comparisons name them), outside the pipeline.
    for (const auto& p : batch)
        for (auto i : p.apply) {
            const auto& ch = p.txn.changes[i];
            if (ch.kind != capture::op::ddl) types_of(c, p.txn.relations.at(ch.rel));
        }

    struct expect {
        std::size_t txn;
        int what;
    };
    std::vector<expect> ex;
    PGconn* conn = c.get();
    if (!PQenterPipelineMode(conn)) throw pg::error(c.message());
    PQsetnonblocking(conn, 1);
    auto check_sent = [&](int ok) {
        if (!ok) throw pg::error(c.message());
    };
    auto send_plain = [&](const std::string& sql, const std::vector<capture::value>& params, std::size_t t, int what) {
        auto v = pg::c_params(params);
        check_sent(PQsendQueryParams(conn, sql.c_str(), int(v.size()), nullptr, v.data(), nullptr, nullptr, 0));
        ex.push_back({t, what});
    };
    auto send_prepared = [&](const statement& st, std::size_t t, int what) {
        auto it = prepared_.find(st.sql);
        if (it == prepared_.end()) {
            std::string name = "sqltap_" + std::to_string(next_statement_++);
            check_sent(PQsendPrepare(conn, name.c_str(), st.sql.c_str(), int(st.params.size()), nullptr));
            ex.push_back({t, what_prepare});
            it = prepared_.emplace(st.sql, name).first;
        }
        auto v = pg::c_params(st.params);
        check_sent(PQsendQueryPrepared(conn, it->second.c_str(), int(v.size()), v.data(), nullptr, nullptr, 0));
        ex.push_back({t, what});
    };

    const std::string progress = progress_sql();
    for (std::size_t t = 0; t < batch.size(); ++t) {
        const auto& p = batch[t];
        if (t + 1 == batch.size()) send_plain("SET LOCAL synchronous_commit = on", {}, t, what_other);
        // No BEGIN/COMMIT: the statements up to a Sync are one implicit
        // transaction, committed at the Sync and rolled back whole by an error.
        send_prepared({progress, progress_params(opts_.name, p.prev, p.lsn, p.txn.commit_time_us, epoch_)}, t, what_progress);
        int checked = 0;
        int last_checked = -1;
        for (auto i : p.apply) {
            const auto& ch = p.txn.changes[i];
            switch (ch.kind) {
                case capture::op::insert: {
                    const auto& r = p.txn.relations.at(ch.rel);
                    send_prepared(insert_row(r, ch.new_row, types_of(c, r), false), t, int(i));
                    break;
                }
                case capture::op::update: {
                    const auto& r = p.txn.relations.at(ch.rel);
                    send_prepared(update_row(r, ch, types_of(c, r), checked++), t, int(i));
                    last_checked = int(i);
                    break;
                }
                case capture::op::del: {
                    const auto& r = p.txn.relations.at(ch.rel);
                    send_prepared(delete_row(r, ch, types_of(c, r), checked++), t, int(i));
                    last_checked = int(i);
                    break;
                }
                case capture::op::truncate:
                    send_plain("TRUNCATE " + qualified(p.txn.relations.at(ch.rel)), {}, t, int(i));
                    break;
                case capture::op::ddl:
                    send_plain("SELECT set_config('search_path', $1, true)", {ch.search_path}, t, what_other);
                    send_plain(ch.sql, {}, t, int(i));
                    break;
                case capture::op::resync: break;
            }
        }
        // A failure here is the last checked change's (the others fail by themselves).
        if (checked > 0) send_prepared({expect_seen_sql(), {std::to_string(checked)}}, t, last_checked);
        check_sent(PQpipelineSync(conn));
        ex.push_back({t, what_sync});
        c.flush();
    }

    std::size_t done = 0;
    bool failed = false;
    for (const auto& e : ex) {
        if (e.what == what_sync) {
            pg::result r = c.next_result();
            if (!r || r.status() != PGRES_PIPELINE_SYNC) throw pg::error("the subscriber's answers are out of step");
            if (!failed) ++done;
            continue;
        }
        // A query's results, then a null.
        for (;;) {
            pg::result r = c.next_result();
            if (!r) break;
            if (r.status() == PGRES_PIPELINE_ABORTED || r.ok()) continue;
            if (!failed) {
                failed = true;
                failed_on_change = e.what >= 0;
                failure = std::move(r);
            }
        }
    }
    PQsetnonblocking(conn, 0);
    if (!PQexitPipelineMode(conn)) throw pg::error(c.message());
    // Durable: all of them when the last (synchronous) one committed;
    // otherwise once the careful path's synchronous commit flushes them.
    if (done == batch.size())
        for (std::size_t t = 0; t < done; ++t) committed(batch[t]);
    return done;
}

void applier::committed(const pending& p) {
    std::lock_guard lock(mu_);
    status_.applied_lsn = p.lsn;
    if (!p.apply.empty()) {
        ++status_.applied_txns;
        status_.applied_rows += p.rows;
    }
}

void applier::apply_careful(pg::connection& c, const pending& p) {
    std::vector<conflict_record> conflicts;
    c.exec("BEGIN");
    c.exec("SET LOCAL synchronous_commit = on");
    try {
        auto r = c.try_exec(progress_sql(), progress_params(opts_.name, p.prev, p.lsn, p.txn.commit_time_us, epoch_));
        if (!r.ok()) {
            if (r.sqlstate() != conflict_sqlstate) throw pg::error("the progress update failed: " + r.message(), r.sqlstate());
            c.exec("ROLLBACK");
            progress_row now = read_progress_row(c, opts_.name, ctx_.log->log_id());
            if (now.syncing || now.epoch != epoch_)
                throw sync_running("an initial sync (sqltapd --sync " + opts_.name + ") took over the subscriber");
            throw stop_applying("the subscriber's progress row is not where this applier left it (applied LSN " +
                                std::to_string(now.applied_lsn) + ", expected " + std::to_string(p.prev) +
                                "): is another sqltapd applying to it?");
        }
        for (auto i : p.apply) apply_change_careful(c, p, i, conflicts);
        // Recorded before the COMMIT, under keys that a second attempt rewrites.
        for (const auto& k : conflicts)
            if (auto ec = store(*ctx_.log, conflict_key(k.subscriber, k.lsn, k.change), encode(k)))
                throw pg::error("cannot record a conflict in the change log: " + ec.message(), "XX000");
        bool stop = std::any_of(conflicts.begin(), conflicts.end(),
                                [](const conflict_record& k) { return k.resolution == policy::error; });
        c.exec(stop ? "ROLLBACK" : "COMMIT");
        {
            std::lock_guard lock(mu_);
            status_.conflicts += conflicts.size();
        }
        if (stop) {
            const auto& k = conflicts.back();
            throw stop_applying(std::string(to_string(k.kind)) + " on " + k.schema + "." + k.table + " at LSN " +
                                std::to_string(k.lsn) + " (conflict policy error; sqltap-dump --conflicts shows it)");
        }
    } catch (...) {
        if (PQtransactionStatus(c.get()) != PQTRANS_IDLE && PQstatus(c.get()) == CONNECTION_OK) c.try_exec("ROLLBACK");
        throw;
    }
    committed(p);
}

void applier::apply_change_careful(pg::connection& c, const pending& p, std::uint32_t index,
                                   std::vector<conflict_record>& conflicts) {
    const auto& ch = p.txn.changes[index];
    auto run = [&](const statement& st) {
        auto r = c.try_exec(st.sql, st.params);
        if (!r.ok())
            throw pg::error("applying LSN " + std::to_string(p.lsn) + " failed: " + r.message(), r.sqlstate());
        return r;
    };
    if (ch.kind == capture::op::ddl) {
        run({"SELECT set_config('search_path', $1, true)", {ch.search_path}});
        run({ch.sql, {}});
        types_.clear();
        return;
    }
    const auto& rel = p.txn.relations.at(ch.rel);
    if (ch.kind == capture::op::truncate) {
        run({"TRUNCATE " + qualified(rel), {}});
        return;
    }
    const auto& types = types_of(c, rel);
    conflict_record k;
    k.key = ch.kind == capture::op::insert ? key_of(rel, ch.new_row) : ch.key;
    switch (ch.kind) {
        case capture::op::insert:
            if (run(insert_row(rel, ch.new_row, types, true)).affected() == 1) return;
            k.kind = conflict_kind::insert_exists;
            break;
        case capture::op::update:
            if (run(update_row(rel, ch, types, -1)).affected() >= 1) return;
            k.kind = conflict_kind::update_missing;
            break;
        default:
            if (run(delete_row(rel, ch, types, -1)).affected() >= 1) return;
            k.kind = conflict_kind::delete_missing;
            break;
    }
    auto local = run(select_row(rel, k.key, types));
    if (local.rows() > 0) {
        k.local_row = local.row(0);
        if (k.kind == conflict_kind::update_missing) k.kind = conflict_kind::update_differs;
        if (k.kind == conflict_kind::delete_missing) k.kind = conflict_kind::delete_differs;
    }
    k.subscriber = opts_.name;
    k.lsn = p.lsn;
    k.change = index;
    k.xid = p.txn.xid;
    k.commit_time_us = p.txn.commit_time_us;
    k.schema = rel.schema;
    k.table = rel.table;
    k.resolution = opts_.conflict_for(rel.schema, rel.table);
    k.columns = rel.columns;
    for (auto i : rel.key_columns) k.key_columns.push_back(rel.columns.at(i));
    k.old_row = ch.old_row;
    if (ch.kind != capture::op::del) k.new_row = ch.new_row;
    k.time_us = now_us();

    std::string done = "the subscriber's row is kept";
    if (k.resolution == policy::source_wins) {
        switch (k.kind) {
            case conflict_kind::insert_exists:
            case conflict_kind::update_differs: {
                capture::change u = ch;
                u.kind = capture::op::update;
                u.key = k.key;
                if (run(update_row(rel, u, types, -1, false)).affected() < 1)
                    throw pg::error("applying LSN " + std::to_string(p.lsn) + ": the row of the conflict went away");
                done = "the row is made the publisher's";
                break;
            }
            case conflict_kind::update_missing:
                run(insert_row(rel, ch.new_row, types, false));
                done = "the publisher's row is inserted";
                break;
            case conflict_kind::delete_differs:
                run(delete_row(rel, ch, types, -1, false));
                done = "the row is deleted";
                break;
            case conflict_kind::delete_missing: done = "nothing to delete"; break;
        }
    } else if (k.resolution == policy::skip) {
        done = "the change is skipped";
    } else if (k.resolution == policy::error) {
        done = "the subscriber stops";
    }
    ctx_.warn("subscriber " + opts_.name + ": conflict " + std::string(to_string(k.kind)) + " on " + rel.schema + "." +
              rel.table + " at LSN " + std::to_string(p.lsn) + " (" + std::string(to_string(k.resolution)) + ": " +
              done + ")");
    conflicts.push_back(std::move(k));
}

}  // namespace sqltap::replay
