#pragma once
// What the replay engine knows and keeps about subscribers: their settings,
// their state (shown in sqltapd's log and by sqltap-dump --subscribers), and
// the conflicts they met (sqltap-dump --conflicts).
//
// Both are kept in the change log's "replay" database:
//   "sub/<name>"                                   -> subscriber_status
//   "conflict/<name>\0<lsn 8 BE><change 4 BE>"     -> conflict_record
// A conflict's key is its place in the log, so finding it again after a
// crash (before the subscriber's transaction committed) rewrites the same
// entry instead of adding one.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "capture/record.hpp"

namespace sqltap::capture {
class change_log;
}

namespace sqltap::replay {

using capture::value;

enum class policy : std::uint8_t { error = 1, skip, source_wins, keep_local };
enum class conflict_kind : std::uint8_t { insert_exists = 1, update_missing, update_differs, delete_missing, delete_differs };
enum class state : std::uint8_t { starting = 1, streaming, catching_up, offline, error, stale, paused, syncing };

std::string_view to_string(policy p) noexcept;
std::string_view to_string(conflict_kind k) noexcept;
std::string_view to_string(state s) noexcept;
std::optional<policy> parse_policy(std::string_view s) noexcept;

struct subscriber_options {
    std::string name;
    std::string conninfo;  // libpq
    std::string database;  // the source database whose changes it takes
    std::string tables = "*.*", exclude;
    policy conflict = policy::source_wins;
    std::vector<std::pair<std::string, policy>> table_conflict;  // "schema.table" -> policy
    std::string replication_role = "replica";  // session_replication_role of apply sessions
    bool apply_ddl = true;
    std::chrono::milliseconds retry_max{60000};  // cap of the reconnect backoff
    // The origin name of this subscriber's own changes: entries that came
    // from it (through a sqltapd in front of it) are never sent back.
    std::string node;

    policy conflict_for(std::string_view schema, std::string_view table) const;
};

struct subscriber_status {
    std::string name;
    state st = state::starting;
    std::string message;  // why it is in error, offline or stale
    std::uint64_t applied_lsn = 0;
    std::uint64_t end_lsn = 0;      // the log's newest visible LSN when last looked
    std::uint64_t lag_entries = 0;  // log positions between applied and newest
    double lag_seconds = 0;         // age of the oldest entry not yet applied
    double txn_rate = 0, row_rate = 0;  // per second, recent
    std::uint64_t applied_txns = 0, applied_rows = 0;  // since sqltapd started
    std::uint64_t conflicts = 0;                       // recorded, ever
    std::int64_t updated_us = 0;                       // wall clock of this status
};

// How far a subscriber that applied up to `applied` stands behind the log
// whose visible end is `end`: positions, and the age of the oldest entry not
// applied (read from the log).
struct lag {
    std::uint64_t end_lsn = 0, entries = 0;
    double seconds = 0;
};
lag lag_behind(const capture::change_log& log, std::uint64_t applied, std::uint64_t end);

std::string encode(const subscriber_status& s);
bool decode(std::string_view bytes, subscriber_status& s);
std::string status_key(std::string_view name);

struct conflict_record {
    std::string subscriber;
    std::uint64_t lsn = 0;
    std::uint32_t change = 0;  // index in the transaction
    std::string xid;
    std::int64_t commit_time_us = 0;
    std::string schema, table;
    conflict_kind kind = conflict_kind::insert_exists;
    policy resolution = policy::source_wins;
    std::vector<std::string> columns;      // of the images below
    std::vector<std::string> key_columns;  // of key
    std::vector<value> key;
    std::optional<std::vector<value>> old_row;    // the publisher's before image, if captured
    std::optional<std::vector<value>> new_row;    // the publisher's new image (insert, update)
    std::optional<std::vector<value>> local_row;  // the subscriber's row when met; none: missing
    std::int64_t time_us = 0;                     // when it was met
};

std::string encode(const conflict_record& c);
bool decode(std::string_view bytes, conflict_record& c);
std::string conflict_key(std::string_view subscriber, std::uint64_t lsn, std::uint32_t change);
inline constexpr std::string_view conflict_prefix = "conflict/";
inline constexpr std::string_view status_prefix = "sub/";

// The key through which an initial sync (perhaps in another sqltapd process)
// tells the replay engine that it holds the entries after an LSN ("running
// <lsn>") and that it finished ("done <lsn>"); empty: none.
std::string sync_key(std::string_view subscriber);
inline constexpr std::string_view sync_prefix = "sync/";
struct sync_mark {
    bool running = false, done = false;
    std::uint64_t lsn = 0;
};
sync_mark parse_sync_mark(std::string_view value);

// Stores key = value beside the log ("replay" database) and waits until it
// is durable.
std::error_code store(capture::change_log& log, std::string key, std::string value);

std::int64_t now_us();
// A whole decimal unsigned number; false for anything else (empty, signs, junk).
bool parse_u64(std::string_view s, std::uint64_t& out);

}  // namespace sqltap::replay
