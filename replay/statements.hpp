#pragma once
// The SQL the replay engine runs on a subscriber for one logged change, with
// its parameters (text format; NULL as nullopt). Pure functions: what to run
// is decided here, running it is the applier's.
//
// Two forms:
//  - checked (the pipelined fast path): an UPDATE or DELETE that does not
//    find exactly one row as the publisher's before image describes it
//    raises SQLSTATE SQ409 (sqltap.seen in its RETURNING, counting checked
//    statements per transaction, and expect_seen_sql() after the last), so
//    the subscriber transaction fails instead of committing a change that
//    was not applied; an INSERT of a row that exists fails with
//    unique_violation by itself;
//  - plain (the careful path after a conflict): the same statements without
//    the check, whose row counts the applier reads.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "capture/record.hpp"

namespace sqltap::replay {

inline constexpr const char* conflict_sqlstate = "SQ409";

// The subscriber's columns of one table.
struct column_info {
    std::string type;             // as format_type() writes it
    bool generated = false;       // GENERATED ALWAYS AS (…) STORED: computed there, never written
    bool identity_always = false; // GENERATED ALWAYS AS IDENTITY: inserted with OVERRIDING SYSTEM VALUE, never updated
};
using column_types = std::map<std::string, column_info>;

struct statement {
    std::string sql;
    std::vector<capture::value> params;
};

// The subscriber-side objects sqltap needs: its schema, the progress table and
// the row-count check. Idempotent.
std::vector<std::string> setup_sql();
// Advances the progress row from prev to lsn, raising SQ409 when it is not at
// prev (or an initial sync changed its epoch). Parameters: subscriber, prev,
// lsn, commit time (µs since 1970), epoch.
std::string progress_sql();
// After a transaction's checked statements: SQ409 unless all $1 of them
// touched their row (the last one's count is checked only here).
std::string expect_seen_sql();

std::string qualified(const capture::relation& r);

statement insert_row(const capture::relation& r, const std::vector<capture::value>& row, const column_types& types,
                     bool if_absent);
// types: needed for the before-image comparison (old_row set). checked: the
// statement's ordinal among its transaction's checked statements (from 0),
// or -1 for the plain form.
statement update_row(const capture::relation& r, const capture::change& c, const column_types& types, int checked,
                     bool compare_old = true);
statement delete_row(const capture::relation& r, const capture::change& c, const column_types& types, int checked,
                     bool compare_old = true);
// The subscriber's row with that key, every column of the relation.
statement select_row(const capture::relation& r, const std::vector<capture::value>& key, const column_types& types);
// The key values of a full row of the relation.
std::vector<capture::value> key_of(const capture::relation& r, const std::vector<capture::value>& row);

}  // namespace sqltap::replay
