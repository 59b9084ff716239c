#pragma once
// The change log: one LMDB environment in [capture] log_dir holding committed
// transactions in commit (LSN) order.
//
// Databases: "log" (8-byte big-endian LSN -> record), "in_doubt" (LSN -> xid
// '\0' database '\0' when the xid was seen (µs), for records written before
// their COMMIT reached the publisher; older marks lack the time), "meta"
// (format version, next LSN, the log's identity), "replay" (what the replay
// engine keeps beside the log: subscriber states and conflicts; keys and
// values are the replay engine's business).
//
// Writes go through one writer thread fed by a bounded queue. The writer takes
// every request queued at that moment into one LMDB write transaction (group
// commit: one fsync for all). Should a request fail (a full map, say), the group
// is written again with each request in a nested transaction, so that it fails
// alone. Completions run on the writer thread.
// Requests no session waits for (committed appends of async durability,
// resolutions, and in-doubt appends when `sync` is off) may wait up to
// `linger` for company, so that a steady stream of them costs one commit per
// interval instead of one each; an in-doubt append with `sync` on (a session
// waits for it) or a barrier ends the wait at once.
//
// With `journal` on (durability = strict) the writer keeps one LMDB write
// transaction open between checkpoints: each group goes into it, its appends
// into the journal (capture/journal.hpp) in one durable write, and are then
// acknowledged; the open transaction is committed and flushed every
// `linger`, or at once for a barrier (flush()), and only then are the group's
// other requests (resolutions, replay puts, purges) acknowledged and the
// records visible to readers. open() puts the journal's records that the log
// lacks back as in-doubt entries. Should a checkpoint fail, the log refuses
// every write from then on (what was acknowledged is in the journal, and the
// next open() takes it back).
//
// Readers see a record only when every record before it is resolved: the
// visible end is the lowest in-doubt LSN (or the next LSN when none is in
// doubt), so the order readers see never changes after the fact.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "capture/journal.hpp"
#include "capture/lmdb.hpp"
#include "capture/record.hpp"

namespace sqltap::capture {

struct log_options {
    std::string dir;
    std::size_t map_size = std::size_t{16} << 30;  // address space, not disk
    bool sync = true;  // full durability at every group commit; false: MDB_NOMETASYNC (one flush
                       // per commit instead of two; a system crash may undo the last commit)
    bool read_only = false;                         // for sqltap-dump and other readers
    std::size_t max_queue = 100000;                 // pending write requests
    std::chrono::milliseconds linger{0};            // see above
    bool journal = false;  // strict capture: durable appends through the journal (above); needs sync
    // Told what went wrong when the writer can no longer write (a failed checkpoint).
    std::function<void(const std::string&)> warn = nullptr;
};

enum class log_errc { full = 1, queue_full, closed, write_failed, not_in_doubt };
const std::error_category& log_category() noexcept;
inline std::error_code make_error_code(log_errc e) noexcept { return {static_cast<int>(e), log_category()}; }

struct log_stats {
    std::uint64_t entries = 0;
    std::uint64_t oldest_lsn = 0, newest_lsn = 0;  // visible ones; 0 when empty
    std::uint64_t in_doubt = 0;    // in the journal too
    std::uint64_t in_journal = 0;  // records acknowledged through the journal that the log does not hold yet
    std::uint64_t file_bytes = 0;  // data.mdb on disk
    std::uint64_t used_bytes = 0;  // pages in use
    std::uint64_t map_bytes = 0;
    std::uint64_t data_bytes = 0;  // pages holding records now (what purging frees)
};

struct in_doubt_entry {
    std::uint64_t lsn;
    std::string xid;
    std::string database;
    std::int64_t appended_us = 0;  // the record's commit time: sqltapd's clock just before the COMMIT went
    // When sqltapd learned the xid from the publisher (its clock): the
    // publisher that assigned it was running then. The appended time when
    // the entry does not say.
    std::int64_t xid_seen_us = 0;
};

class change_log {
public:
    // Opens (creating when allowed) the log. Throws std::runtime_error with a
    // message that names the directory: missing, not a log, a newer format, …
    static std::unique_ptr<change_log> open(const log_options& opts);
    ~change_log();

    using done_fn = std::function<void(std::error_code, std::uint64_t lsn)>;

    // Assigns the next LSN, stores the record and an in-doubt mark, durably.
    // xid_seen_us: see in_doubt_entry (0: the record's commit time).
    void append_in_doubt(transaction t, done_fn done, std::int64_t xid_seen_us = 0);
    // Resolves an in-doubt record: committed keeps it, aborted deletes it.
    void resolve(std::uint64_t lsn, bool committed, done_fn done);
    // Assigns the next LSN and stores a record that is already committed.
    void append_committed(transaction t, done_fn done);
    // Blocks until every request queued before it is written (tests, shutdown).
    void flush();
    // Stores a key/value in the "replay" database.
    void put_replay(std::string key, std::string value, done_fn done);
    // Deletes visible records with LSN < below, at most `limit` of them; done's
    // second argument is the number deleted.
    void purge(std::uint64_t below, std::size_t limit, done_fn done);

    // The log's identity: a random id made when the log was created. A
    // subscriber remembers it with its applied LSN, so that a position in
    // another log is never taken for one in this log.
    const std::string& log_id() const noexcept { return log_id_; }
    // Every record below it has been purged (1 when nothing has been).
    std::uint64_t purged_below() const;

    // ---- readers (any thread) ----
    std::uint64_t visible_end() const;  // every LSN below it is resolved
    // Calls f for visible records with from <= LSN < to, in order, until f returns false.
    void read(std::uint64_t from, std::uint64_t to,
              const std::function<bool(std::uint64_t lsn, std::string_view record)>& f) const;
    // Waits up to `timeout` for the visible end to pass `end`; returns the
    // visible end. Wakes at once on this process's writes; another process's
    // writes are seen when the wait times out.
    std::uint64_t wait_visible(std::uint64_t end, std::chrono::milliseconds timeout) const;
    std::optional<std::string> get_replay(std::string_view key) const;
    // Calls f for each "replay" entry whose key starts with prefix, in key order, until f returns false.
    void scan_replay(std::string_view prefix,
                     const std::function<bool(std::string_view key, std::string_view value)>& f) const;
    std::vector<in_doubt_entry> in_doubt() const;
    log_stats stats() const;
    // An append failed because the map was full less than full_hold ago.
    // Whether the next entry fits is known only by writing it (freed pages
    // may be pinned by a reader, large entries need contiguous ones), so
    // space counts as back only after a quiet spell.
    bool full() const noexcept;
    static constexpr std::chrono::seconds full_hold{30};
    const std::string& dir() const noexcept { return opts_.dir; }
    // Records open() took back from the journal (in doubt now).
    std::size_t recovered_from_journal() const noexcept { return recovered_; }

private:
    struct request {
        enum kind_t { append_in_doubt, append_committed, resolve_committed, resolve_aborted, barrier, replay_put, purge } kind;
        std::uint64_t lsn = 0;  // resolve: the LSN; purge: the bound
        done_fn done;
        // replay_put; an append: its encoded record (made by the appending
        // thread, which frees the transaction where it allocated it) and,
        // in doubt, its mark.
        std::string key, value;
        std::size_t limit = 0;   // purge
        std::uint64_t bound = 0;       // purge: below it (lsn becomes the count deleted)
        std::error_code error;         // with the journal: what a request waiting for the checkpoint met
        bool appends() const noexcept { return kind == append_in_doubt || kind == append_committed; }
        static request make(kind_t k, std::uint64_t lsn, done_fn d) {
            request r{k, lsn, std::move(d), {}, {}, 0, 0, {}};
            return r;
        }
    };

    explicit change_log(const log_options& opts);
    void submit(request r);
    bool urgent(const request& r) const noexcept {
        return r.kind == request::barrier || (r.kind == request::append_in_doubt && opts_.sync);
    }
    void writer_loop();
    bool write_group(std::deque<request>& batch);
    // A group in one transaction, without a nested one per request (each
    // copies the pages it touches): true when all of it was written. On any
    // failure nothing was, and the caller applies it request by request, so
    // that a failure fails only its own request.
    bool apply_whole(std::deque<request>& batch);
    // The group request by request, each in a nested transaction: a request
    // that fails gets its error in `results` (and, refused by a full map and
    // not an append, its index in `retry`); the others are written. True when
    // an append met the full map (not refused because the ballast was out).
    bool apply_each(std::deque<request>& batch, std::vector<std::error_code>& results,
                    std::vector<std::size_t>& retry);
    // With the journal, after a group is in the open transaction: its
    // appends (LSNs from first_lsn on) that did not fail go into the journal,
    // durably; should that fail, out of the open transaction again, and fail.
    void seal(std::deque<request>& batch, std::vector<std::error_code>& results, std::uint64_t first_lsn);
    // The parent of the writer's transactions: the open one with the journal
    // (begun when none is), else none.
    MDB_txn* base();
    // With the journal: commits and flushes the open transaction, then
    // acknowledges what waited for it.
    void checkpoint();
    // The open transaction could not commit (a full map): its appends
    // (cycle_) and the requests waiting for it again, in a new transaction
    // after the ballast is released. False when that fails too.
    bool rewrite_cycle();
    void journaled_wait(std::unique_lock<std::mutex>& lock);
    // Writer thread (or open): takes the ballast when it and a quarter more
    // fit (that quarter left free, for releasing it later).
    bool ensure_ballast();
    // Writer thread: gives the ballast's room to resolutions and purges, in
    // two transactions (LMDB reuses the pages a transaction freed from the
    // one after the next on), after checkpointing what is open. True when
    // its room is free now; false when it was not held or could not be
    // released.
    bool release_ballast();
    // While the ballast is out and a purge has removed entries since: takes
    // it back when there is room, which may be later than the purge (its
    // pages are free only once the transaction that freed them is committed
    // and no reader holds an older snapshot; nothing new may be appended, so
    // there may be no later purge). Tried at every checkpoint and after every
    // purge, otherwise at most every ballast_retry; `fresh`: room was just freed.
    void regain_ballast(bool fresh);
    void apply(MDB_txn* parent, request& r);
    // A record at its LSN, and its in-doubt mark when there is one.
    void put_entry(MDB_txn* t, std::uint64_t lsn, std::string_view record, const std::string* mark);
    void recover_journal();  // open

    log_options opts_;
    lmdb::env env_;
    MDB_dbi log_db_ = 0, in_doubt_db_ = 0, meta_db_ = 0, replay_db_ = 0;
    std::string log_id_;
    mutable std::mutex visible_mu_;
    mutable std::condition_variable visible_cv_;  // notified after each group commit

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<request> queue_;
    std::size_t urgent_ = 0;  // queued requests someone waits for
    bool stopping_ = false;
    std::uint64_t next_lsn_ = 1;  // owned by the writer thread after open
    std::size_t ballast_bytes_ = 0;
    bool ballast_held_ = false;  // writer thread
    bool room_freed_ = false;  // writer thread: a purge removed entries since the ballast was released
    std::chrono::steady_clock::time_point ballast_retry_at_{};  // writer thread
    static constexpr std::chrono::milliseconds ballast_retry{200};
    std::atomic<std::chrono::steady_clock::rep> last_full_{0};  // steady_clock ticks; 0: never
    // With the journal (writer thread): the open transaction, when it is due,
    // what waits for it, and whether a checkpoint failed.
    std::unique_ptr<journal> journal_;
    std::optional<lmdb::txn> open_;
    std::chrono::steady_clock::time_point checkpoint_due_;
    std::vector<request> unsettled_;
    std::vector<journal::entry> cycle_;  // what the journal holds since the last checkpoint
    std::atomic<bool> broken_{false};
    std::size_t recovered_ = 0;
    std::thread writer_;
};

}  // namespace sqltap::capture

template <>
struct std::is_error_code_enum<sqltap::capture::log_errc> : std::true_type {};
