#pragma once
// The replay engine: one applier per configured subscriber, plus the
// housekeeping they share — their states written beside the log every
// second (for sqltap-dump --subscribers), retention (entries every
// subscriber has applied are purged, after `keep`), and max_log_size (the
// subscriber holding the log past it is marked stale).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "capture/change_log.hpp"
#include "replay/applier.hpp"
#include "replay/state.hpp"

namespace sqltap::replay {

struct replay_options {
    std::vector<subscriber_options> subscribers;
    std::string node_name = "sqltap";
    std::chrono::milliseconds keep{0};  // applied entries stay at least this long
    std::uint64_t max_log_size = 0;     // bytes of log data; 0: no limit
    std::chrono::milliseconds interval{1000};
    std::function<void(const std::string&)> info, warn, error;
};

class engine {
public:
    // Starts every applier. The log must outlive the engine.
    engine(capture::change_log& log, replay_options opts);
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    std::vector<subscriber_status> statuses() const;
    // The admin console's PAUSE/RESUME SUBSCRIBER; false: no such subscriber.
    bool pause(const std::string& name);
    bool resume(const std::string& name);
    // One round of housekeeping now (tests); the engine's thread runs it every interval.
    void housekeeping();

private:
    void loop();
    applier* find(const std::string& name) const;
    void purge(const std::vector<subscriber_status>& st);
    // An applier's status with its lag as the log has it now.
    subscriber_status with_lag(subscriber_status s) const;

    capture::change_log& log_;
    replay_options opts_;
    std::vector<std::unique_ptr<applier>> appliers_;

    struct rate {
        std::uint64_t txns = 0, rows = 0;
        std::chrono::steady_clock::time_point at{};
        double txn_rate = 0, row_rate = 0;
    };
    mutable std::mutex mu_;
    std::map<std::string, rate> rates_;
    std::chrono::steady_clock::time_point last_summary_{};
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace sqltap::replay
