#include "capture/engine.hpp"

#include <cstdio>

namespace sqltap::capture {
namespace {

// In-doubt entries older than this are asked about by the worker; younger ones
// normally belong to a session that is waiting for its COMMIT's answer.
constexpr auto resolve_age = std::chrono::seconds(3);

}  // namespace

void engine::warn(const std::string& s) const {
    if (opts_.warn) opts_.warn(s);
    else std::fprintf(stderr, "sqltap capture: %s\n", s.c_str());
}
void engine::info(const std::string& s) const {
    if (opts_.info) opts_.info(s);
    else std::fprintf(stderr, "sqltap capture: %s\n", s.c_str());
}

std::shared_ptr<engine> engine::start(const engine_options& o) {
    std::shared_ptr<engine> e(new engine(o));
    // One admin connection at start: what a previous run left in doubt is
    // resolved now if the publisher answers (otherwise the worker keeps
    // trying), and the publisher's settings are checked.
    if (auto n = e->log_->recovered_from_journal())
        e->info("took " + std::to_string(n) + " records the change log lacked back from its journal, in doubt");
    const bool in_doubt = !e->log_->in_doubt().empty();
    const bool check = !o.admin_conninfo.empty();
    if (in_doubt || check) {
        std::unique_ptr<admin_connection> c;
        try {
            c = std::make_unique<admin_connection>(o.admin_conninfo, o.admin_database);
            if (in_doubt) {
                auto report = recover_in_doubt(*e->log_, [&](const in_doubt_entry& d) {
                    return query_xact_status(*c, d);
                });
                e->info("recovered in-doubt log entries: " + std::to_string(report.committed) + " committed, " +
                        std::to_string(report.aborted) + " aborted, " + std::to_string(report.in_progress) +
                        " still in progress, " + std::to_string(report.unknown) + " unknown");
                for (const auto& p : report.problems) e->warn(p);
            }
        } catch (const std::exception& x) {
            if (in_doubt) e->warn(std::string("in-doubt entries wait for the publisher: ") + x.what());
        }
        // Checked again at the next start when the publisher is down now.
        if (c && check) e->check_publisher_settings(*c);
    }
    e->worker_ = std::thread([p = e.get()] { p->worker_loop(); });
    return e;
}

void engine::check_publisher_settings(admin_connection& c) {
    PGresult* r = PQexec(c.get(), "SELECT current_setting('synchronous_commit'), "
                                  "current_setting('track_commit_timestamp')");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        std::string sync = PQgetvalue(r, 0, 0), ts = PQgetvalue(r, 0, 1);
        if (sync == "off")
            warn("the publisher runs with synchronous_commit = off: a crash of the publisher loses commits it "
                 "acknowledged, which the change log keeps (docs/reliability.md)");
        if (ts != "on")
            warn("the publisher runs with track_commit_timestamp = off: after a crash of the publisher, a "
                 "transaction whose COMMIT was cut off can be taken for committed when a new transaction "
                 "reuses its xid (docs/reliability.md); turn it on to rule that out");
    }
    PQclear(r);
}

engine::engine(const engine_options& o) : opts_(o), filter_(o.tables, o.exclude) {
    log_options lo;
    lo.dir = o.log_dir;
    lo.map_size = o.log_map_size;
    // async durability: committed appends gather for a few milliseconds and
    // are flushed once per group without the meta page's own flush (a system
    // crash may lose the last group, never the log's integrity). strict:
    // in-doubt appends are durable in the journal at once, and the log is
    // committed and flushed every few milliseconds (change_log.hpp).
    lo.sync = o.strict;
    lo.journal = o.strict;
    lo.linger = std::chrono::milliseconds(10);
    lo.warn = [this](const std::string& m) { warn(m); };
    log_ = change_log::open(lo);
}

engine::~engine() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    log_->flush();
}

void engine::post(std::function<void()> task) {
    {
        std::lock_guard lock(mu_);
        tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
}

void engine::worker_loop() {
    auto next_pass = std::chrono::steady_clock::now();
    for (;;) {
        std::function<void()> task;
        {
            std::unique_lock lock(mu_);
            cv_.wait_until(lock, next_pass, [&] { return stopping_ || !tasks_.empty(); });
            if (stopping_) return;
            if (!tasks_.empty()) {
                task = std::move(tasks_.front());
                tasks_.pop_front();
            }
        }
        if (task) {
            task();
            continue;
        }
        resolve_pending();
        write_gaps();
        revalidate_catalog();
        next_pass = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
}

admin_connection& engine::admin(const std::string& database) {
    auto it = admins_.find(database);
    if (it != admins_.end() && it->second->ok()) return *it->second;
    if (it != admins_.end()) admins_.erase(it);
    auto c = std::make_unique<admin_connection>(opts_.admin_conninfo, database);
    return *admins_.emplace(database, std::move(c)).first->second;
}

void engine::lost(const std::string& database, const std::string& xid,
                  const std::vector<std::pair<std::string, std::string>>& tables, std::error_code why) {
    counters_.lost_transactions.fetch_add(1, std::memory_order_relaxed);
    bool first;
    {
        std::lock_guard lock(gap_mu_);
        first = gaps_.empty() && !gap_writing_;
        auto& set = gaps_[database];
        for (const auto& t : tables) set.insert(t);
        if (!first) ++gap_unreported_;
    }
    if (!first) return;  // the worker reports the rest once a second
    std::string list;
    for (const auto& [schema, table] : tables) list += (list.empty() ? "" : ", ") + schema + "." + table;
    warn("transaction " + xid + " committed on database " + database + " but the change log could not take it (" +
         why.message() + "); " + list +
         " need a new initial sync on every subscriber (sqltapd --sync). A resync record goes into the log as "
         "soon as it has room; commits wait for the log meanwhile, and are refused while it stays full");
}

void engine::refused(std::error_code why) {
    counters_.log_failures.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t count;
    {
        std::lock_guard lock(refused_mu_);
        auto now = std::chrono::steady_clock::now();
        ++refused_unsaid_;
        if (refused_said_ != std::chrono::steady_clock::time_point{} && now - refused_said_ < std::chrono::seconds(10))
            return;
        refused_said_ = now;
        count = refused_unsaid_;
        refused_unsaid_ = 0;
    }
    warn(std::to_string(count) + " commit(s) refused: the change log could not take them (" + why.message() +
         "); nothing of them was committed. " +
         (why == log_errc::full ? "Space returns when subscribers catch up and their entries are purged, or "
                                  "with a larger [capture] log_map_size after a restart"
                                : std::string("See the errors above")));
}

void engine::write_gaps() {
    std::map<std::string, std::set<std::pair<std::string, std::string>>> gaps;
    std::uint64_t unreported;
    {
        std::lock_guard lock(gap_mu_);
        if (gap_writing_) return;
        gaps.swap(gaps_);
        unreported = gap_unreported_;
        gap_unreported_ = 0;
        gap_writing_ = !gaps.empty();
    }
    if (unreported > 0)
        warn(std::to_string(unreported) +
             " more committed transactions could not be written to the change log; their tables get resync records");
    if (gaps.empty()) return;
    auto left = std::make_shared<std::atomic<std::size_t>>(gaps.size());
    for (auto& [db, tbls] : gaps) {
        const std::string& database = db;  // clang 14 cannot capture structured bindings
        const auto& tables = tbls;
        transaction t;
        t.xid = "0";  // no transaction of its own: a note in the order
        t.database = database;
        t.commit_time_us =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        for (const auto& [schema, table] : tables) {
            relation rel;
            rel.schema = schema;
            rel.table = table;
            change c;
            c.kind = op::resync;
            c.reason = "committed while the change log could not take its changes";
            c.rel = t.relation_index(rel);
            t.changes.push_back(std::move(c));
        }
        log_->append_committed(std::move(t), [this, left, database, tables](std::error_code ec, std::uint64_t lsn) {
            std::lock_guard lock(gap_mu_);
            if (ec) {
                auto& set = gaps_[database];
                set.insert(tables.begin(), tables.end());  // tried again at the next pass
            } else {
                info("resync records for " + std::to_string(tables.size()) + " table(s) of database " + database +
                     " written at LSN " + std::to_string(lsn));
            }
            if (left->fetch_sub(1) == 1) gap_writing_ = false;
        });
    }
}

void engine::resolve_pending() {
    auto now = std::chrono::steady_clock::now();
    std::vector<in_doubt_entry> entries;
    try {
        entries = log_->in_doubt();
    } catch (const std::exception& x) {
        warn(std::string("cannot read in-doubt entries: ") + x.what());
        return;
    }
    std::map<std::uint64_t, std::chrono::steady_clock::time_point> seen;
    for (const auto& d : entries) {
        auto it = first_seen_.find(d.lsn);
        auto t = it == first_seen_.end() ? now : it->second;
        seen[d.lsn] = t;
        if (now - t < resolve_age) continue;
        try {
            xact_status s = query_xact_status(admin(d.database.empty() ? opts_.admin_database : d.database), d);
            if (s == xact_status::committed || s == xact_status::aborted) {
                log_->resolve(d.lsn, s == xact_status::committed, [](std::error_code, std::uint64_t) {});
            } else if (s == xact_status::unknown) {
                warn("log entry " + std::to_string(d.lsn) + " (xid " + d.xid +
                     "): the publisher no longer knows the transaction; it stays in doubt");
            }
        } catch (const std::exception& x) {
            admins_.erase(d.database);
            warn(std::string("in-doubt entry ") + std::to_string(d.lsn) + ": " + x.what());
        }
    }
    first_seen_ = std::move(seen);
}

std::string engine::cache_key(const std::string& database, const std::vector<std::string>& schemas,
                              const table_name& name) {
    std::string k = database;
    k += '\0';
    if (name.schema.empty()) {
        for (const auto& s : schemas) {
            k += s;
            k += '\x01';
        }
    }
    k += '\0';
    k += name.schema;
    k += '\0';
    k += name.name;
    return k;
}

std::optional<table_ptr> engine::cached_table(const std::string& database, const std::vector<std::string>& schemas,
                                              const table_name& name) {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(cache_key(database, schemas, name));
    if (it == cache_.end()) return std::nullopt;
    return it->second;
}

void engine::lookup_table(const std::string& database, std::vector<std::string> schemas, table_name name,
                          std::function<void(table_ptr, std::string)> done) {
    post([this, database, schemas = std::move(schemas), name = std::move(name), done = std::move(done)] {
        std::string error;
        table_ptr p;
        try {
            // DDL may commit while the catalog is read: an answer read under
            // an older generation may describe the table as it was, so read
            // it again (and never cache what may be stale).
            bool fresh = false;
            for (int attempt = 0; attempt < 5 && !fresh; ++attempt) {
                std::uint64_t before = generation();
                auto t = load_table(admin(database), name, schemas);
                if (t) apply_rules(*t);
                p = t ? std::make_shared<const table_info>(std::move(*t)) : nullptr;
                std::lock_guard lock(cache_mu_);
                fresh = generation() == before;
                if (!fresh) continue;
                if (cache_.size() > 100000) cache_.clear();
                cache_[cache_key(database, schemas, name)] = p;
            }
            if (p && p->key == key_source::all_columns)
                warn("table " + p->schema + "." + p->name +
                     " has neither a primary key nor a replica identity index: all its columns identify a row");
        } catch (const std::exception& x) {
            admins_.erase(database);
            counters_.catalog_failures.fetch_add(1, std::memory_order_relaxed);
            error = x.what();
        }
        done(std::move(p), std::move(error));
    });
}

void engine::revalidate_catalog() {
    std::map<std::string, std::map<std::uint32_t, std::string>> cached;  // database -> oid -> fingerprint
    {
        std::lock_guard lock(cache_mu_);
        for (auto it = cache_.begin(); it != cache_.end();) {
            if (!it->second) {
                it = cache_.erase(it);
                continue;
            }
            cached[it->first.substr(0, it->first.find('\0'))][it->second->oid] = it->second->fingerprint;
            ++it;
        }
    }
    for (const auto& [database, fps] : cached) {
        std::vector<std::uint32_t> oids;
        for (const auto& [oid, fp] : fps) oids.push_back(oid);
        try {
            auto now = fingerprints(admin(database), oids);
            for (const auto& [oid, fp] : fps) {
                auto it = now.find(oid);
                if (it != now.end() && it->second == fp) continue;
                info("database " + database + ": a table's definition changed without DDL through sqltapd (oid " +
                     std::to_string(oid) + "); the catalog is read again");
                invalidate(database);
                break;
            }
        } catch (const std::exception& x) {
            admins_.erase(database);
            warn("cannot check the catalog of database " + database + ": " + x.what());
        }
    }
}

void engine::apply_rules(table_info& t) const {
    t.before_images = opts_.before_images;
    for (const auto& r : opts_.table_rules) {
        if (r.schema != t.schema || r.table != t.name) continue;
        for (const auto& c : apply_rule(t, r))
            warn("[table " + r.schema + "." + r.table + "] columns: the table has no column \"" + c + "\"");
        if (!t.row_filter.empty() && t.key == key_source::all_columns)
            warn("[table " + r.schema + "." + r.table + "] filter: the table has no primary key or replica "
                 "identity; its UPDATEs are refused while it has a row filter");
    }
}

void engine::invalidate(const std::string& database) {
    std::string prefix = database;
    prefix += '\0';
    std::lock_guard lock(cache_mu_);
    generation_.fetch_add(1, std::memory_order_relaxed);
    for (auto it = cache_.begin(); it != cache_.end();) {
        if (it->first.compare(0, prefix.size(), prefix) == 0) it = cache_.erase(it);
        else ++it;
    }
}

void engine::prepared(const std::string& database, const std::string& gid, std::uint64_t lsn) {
    std::lock_guard lock(gid_mu_);
    prepared_[{database, gid}] = lsn;
}

void engine::finish_prepared(const std::string& database, const std::string& gid, bool committed) {
    std::uint64_t lsn = 0;
    {
        std::lock_guard lock(gid_mu_);
        auto it = prepared_.find({database, gid});
        if (it != prepared_.end()) {
            lsn = it->second;
            prepared_.erase(it);
        }
    }
    // Unknown here (prepared before a restart, or not by a client of ours):
    // the worker's pass finds it through pg_xact_status.
    if (lsn != 0) {
        log_->resolve(lsn, committed, [](std::error_code, std::uint64_t) {});
        if (committed) counters_.transactions.fetch_add(1, std::memory_order_relaxed);
    }
}


}  // namespace sqltap::capture
