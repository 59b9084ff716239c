#pragma once
// What every capturing session shares: the change log, the table filter, the
// catalog cache and the worker thread that talks to the publisher over admin
// connections (catalog lookups, in-doubt resolution). Sessions never block on
// any of it: lookups complete through callbacks run on the worker thread.
// In-doubt entries that stay so (a session ended while its COMMIT was on its
// way) are resolved by the worker's pass every second.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "capture/catalog.hpp"
#include "capture/change_log.hpp"
#include "capture/recovery.hpp"
#include "capture/table_filter.hpp"

namespace sqltap::capture {

struct engine_options {
    std::string log_dir;
    std::size_t log_map_size = std::size_t{16} << 30;
    bool strict = true;
    bool reject_uncaptured = true;
    // write_check = always: every transaction that may write is checked by
    // the write counts; auto: only those that could write unseen.
    bool always_check_writes = false;
    std::string tables = "*.*", exclude;
    std::vector<table_rule> table_rules;  // [table SCHEMA.TABLE] sections
    bool before_images = true;            // UPDATEs log the row before them (subscribers' conflict checks)
    bool prepare_writes = true;           // repeated simple-protocol writes run prepared (prepared_writes.hpp)
    std::string admin_conninfo;  // dbname replaced per database
    std::string admin_database = "postgres";  // for recovery at startup
    std::function<void(const std::string&)> warn;  // log sink (warnings); default stderr
    std::function<void(const std::string&)> info;  // log sink (information); default stderr
};

struct engine_counters {
    std::atomic<std::uint64_t> transactions{0};       // appended and committed
    std::atomic<std::uint64_t> changes{0};
    std::atomic<std::uint64_t> rejected_uncaptured{0};
    std::atomic<std::uint64_t> flagged_uncaptured{0};  // uncaptured = log
    std::atomic<std::uint64_t> log_failures{0};
    // async: committed on the publisher, but the log could not take the entry
    std::atomic<std::uint64_t> lost_transactions{0};
    std::atomic<std::uint64_t> catalog_failures{0};
    // Captured writes of simple Queries sent as EXECUTE of sqltapd's
    // prepared statements (prepared_writes.hpp), and of those the ones that
    // took the shortcut (known by their text but for numbers: not analysed
    // or rewritten again).
    std::atomic<std::uint64_t> prepared_writes{0};
    std::atomic<std::uint64_t> prepared_shortcuts{0};
};

using table_ptr = std::shared_ptr<const table_info>;

class engine {
public:
    // Opens the log, resolves what a previous run left in doubt (when the
    // publisher answers; otherwise later, in the background) and starts the
    // worker. Throws std::runtime_error when the log cannot be opened.
    static std::shared_ptr<engine> start(const engine_options& o);
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    const engine_options& options() const noexcept { return opts_; }
    change_log& log() noexcept { return *log_; }
    const table_filter& filter() const noexcept { return filter_; }
    // Applies the table's [table] rule, if it has one (warning about listed
    // columns it does not have).
    void apply_rules(table_info& t) const;
    engine_counters& counters() noexcept { return counters_; }
    // Whether a COMMIT waits until its entry is in the log: always in strict
    // mode; in async mode while the log is full (change_log::full), so that
    // a full log refuses commits instead of losing them.
    bool commit_waits_for_log() const noexcept { return opts_.strict || log_->full(); }

    // async: a transaction committed on the publisher whose entry the log
    // could not take. Said loudly, and each table it wrote gets a resync
    // record (it needs a new initial sync) as soon as the log takes entries.
    void lost(const std::string& database, const std::string& xid,
              const std::vector<std::pair<std::string, std::string>>& tables, std::error_code why);

    // ---- catalog ----
    // A cached resolution of `name` for a session of `database` whose search
    // path is `schemas`. Outer nullopt: not cached yet; inner null: no such table.
    std::optional<table_ptr> cached_table(const std::string& database, const std::vector<std::string>& schemas,
                                          const table_name& name);
    // Resolves on the worker thread, caches, then calls done(table, error)
    // there (table null: no such table; error non-empty: the lookup failed).
    void lookup_table(const std::string& database, std::vector<std::string> schemas, table_name name,
                      std::function<void(table_ptr, std::string error)> done);
    // DDL passed: forget what is cached for this database.
    void invalidate(const std::string& database);
    // Changes at every invalidate(): a statement planned under an older
    // generation may name columns that changed since (prepared statements).
    std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_relaxed); }

    // ---- two-phase commit: PREPARE TRANSACTION wrote an in-doubt entry ----
    void prepared(const std::string& database, const std::string& gid, std::uint64_t lsn);
    // COMMIT/ROLLBACK PREPARED went through (from any session).
    void finish_prepared(const std::string& database, const std::string& gid, bool committed);

    // A commit was refused because the log could not take its entry: counted
    // (log_failures) and said in sqltapd's log at once, then at most every
    // 10 seconds with a count.
    void refused(std::error_code why);

    void warn(const std::string& s) const;
    void info(const std::string& s) const;

private:
    explicit engine(const engine_options& o);
    void post(std::function<void()> task);
    void worker_loop();
    void resolve_pending();  // worker thread
    void check_publisher_settings(admin_connection& c);  // warns of settings that weaken what the log promises
    void write_gaps();       // worker thread: the resync records lost() owes
    // Worker thread: forgets a database's cached tables when one of them
    // changed without DDL through sqltapd (its fingerprint moved), and every
    // "no such table" (it may have been created since).
    void revalidate_catalog();
    admin_connection& admin(const std::string& database);  // worker thread
    static std::string cache_key(const std::string& database, const std::vector<std::string>& schemas,
                                 const table_name& name);

    engine_options opts_;
    std::unique_ptr<change_log> log_;
    table_filter filter_;
    engine_counters counters_;

    std::mutex cache_mu_;
    std::unordered_map<std::string, table_ptr> cache_;
    std::atomic<std::uint64_t> generation_{0};

    // lost(): tables (schema, name) per database that owe a resync record,
    // and how many transactions were lost since the last report.
    std::mutex gap_mu_;
    std::map<std::string, std::set<std::pair<std::string, std::string>>> gaps_;
    std::uint64_t gap_unreported_ = 0;
    bool gap_writing_ = false;

    std::mutex refused_mu_;
    std::chrono::steady_clock::time_point refused_said_{};
    std::uint64_t refused_unsaid_ = 0;

    std::mutex gid_mu_;
    std::map<std::pair<std::string, std::string>, std::uint64_t> prepared_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::map<std::string, std::unique_ptr<admin_connection>> admins_;  // worker thread only
    // When the worker first saw each in-doubt entry (worker thread only).
    std::map<std::uint64_t, std::chrono::steady_clock::time_point> first_seen_;
    std::thread worker_;
};

}  // namespace sqltap::capture
