#pragma once
// Proof that a transaction's writes to captured tables were all captured.
// PostgreSQL counts, per backend and table, the rows a transaction inserted,
// updated and deleted (pg_stat_xact_user_tables), whoever wrote them: the
// client's statements, functions, triggers, rules, cascades. Those counters
// keep earlier transactions' counts until an idle flush, so capture takes a
// snapshot when a transaction starts and compares the difference at COMMIT
// with the rows RETURNING brought back. A captured table whose counts differ
// was written in a way capture did not see.
//
// Partitions are counted under their root table (pg_partition_root), which is
// the table a statement names. PostgreSQL counts attempted writes: rows of a
// rolled-back savepoint still count, which is why a ROLLBACK TO starts a new
// segment (see session_capture).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capture/table_filter.hpp"

namespace sqltap::capture {

struct write_counts {
    std::uint64_t inserted = 0, updated = 0, deleted = 0;
    bool operator==(const write_counts&) const = default;
};

struct table_counts {
    std::string schema, name;
    write_counts n;
};

using stats_snapshot = std::map<std::uint32_t, table_counts>;      // by root table oid
using expected_counts = std::map<std::uint32_t, write_counts>;     // by table oid

// The query whose rows make a snapshot (columns: oid, schema, table,
// inserted, updated, deleted; all text).
const std::string& stats_query();
// The snapshot a COMMIT is checked with, and the transaction's id: columns
// xid, then those of stats_query() (NULL in the one row when nothing was
// written).
const std::string& check_query();

// Adds one row of stats_query()'s answer (several rows of one root table add
// up); false when it is malformed.
bool add_stats_row(stats_snapshot& s, const std::vector<std::optional<std::string>>& row);

// A COMMIT's check done by the publisher, in the COMMIT's own message: it
// fails (with an error whose message holds verify_marker and then the
// uncaptured writes as uncaptured_write::describe() says them, joined by
// "; ") when a captured table was written more than captured, so the COMMIT
// after it does not run. Parameters: $1 oids; $2-$4 their base counts
// (inserted, updated, deleted); $5-$7 the rows captured since; $8 oids not
// to judge (truncated).
std::string verify_query(const table_filter& filter);
inline constexpr std::string_view verify_marker = "sqltap uncaptured: ";
// The descriptions in such an error's message, or nothing when it is not one.
std::optional<std::string> verify_failure(std::string_view message);

struct uncaptured_write {
    std::uint32_t oid = 0;
    std::string schema, name;
    write_counts counted, captured;
    // "public.t (1 inserts made, 0 captured)"; without a name (counts that
    // could not be taken), says so.
    std::string describe() const;
};

// Captured tables whose counts moved between `before` and `after` by more
// than `captured` says. Tables in `skip` (truncated in this
// transaction: their counters restart) are not judged.
std::vector<uncaptured_write> find_uncaptured(const stats_snapshot& before, const stats_snapshot& after,
                                              const expected_counts& captured, const table_filter& filter,
                                              const std::vector<std::uint32_t>& skip = {});

}  // namespace sqltap::capture
