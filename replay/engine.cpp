#include "replay/engine.hpp"

#include <future>
#include <limits>

namespace sqltap::replay {

engine::engine(capture::change_log& log, replay_options opts) : log_(log), opts_(std::move(opts)) {
    for (const auto& s : opts_.subscribers) {
        applier_context ctx;
        ctx.log = &log_;
        ctx.node_name = opts_.node_name;
        ctx.info = opts_.info;
        ctx.warn = opts_.warn;
        appliers_.push_back(std::make_unique<applier>(s, ctx));
    }
    for (auto& a : appliers_) a->start();
    thread_ = std::thread([this] { loop(); });
}

engine::~engine() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    for (auto& a : appliers_) a->stop();
    housekeeping();  // the last states, as they ended
}

applier* engine::find(const std::string& name) const {
    for (const auto& a : appliers_)
        if (a->options().name == name) return a.get();
    return nullptr;
}

bool engine::pause(const std::string& name) {
    auto* a = find(name);
    if (a) a->pause();
    return a != nullptr;
}

bool engine::resume(const std::string& name) {
    auto* a = find(name);
    if (a) a->resume();
    return a != nullptr;
}

subscriber_status engine::with_lag(subscriber_status s) const {
    // From the log, whatever the applier is doing: one busy with a long batch
    // (or paused, offline, stopped) does not see what was appended since.
    auto l = lag_behind(log_, s.applied_lsn, log_.visible_end());
    s.end_lsn = l.end_lsn;
    s.lag_entries = l.entries;
    s.lag_seconds = l.seconds;
    return s;
}

std::vector<subscriber_status> engine::statuses() const {
    std::vector<subscriber_status> out;
    std::lock_guard lock(mu_);
    for (const auto& a : appliers_) {
        auto s = with_lag(a->status());
        auto it = rates_.find(s.name);
        if (it != rates_.end()) {
            s.txn_rate = it->second.txn_rate;
            s.row_rate = it->second.row_rate;
        }
        out.push_back(std::move(s));
    }
    return out;
}

void engine::loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
        cv_.wait_for(lock, opts_.interval, [&] { return stopping_; });
        if (stopping_) break;
        lock.unlock();
        try {
            housekeeping();
        } catch (const std::exception& e) {
            opts_.warn(std::string("replay housekeeping: ") + e.what());
        }
        lock.lock();
    }
}

void engine::housekeeping() {
    auto now = std::chrono::steady_clock::now();
    std::vector<subscriber_status> st;
    {
        std::lock_guard lock(mu_);
        for (const auto& a : appliers_) {
            auto s = with_lag(a->status());
            auto& r = rates_[s.name];
            if (r.at != std::chrono::steady_clock::time_point{}) {
                double dt = std::chrono::duration<double>(now - r.at).count();
                if (dt > 0) {
                    r.txn_rate = double(s.applied_txns - r.txns) / dt;
                    r.row_rate = double(s.applied_rows - r.rows) / dt;
                }
            }
            r.txns = s.applied_txns;
            r.rows = s.applied_rows;
            r.at = now;
            s.txn_rate = r.txn_rate;
            s.row_rate = r.row_rate;
            st.push_back(std::move(s));
        }
    }
    for (auto& s : st) {
        s.updated_us = now_us();
        log_.put_replay(status_key(s.name), encode(s), [](std::error_code, std::uint64_t) {});
    }
    if (now - last_summary_ >= std::chrono::seconds(60)) {
        last_summary_ = now;
        for (const auto& s : st)
            opts_.info("subscriber " + s.name + ": " + std::string(to_string(s.st)) + ", applied LSN " +
                       std::to_string(s.applied_lsn) + ", lag " + std::to_string(s.lag_entries) + " entries / " +
                       std::to_string(static_cast<long long>(s.lag_seconds)) + " s, " +
                       std::to_string(static_cast<long long>(s.txn_rate)) + " txn/s, " +
                       std::to_string(s.conflicts) + " conflicts");
    }
    purge(st);
}

void engine::purge(const std::vector<subscriber_status>& st) {
    if (appliers_.empty()) return;  // nobody consumes the log: it is kept whole
    auto bound_of = [&](const std::vector<subscriber_status>& ss) {
        std::uint64_t b = std::numeric_limits<std::uint64_t>::max();
        for (const auto& s : ss)
            if (s.st != state::stale) b = std::min(b, s.applied_lsn + 1);
        // An initial sync (in this process or another) holds the entries after
        // the position it copies at, until its subscriber's applier stands there.
        log_.scan_replay(sync_prefix, [&](std::string_view, std::string_view v) {
            sync_mark m = parse_sync_mark(v);
            if (m.running || m.done) b = std::min(b, m.lsn + 1);
            return true;
        });
        return b;
    };
    std::uint64_t below = bound_of(st);
    if (below == std::numeric_limits<std::uint64_t>::max()) below = log_.visible_end();
    if (opts_.keep.count() > 0) {
        // Entries younger than `keep` stay, applied or not.
        std::int64_t cutoff = now_us() - std::int64_t(opts_.keep.count()) * 1000;
        std::uint64_t young = below;
        log_.read(0, below, [&](std::uint64_t lsn, std::string_view bytes) {
            capture::transaction t;
            if (capture::decode(bytes, t) || t.commit_time_us > cutoff) {
                young = lsn;
                return false;
            }
            return true;
        });
        below = std::min(below, young);
    }
    for (;;) {
        std::promise<std::pair<std::error_code, std::uint64_t>> p;
        log_.purge(below, 10000, [&](std::error_code ec, std::uint64_t n) { p.set_value({ec, n}); });
        auto [ec, n] = p.get_future().get();
        if (ec || n < 10000) break;
    }
    if (opts_.max_log_size == 0) return;
    auto ls = log_.stats();
    if (ls.data_bytes <= opts_.max_log_size) return;
    // The log is past its limit: the subscriber furthest behind, if one is
    // holding entries the others have applied, gives them up.
    const subscriber_status* slowest = nullptr;
    for (const auto& s : st)
        if (s.st != state::stale && (!slowest || s.applied_lsn < slowest->applied_lsn)) slowest = &s;
    if (!slowest || slowest->applied_lsn + 1 >= log_.visible_end()) {
        opts_.warn("the change log holds " + std::to_string(ls.data_bytes) + " bytes, more than max_log_size (" +
                   std::to_string(opts_.max_log_size) + "), and no subscriber is behind");
        return;
    }
    for (auto& a : appliers_) {
        if (a->options().name != slowest->name) continue;
        std::string why = "it fell so far behind (applied LSN " + std::to_string(slowest->applied_lsn) +
                          ") that keeping its entries would pass [capture] max_log_size (" +
                          std::to_string(opts_.max_log_size) + " bytes); it needs a new initial sync (sqltapd --sync " +
                          slowest->name + ")";
        a->mark_stale(why);
        opts_.error("subscriber " + slowest->name + " is STALE: " + why);
        // Kept at once (not at the next tick), so what readers of the log
        // (sqltap-dump --subscribers) see never lags the message above by a tick.
        auto now_st = with_lag(a->status());
        now_st.updated_us = now_us();
        log_.put_replay(status_key(now_st.name), encode(now_st), [](std::error_code, std::uint64_t) {});
    }
}

}  // namespace sqltap::replay
