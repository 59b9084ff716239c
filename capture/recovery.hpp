#pragma once
// Resolves the change log's in-doubt entries after a restart (durability =
// strict writes an entry before forwarding COMMIT; a crash can leave it
// unresolved). The publisher knows what happened: pg_xact_status(xid).
//   committed    the entry is kept (published)
//   aborted      the entry is deleted
//   in progress  left in doubt: the transaction still runs (its backend has
//                not noticed the lost client yet); try again later
//   unknown      left in doubt and reported: the publisher no longer knows
//                (xid older than its commit log); an operator must decide
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "capture/catalog.hpp"
#include "capture/change_log.hpp"

namespace sqltap::capture {

enum class xact_status { committed, aborted, in_progress, unknown };
const char* to_string(xact_status s) noexcept;

// pg_xact_status(xid::xid8) on the publisher, over an admin connection to any
// database of it. Throws catalog_error when the query fails.
// The fate of the entry's transaction. A publisher that crashed before the
// transaction's first WAL record reached its disk hands the same xid to a
// new transaction after the restart; when that one commits, the xid reads
// "committed" although the entry's transaction never did. With
// track_commit_timestamp on, a commit after the publisher's (re)start of a
// transaction sqltapd sent before it is told apart: aborted.
xact_status query_xact_status(admin_connection& c, const in_doubt_entry& e);

struct recovery_report {
    std::size_t committed = 0, aborted = 0, in_progress = 0, unknown = 0;
    std::vector<std::string> problems;  // one line per entry left in doubt, for the log
};

// Resolves every in-doubt entry; `status` asks the publisher. Blocks.
recovery_report recover_in_doubt(change_log& log, const std::function<xact_status(const in_doubt_entry&)>& status);

}  // namespace sqltap::capture
