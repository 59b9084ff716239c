#include "capture/recovery.hpp"

#include <future>
#include <memory>

namespace sqltap::capture {

const char* to_string(xact_status s) noexcept {
    switch (s) {
        case xact_status::committed: return "committed";
        case xact_status::aborted: return "aborted";
        case xact_status::in_progress: return "in progress";
        case xact_status::unknown: return "unknown";
    }
    return "?";
}

xact_status query_xact_status(admin_connection& c, const in_doubt_entry& e) {
    // A commit after the publisher's start, of an xid sqltapd had seen
    // before that start, belongs to a transaction that reused the xid after
    // a crash (the COMMIT of the entry's transaction never reached the WAL).
    // The time the xid was seen, not the time the entry was appended: a
    // session may append just after a restart it has not noticed yet.
    const std::string seen = std::to_string(e.xid_seen_us);
    const char* values[] = {e.xid.c_str(), seen.c_str()};
    // The xid's low 32 bits name it to pg_xact_commit_timestamp.
    PGresult* r = PQexecParams(
        c.get(),
        "SELECT s, CASE WHEN s = 'committed' AND current_setting('track_commit_timestamp')::bool "
        "AND to_timestamp($2::bigint / 1e6) < pg_postmaster_start_time() "
        "THEN pg_xact_commit_timestamp((($1::xid8)::text::bigint % 4294967296)::text::xid) "
        "> pg_postmaster_start_time() END "
        "FROM pg_xact_status($1::xid8) AS s",
        2, nullptr, values, nullptr, nullptr, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        std::string msg = PQerrorMessage(c.get());
        PQclear(r);
        throw catalog_error("pg_xact_status(" + e.xid + ") failed: " + msg);
    }
    std::string s = PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0);
    bool reused = !PQgetisnull(r, 0, 1) && std::string_view(PQgetvalue(r, 0, 1)) == "t";
    PQclear(r);
    if (s == "committed") return reused ? xact_status::aborted : xact_status::committed;
    if (s == "aborted") return xact_status::aborted;
    if (s == "in progress") return xact_status::in_progress;
    return xact_status::unknown;  // NULL: too old for the commit log
}

recovery_report recover_in_doubt(change_log& log, const std::function<xact_status(const in_doubt_entry&)>& status) {
    // Ask the publisher about every entry first and submit all the resolutions
    // before waiting for any: the writer then commits them together (one fsync).
    struct pending {
        in_doubt_entry entry;
        xact_status s = xact_status::unknown;
        std::string problem;
        std::future<std::error_code> done;
    };
    std::vector<pending> work;
    for (auto& e : log.in_doubt()) {
        pending p;
        p.entry = std::move(e);
        try {
            p.s = status(p.entry);
        } catch (const catalog_error& err) {
            // Say, an xid "in the future": the log does not belong to this
            // publisher (restored from a backup?). Nobody may guess here.
            p.problem = "LSN " + std::to_string(p.entry.lsn) + " (xid " + p.entry.xid + ") stays in doubt: " + err.what();
            work.push_back(std::move(p));
            continue;
        }
        if (p.s == xact_status::committed || p.s == xact_status::aborted) {
            auto promise = std::make_shared<std::promise<std::error_code>>();
            p.done = promise->get_future();
            log.resolve(p.entry.lsn, p.s == xact_status::committed,
                        [promise](std::error_code ec, std::uint64_t) { promise->set_value(ec); });
        }
        work.push_back(std::move(p));
    }

    recovery_report rep;
    for (auto& p : work) {
        const in_doubt_entry& e = p.entry;
        if (!p.problem.empty()) {
            ++rep.unknown;
            rep.problems.push_back(std::move(p.problem));
        } else if (p.done.valid()) {
            if (auto ec = p.done.get()) {
                rep.problems.push_back("LSN " + std::to_string(e.lsn) + " (xid " + e.xid + "): " + ec.message());
                continue;
            }
            ++(p.s == xact_status::committed ? rep.committed : rep.aborted);
        } else {
            ++(p.s == xact_status::in_progress ? rep.in_progress : rep.unknown);
            rep.problems.push_back("LSN " + std::to_string(e.lsn) + " (xid " + e.xid + ", database " + e.database +
                                   ") stays in doubt: the publisher says " + to_string(p.s));
        }
    }
    return rep;
}

}  // namespace sqltap::capture
