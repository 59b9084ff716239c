#include "capture/change_log.hpp"

#include <algorithm>
#include <cstdio>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <future>
#include <optional>
#include <random>

namespace sqltap::capture {
namespace {

constexpr std::string_view meta_format = "format";
constexpr std::string_view meta_next_lsn = "next_lsn";
constexpr std::string_view meta_log_id = "log_id";
constexpr std::string_view meta_purged_below = "purged_below";
// Ballast: space held back from appends so that resolutions and purges (which
// need a few fresh pages too, LMDB copying on write) still fit when appends
// have filled the map. Released when one of them meets a full map; put back
// once purges have freed space.
constexpr std::size_t ballast_piece = 1500;  // bytes per record: two fit a 4 kB leaf page
std::string ballast_key(std::size_t i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "ballast/%04zu", i);
    return buf;
}

// Deletes ballast pieces [from, to) (those not there are no error).
void del_ballast(MDB_txn* t, MDB_dbi db, std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
        std::string key = ballast_key(i);
        MDB_val k{key.size(), key.data()};
        int rc = mdb_del(t, db, &k, nullptr);
        if (rc != MDB_NOTFOUND) lmdb::check(rc, "mdb_del");
    }
}

// What a failed LMDB write means to the one who asked for it.
std::error_code log_error(const lmdb::error& e) {
    return make_error_code(e.code() == MDB_MAP_FULL ? log_errc::full : log_errc::write_failed);
}

std::string random_id() {
    unsigned char b[16];
    std::random_device rd;
    for (auto& c : b) c = static_cast<unsigned char>(rd());
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (auto c : b) {
        s.push_back(hex[c >> 4]);
        s.push_back(hex[c & 15]);
    }
    return s;
}

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "sqltap-log"; }
    std::string message(int ev) const override {
        switch (static_cast<log_errc>(ev)) {
            case log_errc::full: return "the change log is full";
            case log_errc::queue_full: return "the change log's write queue is full";
            case log_errc::closed: return "the change log is closed";
            case log_errc::write_failed: return "writing the change log failed";
            case log_errc::not_in_doubt: return "no in-doubt log entry with that LSN";
        }
        return "change log error";
    }
};

std::uint64_t parse_u64(std::string_view s) {
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') throw std::runtime_error("corrupt change log metadata");
        v = v * 10 + std::uint64_t(c - '0');
    }
    return v;
}

std::optional<std::string> get(MDB_txn* t, MDB_dbi db, std::string_view key) {
    MDB_val k = lmdb::val(key), v{};
    int rc = mdb_get(t, db, &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    lmdb::check(rc, "mdb_get");
    return std::string(lmdb::view(v));
}

void put(MDB_txn* t, MDB_dbi db, std::string_view key, std::string_view value, unsigned flags = 0) {
    MDB_val k = lmdb::val(key), v = lmdb::val(value);
    lmdb::check(mdb_put(t, db, &k, &v, flags), "mdb_put");
}

std::optional<std::uint64_t> lowest_in_doubt(MDB_txn* t, MDB_dbi in_doubt_db) {
    lmdb::cursor c(t, in_doubt_db);
    MDB_val k{}, v{};
    if (c.get(k, v, MDB_FIRST)) return lsn_from_key(lmdb::view(k));
    return std::nullopt;
}

// The next LSN: the meta's, or past the last record when that is further (a
// cursor of its own, closed before the transaction ends).
std::uint64_t next_lsn_in(MDB_txn* t, MDB_dbi log_db, MDB_dbi meta_db) {
    std::uint64_t next = 1;
    if (auto v = get(t, meta_db, meta_next_lsn)) next = parse_u64(*v);
    lmdb::cursor c(t, log_db);
    MDB_val k{}, v{};
    if (c.get(k, v, MDB_LAST)) next = std::max(next, lsn_from_key(lmdb::view(k)) + 1);
    return next;
}

// The lowest in-doubt LSN, else the next LSN: every LSN below it is resolved.
std::uint64_t visible_end_in(MDB_txn* t, MDB_dbi in_doubt_db, MDB_dbi meta_db) {
    if (auto lowest = lowest_in_doubt(t, in_doubt_db)) return *lowest;
    auto next = get(t, meta_db, meta_next_lsn);
    return next ? parse_u64(*next) : 1;
}

}  // namespace

const std::error_category& log_category() noexcept {
    static const category c;
    return c;
}

change_log::change_log(const log_options& opts) : opts_(opts) {}

std::unique_ptr<change_log> change_log::open(const log_options& opts) {
    namespace fs = std::filesystem;
    const std::string& dir = opts.dir;
    if (dir.empty()) throw std::runtime_error("no change log directory given");
    std::error_code fec;
    if (opts.read_only) {
        if (!fs::exists(fs::path(dir) / "data.mdb", fec))
            throw std::runtime_error("no change log in " + dir + " (no data.mdb there)");
    } else {
        fs::create_directories(dir, fec);
        if (fec) throw std::runtime_error("cannot create the change log directory " + dir + ": " + fec.message());
        // The log holds row data: only its owner may read it.
        if (::chmod(dir.c_str(), 0700) != 0)
            throw std::runtime_error("cannot set mode 0700 on " + dir + ": " + std::strerror(errno));
    }

    std::unique_ptr<change_log> log(new change_log(opts));
    MDB_env* e = log->env_.get();
    lmdb::check(mdb_env_set_maxdbs(e, 8), "mdb_env_set_maxdbs");
    lmdb::check(mdb_env_set_maxreaders(e, 512), "mdb_env_set_maxreaders");
    if (!opts.read_only) lmdb::check(mdb_env_set_mapsize(e, opts.map_size), "mdb_env_set_mapsize");
    unsigned flags = MDB_NOTLS;
    if (opts.read_only) flags |= MDB_RDONLY;
    // Without sync, and with the journal (whose checkpoints flush the meta
    // page themselves), one flush per commit: the data pages.
    else if (!opts.sync || opts.journal) flags |= MDB_NOMETASYNC;
    int rc = mdb_env_open(e, dir.c_str(), flags, 0600);
    if (rc != MDB_SUCCESS) throw lmdb::error(rc, "cannot open the change log in " + dir);

    {
        lmdb::txn t(e, opts.read_only ? MDB_RDONLY : 0);
        unsigned dbflags = opts.read_only ? 0 : MDB_CREATE;
        auto open_db = [&](const char* name, MDB_dbi& dbi) {
            int r = mdb_dbi_open(t.get(), name, dbflags, &dbi);
            if (r == MDB_NOTFOUND) throw std::runtime_error(dir + " is not a sqltap change log (no '" + name + "' database)");
            lmdb::check(r, "mdb_dbi_open");
        };
        open_db("meta", log->meta_db_);
        open_db("log", log->log_db_);
        open_db("in_doubt", log->in_doubt_db_);
        // Logs from before the replay engine lack it; a reader does without.
        int rr = mdb_dbi_open(t.get(), "replay", dbflags, &log->replay_db_);
        if (rr == MDB_NOTFOUND) log->replay_db_ = 0;
        else lmdb::check(rr, "mdb_dbi_open");
        auto format = get(t.get(), log->meta_db_, meta_format);
        if (!format && opts.read_only) throw std::runtime_error(dir + " is not a sqltap change log (no format mark)");
        if (format) {
            std::uint64_t v = parse_u64(*format);
            if (v > record_format_version)
                throw std::runtime_error("the change log in " + dir + " has format " + std::to_string(v) +
                                         ", newer than this program reads (" +
                                         std::to_string(record_format_version) + ")");
        } else {
            put(t.get(), log->meta_db_, meta_format, std::to_string(record_format_version));
        }
        log->next_lsn_ = next_lsn_in(t.get(), log->log_db_, log->meta_db_);
        if (auto id = get(t.get(), log->meta_db_, meta_log_id)) log->log_id_ = *id;
        if (!opts.read_only) {
            put(t.get(), log->meta_db_, meta_next_lsn, std::to_string(log->next_lsn_));
            if (log->log_id_.empty()) {
                log->log_id_ = random_id();
                put(t.get(), log->meta_db_, meta_log_id, log->log_id_);
            }
        }
        t.commit();
    }
    if (!opts.read_only) {
        if (opts.journal) log->recover_journal();
        log->ballast_bytes_ = std::clamp<std::size_t>(opts.map_size / 16, 32 * ballast_piece, 512 * ballast_piece);
        log->ensure_ballast();
        log->writer_ = std::thread([l = log.get()] { l->writer_loop(); });
    }
    return log;
}

change_log::~change_log() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (writer_.joinable()) writer_.join();
}

void change_log::submit(request r) {
    {
        std::unique_lock lock(mu_);
        if (opts_.read_only || stopping_) {
            lock.unlock();
            r.done(log_errc::closed, 0);
            return;
        }
        if (broken_) {
            lock.unlock();
            r.done(log_errc::write_failed, 0);
            return;
        }
        if (queue_.size() >= opts_.max_queue) {
            lock.unlock();
            r.done(log_errc::queue_full, 0);
            return;
        }
        bool wake = queue_.empty() || urgent(r);
        if (urgent(r)) ++urgent_;
        queue_.push_back(std::move(r));
        if (!wake) return;  // the writer is awake already, or lingering for company
    }
    cv_.notify_one();
}

void change_log::append_in_doubt(transaction t, done_fn done, std::int64_t xid_seen_us) {
    auto r = request::make(request::append_in_doubt, 0, std::move(done));
    r.value = encode(t);
    // The in-doubt mark: xid, database and (later versions) when the xid was seen.
    r.key = t.xid + '\0' + t.database + (xid_seen_us ? '\0' + std::to_string(xid_seen_us) : std::string());
    submit(std::move(r));
}

void change_log::append_committed(transaction t, done_fn done) {
    auto r = request::make(request::append_committed, 0, std::move(done));
    r.value = encode(t);
    submit(std::move(r));
}

void change_log::resolve(std::uint64_t lsn, bool committed, done_fn done) {
    submit(request::make(committed ? request::resolve_committed : request::resolve_aborted, lsn, std::move(done)));
}

void change_log::flush() {
    std::promise<void> p;
    auto f = p.get_future();
    submit(request::make(request::barrier, 0, [&p](std::error_code, std::uint64_t) { p.set_value(); }));
    f.wait();
}

void change_log::put_replay(std::string key, std::string value, done_fn done) {
    request r = request::make(request::replay_put, 0, std::move(done));
    r.key = std::move(key);
    r.value = std::move(value);
    submit(std::move(r));
}

void change_log::purge(std::uint64_t below, std::size_t limit, done_fn done) {
    request r = request::make(request::purge, below, std::move(done));
    r.limit = limit;
    r.bound = below;
    submit(std::move(r));
}

void change_log::apply(MDB_txn* t, request& r) {
    switch (r.kind) {
        case request::append_in_doubt:
        case request::append_committed: {
            r.lsn = next_lsn_;
            put_entry(t, r.lsn, r.value, r.kind == request::append_in_doubt ? &r.key : nullptr);
            ++next_lsn_;
            break;
        }
        case request::resolve_committed:
        case request::resolve_aborted: {
            std::string key = lsn_key(r.lsn);
            MDB_val k = lmdb::val(key);
            int rc = mdb_del(t, in_doubt_db_, &k, nullptr);
            if (rc == MDB_NOTFOUND) throw std::system_error(log_errc::not_in_doubt);
            lmdb::check(rc, "mdb_del");
            if (r.kind == request::resolve_aborted) lmdb::check(mdb_del(t, log_db_, &k, nullptr), "mdb_del");
            break;
        }
        case request::barrier: break;
        case request::replay_put: put(t, replay_db_, r.key, r.value); break;
        case request::purge: {
            // The visible end by the writer's own next LSN: this group's
            // appends are not in the meta yet.
            const std::uint64_t end = std::min(r.bound, lowest_in_doubt(t, in_doubt_db_).value_or(next_lsn_));
            std::uint64_t n = 0;
            std::uint64_t first_kept = end;  // the first record kept, or the end when none is
            {
                lmdb::cursor c(t, log_db_);
                MDB_val k{}, v{};
                while (c.get(k, v, MDB_FIRST)) {
                    std::uint64_t lsn = lsn_from_key(lmdb::view(k));
                    if (lsn >= end || n == r.limit) {
                        first_kept = std::min(end, lsn);
                        break;
                    }
                    c.del();
                    ++n;
                }
            }
            auto before = get(t, meta_db_, meta_purged_below);
            if (n > 0 && (!before || parse_u64(*before) < first_kept))
                put(t, meta_db_, meta_purged_below, std::to_string(first_kept));
            r.lsn = n;  // reported to done
            break;
        }
    }
}

void change_log::put_entry(MDB_txn* t, std::uint64_t lsn, std::string_view record, const std::string* mark) {
    std::string key = lsn_key(lsn);
    put(t, log_db_, key, record, MDB_APPEND);
    if (mark) put(t, in_doubt_db_, key, *mark);
}

bool change_log::ensure_ballast() {
    try {
        lmdb::txn t(env_.get(), 0, open_ ? open_->get() : nullptr);
        // Small values in leaf pages, not one large value: overflow pages
        // must be contiguous, which a purged, fragmented map may not offer.
        if (!get(t.get(), meta_db_, ballast_key(0))) {
            // Taken only when a quarter more fits: that room stays free (put
            // and deleted here), so that releasing it later, which needs a
            // few fresh pages too, does not meet a map this filled to the end.
            const std::size_t pieces = ballast_bytes_ / ballast_piece, spare = pieces / 4;
            const std::string filler(ballast_piece, '\0');
            for (std::size_t i = 0; i < pieces + spare; ++i) put(t.get(), meta_db_, ballast_key(i), filler);
            del_ballast(t.get(), meta_db_, pieces, pieces + spare);
            t.commit();
        }
        ballast_held_ = true;
        return true;
    } catch (const lmdb::error&) {
        return false;  // no room yet: tried again after the next purge
    }
}

void change_log::regain_ballast(bool fresh) {
    if (ballast_held_ || !room_freed_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!fresh && now < ballast_retry_at_) return;
    if (ensure_ballast()) room_freed_ = false;
    else ballast_retry_at_ = now + ballast_retry;
}

bool change_log::release_ballast() {
    if (!ballast_held_) return false;
    // The room it frees is usable only by later transactions: what is open
    // is committed first (which, should that meet the full map, releases it).
    if (open_) checkpoint();
    if (!ballast_held_) return true;
    // LMDB hands out the pages a transaction freed only from the transaction
    // after the next one on (the one right after may have readers of the
    // snapshot before). So two transactions: all pieces but the last, then
    // the last, and the next writer finds the first one's room. (Released
    // in one, the retry that follows could not use it, and a checkpoint
    // that met the full map could not be written again.) Held means the
    // first piece is there.
    const std::size_t pieces = ballast_bytes_ / ballast_piece;
    auto drop = [&](std::size_t from, std::size_t to) {
        lmdb::txn t(env_.get(), 0);
        if (from == 0 && !get(t.get(), meta_db_, ballast_key(0))) return false;
        del_ballast(t.get(), meta_db_, from, to);
        t.commit();
        return true;
    };
    try {
        if (!drop(0, pieces - 1)) {
            ballast_held_ = false;  // taken in a transaction that did not commit
            return false;
        }
    } catch (const lmdb::error&) {
        return false;
    }
    ballast_held_ = false;
    room_freed_ = false;  // taken back only once a purge has made room again
    try {
        drop(pieces - 1, pieces);
    } catch (const lmdb::error&) {
        // The room comes one transaction later; ensure_ballast() puts all
        // pieces back anyway.
    }
    return true;
}

bool change_log::apply_whole(std::deque<request>& batch) {
    // Appends and resolutions only, and appends only while the ballast is
    // held (else they are refused one by one below). A purge reports its
    // count in its own bound, so it could not be applied twice.
    for (const auto& r : batch) {
        if (r.kind == request::purge || r.kind == request::replay_put) return false;
        if (r.appends() && !ballast_held_) return false;
    }
    const std::uint64_t first_lsn = next_lsn_;
    try {
        lmdb::txn w(env_.get(), 0, base());
        for (auto& r : batch) apply(w.get(), r);
        put(w.get(), meta_db_, meta_next_lsn, std::to_string(next_lsn_));
        w.commit();  // the group's one fsync (into the open transaction with the journal)
        return true;
    } catch (const lmdb::error&) {
    } catch (const std::system_error&) {
    }
    next_lsn_ = first_lsn;  // nothing of it was written: request by request, then
    return false;
}

bool change_log::apply_each(std::deque<request>& batch, std::vector<std::error_code>& results,
                            std::vector<std::size_t>& retry) {
    const std::uint64_t first_lsn = next_lsn_;
    bool met_full = false;
    try {
        lmdb::txn w(env_.get(), 0, base());
        for (std::size_t i = 0; i < batch.size(); ++i) {
            const std::uint64_t before = next_lsn_;
            // While the ballast is out, its room is for resolutions and
            // purges only: appends count the map as full.
            if (batch[i].appends() && !ballast_held_) {
                results[i] = make_error_code(log_errc::full);
                continue;
            }
            try {
                lmdb::txn child(env_.get(), 0, w.get());
                apply(child.get(), batch[i]);
                child.commit();
            } catch (const lmdb::error& e) {
                next_lsn_ = before;
                results[i] = log_error(e);
                if (e.code() == MDB_MAP_FULL) {
                    if (batch[i].appends()) met_full = true;
                    else retry.push_back(i);
                }
            } catch (const std::system_error& e) {
                next_lsn_ = before;
                results[i] = e.code();
            }
        }
        put(w.get(), meta_db_, meta_next_lsn, std::to_string(next_lsn_));
        w.commit();  // the group's one fsync (into the open transaction with the journal)
    } catch (const lmdb::error& e) {
        next_lsn_ = first_lsn;
        const std::error_code ec = log_error(e);
        retry.clear();
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (results[i]) continue;
            results[i] = ec;
            if (e.code() == MDB_MAP_FULL) {
                if (batch[i].appends()) met_full = true;
                else retry.push_back(i);
            }
        }
    }
    return met_full;
}

void change_log::seal(std::deque<request>& batch, std::vector<std::error_code>& results, std::uint64_t first_lsn) {
    if (!journal_ || next_lsn_ == first_lsn) return;
    std::vector<journal::entry> sealed;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const request& r = batch[i];
        if (!r.appends() || results[i]) continue;
        const auto k = r.kind == request::append_in_doubt ? journal::kind::in_doubt : journal::kind::committed;
        journal_->add(r.lsn, k, r.key, r.value);
        sealed.push_back({r.lsn, k, r.key, r.value});
    }
    try {
        journal_->write();
        for (auto& e : sealed) cycle_.push_back(std::move(e));
        return;
    } catch (const std::system_error&) {
    }
    // Not in the journal, so not acknowledged: out of the open transaction too.
    try {
        lmdb::txn w(env_.get(), 0, base());
        for (std::uint64_t lsn = first_lsn; lsn < next_lsn_; ++lsn) {
            std::string key = lsn_key(lsn);
            MDB_val k = lmdb::val(key);
            for (MDB_dbi db : {log_db_, in_doubt_db_}) {
                int rc = mdb_del(w.get(), db, &k, nullptr);
                if (rc != MDB_NOTFOUND) lmdb::check(rc, "mdb_del");
            }
        }
        put(w.get(), meta_db_, meta_next_lsn, std::to_string(first_lsn));
        w.commit();
        next_lsn_ = first_lsn;
    } catch (const lmdb::error&) {
        // They stay in the open transaction, in doubt until recovery asks
        // the publisher (their COMMIT never went); LSNs go on after them.
    }
    for (std::size_t i = 0; i < batch.size(); ++i)
        if (batch[i].appends() && !results[i]) results[i] = make_error_code(log_errc::write_failed);
}

MDB_txn* change_log::base() {
    if (!journal_) return nullptr;
    if (!open_) open_.emplace(env_.get(), 0);
    return open_->get();
}

void change_log::checkpoint() {
    std::error_code failed;
    if (open_) {
        try {
            open_->commit();  // data pages, one flush; the meta page written
            open_.reset();
            lmdb::check(mdb_env_sync(env_.get(), 1), "mdb_env_sync");  // the meta page too
        } catch (const lmdb::error& e) {
            open_.reset();
            // No room for the commit itself: everything it held again, in
            // the room the ballast kept.
            if (!(e.code() == MDB_MAP_FULL && rewrite_cycle())) failed = log_error(e);
        }
        if (failed) {
            broken_ = true;
            if (opts_.warn)
                opts_.warn("the change log cannot be written any more (" + failed.message() +
                           "); what was acknowledged is in " + opts_.dir +
                           "/journal and goes back into the log when it is opened again");
        } else {
            journal_->restart();  // all it held is in the log for good
            cycle_.clear();
            regain_ballast(true);  // what a purge in it freed is free from now on
        }
    }
    { std::lock_guard vl(visible_mu_); }
    visible_cv_.notify_all();
    std::vector<request> waiting;
    waiting.swap(unsettled_);
    for (auto& r : waiting) {
        std::error_code ec = failed ? failed : r.error;
        if (r.done) r.done(ec, ec ? 0 : r.lsn);
    }
}

bool change_log::rewrite_cycle() {
    release_ballast();
    try {
        lmdb::txn w(env_.get(), 0);
        for (const auto& e : cycle_)
            put_entry(w.get(), e.lsn, e.record, e.k == journal::kind::in_doubt ? &e.mark : nullptr);
        // The other requests in their order, each alone.
        for (auto& r : unsettled_) {
            try {
                lmdb::txn child(env_.get(), 0, w.get());
                apply(child.get(), r);
                child.commit();
            } catch (const lmdb::error& e) {
                r.error = log_error(e);
            } catch (const std::system_error& e) {
                r.error = e.code();
            }
        }
        put(w.get(), meta_db_, meta_next_lsn, std::to_string(next_lsn_));
        w.commit();
        lmdb::check(mdb_env_sync(env_.get(), 1), "mdb_env_sync");
        return true;
    } catch (const lmdb::error&) {
        return false;
    }
}

void change_log::recover_journal() {
    journal_ = std::make_unique<journal>(opts_.dir);
    std::vector<const journal::entry*> back;  // what the log lacks
    for (const auto& e : journal_->found())
        if (e.lsn >= next_lsn_) back.push_back(&e);
    if (!back.empty()) {
        if (back.front()->lsn != next_lsn_)
            throw std::runtime_error(opts_.dir + "/journal does not continue the change log: its records start at LSN " +
                                     std::to_string(back.front()->lsn) + ", the log's next LSN is " +
                                     std::to_string(next_lsn_));
        lmdb::txn t(env_.get(), 0);
        // In doubt again: recovery asks the publisher. A committed append
        // was committed there already.
        for (const auto* e : back)
            put_entry(t.get(), e->lsn, e->record, e->k == journal::kind::in_doubt ? &e->mark : nullptr);
        next_lsn_ = back.back()->lsn + 1;
        put(t.get(), meta_db_, meta_next_lsn, std::to_string(next_lsn_));
        t.commit();
        lmdb::check(mdb_env_sync(env_.get(), 1), "mdb_env_sync");
        recovered_ = back.size();
    }
    journal_->forget_found();
}

void change_log::journaled_wait(std::unique_lock<std::mutex>& lock) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || open_ || !unsettled_.empty(); });
    if (!open_ && unsettled_.empty()) checkpoint_due_ = std::chrono::steady_clock::now() + opts_.linger;  // the first work since the last one
    // Until the checkpoint is due, only a request someone waits for is worth waking for.
    if (!stopping_ && urgent_ == 0)
        cv_.wait_until(lock, checkpoint_due_, [&] { return stopping_ || urgent_ > 0; });
}

// One group: written, then acknowledged (with the journal, what is not an
// append waits in unsettled_ for the checkpoint). True when it holds a barrier.
bool change_log::write_group(std::deque<request>& batch) {
    std::vector<std::error_code> results(batch.size());
    std::vector<std::size_t> retry;  // not appends, refused by a full map: again with the ballast released
    const std::uint64_t first_lsn = next_lsn_;
    const bool met_full = !apply_whole(batch) && apply_each(batch, results, retry);
    seal(batch, results, first_lsn);
    bool purged = false, barrier = false;
    std::vector<bool> held(batch.size());
    // Written: with the journal, appends are durable now (acknowledged
    // below); the rest waits for the open transaction's checkpoint, from
    // now on, since releasing the ballast checkpoints (and a checkpoint
    // that meets the full map writes again what waits for it).
    auto written = [&](std::size_t i) {
        purged = purged || (batch[i].kind == request::purge && batch[i].lsn > 0);
        if (!journal_ || batch[i].appends()) return;
        barrier = barrier || batch[i].kind == request::barrier;
        unsettled_.push_back(std::move(batch[i]));
        held[i] = true;
    };
    for (std::size_t i = 0; i < batch.size(); ++i)
        if (!results[i]) written(i);
    // Resolutions and purges the full map refused: again, in the room
    // the ballast held back. Appends stay refused until it is back.
    if (!retry.empty() && release_ballast()) {
        try {
            lmdb::txn w2(env_.get(), 0, base());
            std::vector<std::size_t> done;
            for (std::size_t i : retry) {
                try {
                    lmdb::txn child(env_.get(), 0, w2.get());
                    apply(child.get(), batch[i]);
                    child.commit();
                    done.push_back(i);
                } catch (const lmdb::error&) {
                }
            }
            w2.commit();
            for (std::size_t i : done) {
                results[i].clear();
                written(i);
            }
        } catch (const lmdb::error&) {
        }
    }
    if (!journal_) {
        { std::lock_guard vl(visible_mu_); }
        visible_cv_.notify_all();
    }
    // A full map found by an append keeps the room left for resolutions and
    // purges at once (and for the journal's checkpoint): appends are refused
    // until purges make room.
    if (purged) room_freed_ = true;
    if (met_full && ballast_held_) release_ballast();
    else if (!open_) regain_ballast(purged);  // (in the open transaction, it could leave that no room to commit)
    bool refused_full = false;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (held[i]) continue;
        refused_full = refused_full || (batch[i].appends() && results[i] == log_errc::full);
        if (batch[i].done) batch[i].done(results[i], results[i] ? 0 : batch[i].lsn);
    }
    if (refused_full)
        last_full_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    if (!open_ && !unsettled_.empty()) checkpoint_due_ = std::chrono::steady_clock::now();  // committed already
    return barrier;
}

void change_log::writer_loop() {
    for (;;) {
        std::deque<request> batch;
        bool stop = false;
        {
            std::unique_lock lock(mu_);
            if (journal_) {
                journaled_wait(lock);
            } else {
                cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
                if (opts_.linger.count() > 0 && urgent_ == 0 && !stopping_)
                    cv_.wait_for(lock, opts_.linger, [&] { return stopping_ || urgent_ > 0; });
            }
            if (queue_.empty() && stopping_ && !open_ && unsettled_.empty()) break;
            batch.swap(queue_);
            urgent_ = 0;
            stop = stopping_;
        }
        if (broken_) {
            for (auto& r : batch)
                if (r.done) r.done(log_errc::write_failed, 0);
            continue;
        }
        const bool barrier = !batch.empty() && write_group(batch);
        if ((open_ || !unsettled_.empty()) &&
            (stop || barrier || std::chrono::steady_clock::now() >= checkpoint_due_))
            checkpoint();
    }
    // Whatever arrived after the stop is refused, never silently dropped.
    std::deque<request> rest;
    {
        std::lock_guard lock(mu_);
        rest.swap(queue_);
    }
    for (auto& r : rest)
        if (r.done) r.done(log_errc::closed, 0);
}

bool change_log::full() const noexcept {
    auto last = last_full_.load(std::memory_order_relaxed);
    if (last == 0) return false;
    auto since = std::chrono::steady_clock::now().time_since_epoch() - std::chrono::steady_clock::duration(last);
    return since < full_hold;
}

std::uint64_t change_log::visible_end() const {
    lmdb::txn t(env_.get(), MDB_RDONLY);
    return visible_end_in(t.get(), in_doubt_db_, meta_db_);
}

void change_log::read(std::uint64_t from, std::uint64_t to,
                      const std::function<bool(std::uint64_t, std::string_view)>& f) const {
    lmdb::txn t(env_.get(), MDB_RDONLY);
    std::uint64_t end = std::min(to, visible_end_in(t.get(), in_doubt_db_, meta_db_));
    lmdb::cursor c(t.get(), log_db_);
    std::string start = lsn_key(from);
    MDB_val k = lmdb::val(start), v{};
    for (bool ok = c.get(k, v, MDB_SET_RANGE); ok; ok = c.get(k, v, MDB_NEXT)) {
        std::uint64_t lsn = lsn_from_key(lmdb::view(k));
        if (lsn >= end) break;
        if (!f(lsn, lmdb::view(v))) break;
    }
}

std::uint64_t change_log::wait_visible(std::uint64_t end, std::chrono::milliseconds timeout) const {
    std::uint64_t now = visible_end();
    if (now > end) return now;
    std::unique_lock lock(visible_mu_);
    visible_cv_.wait_for(lock, timeout, [&] { return (now = visible_end()) > end; });
    return now;
}

std::uint64_t change_log::purged_below() const {
    lmdb::txn t(env_.get(), MDB_RDONLY);
    auto v = get(t.get(), meta_db_, meta_purged_below);
    return v ? parse_u64(*v) : 1;
}

std::optional<std::string> change_log::get_replay(std::string_view key) const {
    if (!replay_db_) return std::nullopt;
    lmdb::txn t(env_.get(), MDB_RDONLY);
    return get(t.get(), replay_db_, key);
}

void change_log::scan_replay(std::string_view prefix,
                             const std::function<bool(std::string_view, std::string_view)>& f) const {
    if (!replay_db_) return;
    lmdb::txn t(env_.get(), MDB_RDONLY);
    lmdb::cursor c(t.get(), replay_db_);
    MDB_val k = lmdb::val(prefix), v{};
    for (bool ok = c.get(k, v, MDB_SET_RANGE); ok; ok = c.get(k, v, MDB_NEXT)) {
        std::string_view key = lmdb::view(k);
        if (key.substr(0, prefix.size()) != prefix) break;
        if (!f(key, lmdb::view(v))) break;
    }
}

std::vector<in_doubt_entry> change_log::in_doubt() const {
    std::vector<in_doubt_entry> out;
    lmdb::txn t(env_.get(), MDB_RDONLY);
    lmdb::cursor c(t.get(), in_doubt_db_);
    MDB_val k{}, v{};
    for (bool ok = c.get(k, v, MDB_FIRST); ok; ok = c.get(k, v, MDB_NEXT)) {
        std::string_view val = lmdb::view(v);
        auto field = [&val]() {  // the next '\0'-separated field
            auto nul = val.find('\0');
            std::string_view f = val.substr(0, nul);
            val = nul == val.npos ? std::string_view() : val.substr(nul + 1);
            return f;
        };
        in_doubt_entry e{lsn_from_key(lmdb::view(k)), std::string(field()), std::string(field())};
        MDB_val rec{};
        if (mdb_get(t.get(), log_db_, &k, &rec) == MDB_SUCCESS) {
            transaction txn;
            if (!decode_header(lmdb::view(rec), txn)) e.appended_us = txn.commit_time_us;
        }
        std::string_view seen = field();
        std::int64_t us = 0;
        auto [end, ec] = std::from_chars(seen.data(), seen.data() + seen.size(), us);
        e.xid_seen_us = ec == std::errc{} && end == seen.data() + seen.size() && us > 0 ? us : e.appended_us;
        out.push_back(std::move(e));
    }
    return out;
}

log_stats change_log::stats() const {
    log_stats s;
    // The journal before the log: a checkpoint in between moves its records
    // into the snapshot below, never out of both.
    const auto journaled = journal::peek(opts_.dir);
    lmdb::txn t(env_.get(), MDB_RDONLY);
    std::uint64_t end = visible_end_in(t.get(), in_doubt_db_, meta_db_);
    MDB_stat st{};
    lmdb::check(mdb_stat(t.get(), in_doubt_db_, &st), "mdb_stat");
    s.in_doubt = st.ms_entries;
    if (!journaled.empty()) {
        const std::uint64_t next = next_lsn_in(t.get(), log_db_, meta_db_);
        s.in_journal = std::uint64_t(std::count_if(journaled.begin(), journaled.end(),
                                                   [next](std::uint64_t lsn) { return lsn >= next; }));
        s.in_doubt += s.in_journal;
    }
    lmdb::check(mdb_stat(t.get(), log_db_, &st), "mdb_stat");
    s.entries = st.ms_entries - (s.in_doubt - s.in_journal);
    s.data_bytes = std::uint64_t(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
    lmdb::cursor c(t.get(), log_db_);
    MDB_val k{}, v{};
    if (c.get(k, v, MDB_FIRST)) {
        std::uint64_t first = lsn_from_key(lmdb::view(k));
        if (first < end) s.oldest_lsn = first;
    }
    std::string endkey = lsn_key(end);
    k = lmdb::val(endkey);
    bool past = c.get(k, v, MDB_SET_RANGE);
    if (past ? c.get(k, v, MDB_PREV) : c.get(k, v, MDB_LAST)) {
        std::uint64_t last = lsn_from_key(lmdb::view(k));
        if (last < end) s.newest_lsn = last;
    }
    MDB_envinfo info{};
    mdb_env_info(env_.get(), &info);
    MDB_stat envst{};
    mdb_env_stat(env_.get(), &envst);
    s.used_bytes = std::uint64_t(info.me_last_pgno + 1) * envst.ms_psize;
    s.map_bytes = info.me_mapsize;
    struct stat fst{};
    if (::stat((opts_.dir + "/data.mdb").c_str(), &fst) == 0) s.file_bytes = std::uint64_t(fst.st_size);
    return s;
}

}  // namespace sqltap::capture
