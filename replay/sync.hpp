#pragma once
// Initial sync (sqltapd --sync NAME): copies a subscriber's tables from the
// publisher, consistent with a position in the change log, while the
// workload goes on; replay then continues from that position.
//
// How the copy and the log meet (docs/replay.md, "Initial sync"):
//  1. the subscriber's progress row is marked syncing and its epoch raised:
//     an applier still running (in this or another sqltapd) stops at its
//     next transaction and waits;
//  2. start = the log's visible end - 1, read before the publisher snapshot:
//     every entry below it had committed before the snapshot; "running
//     <start>" is written beside the log, so that no purge passes it;
//  3. one REPEATABLE READ transaction on the publisher: its snapshot S;
//  4. one subscriber transaction: missing tables created from the
//     publisher's definitions (pg_dump --schema-only --snapshot), the tables
//     truncated and copied (COPY … TO STDOUT → COPY … FROM STDIN), the progress
//     row set to (start, S, not syncing);
//  5. "done <start>": a stale applier applies again. From start on it skips
//     the entries whose transaction S already saw (their changes are in the
//     copy) and applies the others, in LSN order.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "capture/change_log.hpp"
#include "capture/table_filter.hpp"
#include "replay/state.hpp"

namespace sqltap::replay {

struct sync_options {
    subscriber_options subscriber;
    std::string publisher_conninfo;  // libpq; its database is replaced by subscriber.database
    std::string node_name = "sqltap";  // the sync's sessions are sqltap-replay/<node_name>, as the appliers'
    std::string capture_tables = "*.*", capture_exclude;  // what the log carries
    std::vector<capture::table_rule> rules;               // [table] row filters and column lists
    std::string pg_dump = "pg_dump";
    std::function<void(const std::string&)> say;  // progress, one line each
};

struct sync_report {
    std::uint64_t start_lsn = 0;
    std::size_t tables = 0, created = 0;
    std::uint64_t rows = 0;
    double seconds = 0;
};

// Throws std::runtime_error saying what failed; the subscriber is then as it
// was (its applier resumes where it stood).
sync_report initial_sync(const sync_options& o, capture::change_log& log);

}  // namespace sqltap::replay
