#pragma once
// One subscriber's applier: a thread that reads the change log in LSN order
// and applies each source transaction as one subscriber transaction, many
// of them per round trip (libpq pipeline mode), with the subscriber's
// progress row advanced inside each of them (exactly once across crashes of
// either side). Independent of every other applier and of the proxy.
//
// Fast path: each transaction is progress prev -> lsn (checked); checked
// changes; Sync (one implicit transaction, committed at the Sync). A transaction whose change finds a conflict
// fails, and so does every later one of the same pipeline (its progress check
// no longer matches), so nothing is ever applied out of order. The failed
// transaction is then applied again on the careful path: change by change,
// each conflict recorded and resolved by the table's policy.
#include <atomic>
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
#include "capture/table_filter.hpp"
#include "replay/pg.hpp"
#include "replay/progress.hpp"
#include "replay/state.hpp"
#include "replay/statements.hpp"

namespace sqltap::replay {

struct applier_context {
    capture::change_log* log = nullptr;
    std::string node_name;  // this sqltapd's: apply sessions are application_name sqltap-replay/<node_name>
    std::function<void(const std::string&)> info, warn;
    std::size_t max_batch_txns = 1000, max_batch_rows = 20000;
};

class applier {
public:
    applier(subscriber_options opts, applier_context ctx);
    ~applier();
    applier(const applier&) = delete;
    applier& operator=(const applier&) = delete;

    void start();
    void stop();  // returns when the thread has ended
    subscriber_status status() const;
    const subscriber_options& options() const noexcept { return opts_; }
    // Stops applying for good (the log no longer holds what it needs).
    void mark_stale(const std::string& why);
    // The admin console: pause stops applying after the current batch (the
    // state shows paused) until resume; resume also retries at once a
    // subscriber that is offline or stopped in error.
    void pause();
    void resume();

private:
    struct pending {
        std::uint64_t lsn = 0, prev = 0;
        capture::transaction txn;
        std::vector<std::uint32_t> apply;  // indexes of the changes this subscriber takes
        std::size_t rows = 0;
        bool ddl = false;  // holds DDL: applied alone, on the careful path
    };
    struct stop_applying : std::runtime_error {
        using std::runtime_error::runtime_error;
    };
    // An initial sync holds the subscriber: wait, without backoff.
    struct sync_running : std::runtime_error {
        using std::runtime_error::runtime_error;
    };
    struct pause_requested : std::runtime_error {
        using std::runtime_error::runtime_error;
    };
    bool wait_while_paused();  // false when stopping

    void run();
    bool wait_for_sync();  // while stale; false when stopping
    void session(pg::connection& c);
    std::uint64_t read_progress(pg::connection& c);
    std::vector<pending> next_batch(std::uint64_t& read_pos, std::uint64_t end, std::uint64_t sent);
    bool takes(const capture::transaction& t, const capture::change& ch) const;
    const column_types& types_of(pg::connection& c, const capture::relation& r);
    // Sends the batch in one pipeline; returns how many transactions committed.
    std::size_t apply_pipelined(pg::connection& c, const std::vector<pending>& batch, pg::result& failure,
                                bool& failed_on_change);
    void apply_careful(pg::connection& c, const pending& p);
    void apply_change_careful(pg::connection& c, const pending& p, std::uint32_t index,
                              std::vector<conflict_record>& conflicts);
    void committed(const pending& p);
    void set_state(state s, const std::string& message = {});
    bool sleep_for(std::chrono::milliseconds d);  // false when stopping

    subscriber_options opts_;
    applier_context ctx_;
    capture::table_filter filter_;

    std::map<std::string, column_types> types_;    // "schema.table" -> the subscriber's columns
    std::map<std::string, std::string> prepared_;  // SQL -> prepared statement name
    std::size_t next_statement_ = 0;
    std::int64_t epoch_ = 0;                  // of the progress row, read at connect
    std::optional<snapshot> sync_snapshot_;   // the last initial sync's, if any

    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    bool paused_ = false;
    bool kick_ = false;  // resume(): end the current wait now
    subscriber_status status_;
    std::thread thread_;
};

}  // namespace sqltap::replay
