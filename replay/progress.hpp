#pragma once
// The subscriber's side of exactly-once: the objects sqltap keeps there
// (schema sqltap, table sqltap.progress, the check functions) and the
// progress row of one subscriber name, which the applier and an initial sync
// (replay/sync) both read and write.
//
// The row: applied_lsn (the last log entry whose transaction committed
// there), log_id (which log those LSNs belong to), epoch (raised by each
// initial sync: an applier's progress check names the epoch it read, so a
// sync invalidates whatever an applier still had in flight), syncing (a sync
// is copying: appliers wait) and sync_snapshot (the publisher snapshot the
// last sync copied under: entries whose transaction it already saw are not
// applied again).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "replay/pg.hpp"

namespace sqltap::replay {

// Creates (idempotently) what sqltap needs on a subscriber. Throws pg::error.
void setup_subscriber(pg::connection& c);

struct progress_row {
    std::string log_id;
    std::uint64_t applied_lsn = 0;
    std::int64_t epoch = 0;
    bool syncing = false;
    std::string sync_snapshot;  // pg_snapshot text; empty: none
};

// The row of `subscriber`, created (applied 0, this log) when missing.
progress_row read_progress_row(pg::connection& c, const std::string& subscriber, const std::string& log_id);

// A PostgreSQL snapshot as pg_current_snapshot() prints it ("xmin:xmax:xip,…"),
// for the question "had this transaction committed when it was taken?".
class snapshot {
public:
    // nullopt: not a snapshot's text.
    static std::optional<snapshot> parse(std::string_view text);
    // xid: a 64-bit transaction id as text (pg_current_xact_id()). Unknown or
    // malformed ids are not visible (their changes are applied).
    bool visible(std::string_view xid) const;

private:
    std::uint64_t xmin_ = 0, xmax_ = 0;
    std::vector<std::uint64_t> xip_;
};

}  // namespace sqltap::replay
