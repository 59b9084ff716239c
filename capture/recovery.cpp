#include "capture/recovery.hpp"

#include <future>

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

xact_status query_xact_status(admin_connection& c, const std::string& xid) {
    const char* values[] = {xid.c_str()};
    PGresult* r = PQexecParams(c.get(), "SELECT pg_xact_status($1::xid8)", 1, nullptr, values, nullptr, nullptr, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        std::string msg = PQerrorMessage(c.get());
        PQclear(r);
        throw catalog_error("pg_xact_status(" + xid + ") failed: " + msg);
    }
    std::string s = PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0);
    PQclear(r);
    if (s == "committed") return xact_status::committed;
    if (s == "aborted") return xact_status::aborted;
    if (s == "in progress") return xact_status::in_progress;
    return xact_status::unknown;  // NULL: too old for the commit log
}

recovery_report recover_in_doubt(change_log& log, const std::function<xact_status(const in_doubt_entry&)>& status) {
    recovery_report rep;
    for (const auto& e : log.in_doubt()) {
        xact_status s;
        try {
            s = status(e);
        } catch (const catalog_error& err) {
            // Say, an xid "in the future": the log does not belong to this
            // publisher (restored from a backup?). Nobody may guess here.
            ++rep.unknown;
            rep.problems.push_back("LSN " + std::to_string(e.lsn) + " (xid " + e.xid + ") stays in doubt: " + err.what());
            continue;
        }
        if (s == xact_status::committed || s == xact_status::aborted) {
            std::promise<std::error_code> p;
            auto f = p.get_future();
            log.resolve(e.lsn, s == xact_status::committed, [&p](std::error_code ec, std::uint64_t) { p.set_value(ec); });
            if (auto ec = f.get()) {
                rep.problems.push_back("LSN " + std::to_string(e.lsn) + " (xid " + e.xid + "): " + ec.message());
                continue;
            }
            ++(s == xact_status::committed ? rep.committed : rep.aborted);
        } else {
            ++(s == xact_status::in_progress ? rep.in_progress : rep.unknown);
            rep.problems.push_back("LSN " + std::to_string(e.lsn) + " (xid " + e.xid + ", database " + e.database +
                                   ") stays in doubt: the publisher says " + to_string(s));
        }
    }
    return rep;
}

}  // namespace sqltap::capture
