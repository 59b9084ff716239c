// Test helper: writes an in-doubt log entry per XID, then resolves them all
// against the publisher and prints the report and what stays visible.
//   recovery_probe CONNINFO LOGDIR XID...
// An XID written "before:XID" is an entry sqltapd wrote before the publisher
// last started (its commit time 2000-01-01): a commit of that xid after the
// start is another transaction that reused the xid after a crash.
#include <chrono>
#include <cstdio>
#include <future>
#include <string>

#include "capture/recovery.hpp"

using namespace sqltap::capture;

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: recovery_probe CONNINFO LOGDIR XID...\n");
        return 2;
    }
    try {
        log_options o;
        o.dir = argv[2];
        auto log = change_log::open(o);
        for (int i = 3; i < argc; ++i) {
            transaction t;
            std::string arg = argv[i];
            bool before = arg.rfind("before:", 0) == 0;
            t.xid = before ? arg.substr(7) : arg;
            t.database = "postgres";
            t.commit_time_us = before ? std::int64_t{946684800} * 1000000
                                      : std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count();
            std::promise<void> p;
            log->append_in_doubt(t, [&p](std::error_code, std::uint64_t) { p.set_value(); });
            p.get_future().wait();
        }
        admin_connection c(argv[1], "postgres");
        auto rep = recover_in_doubt(*log, [&](const in_doubt_entry& e) { return query_xact_status(c, e); });
        std::printf("committed=%zu aborted=%zu in_progress=%zu unknown=%zu\n", rep.committed, rep.aborted,
                    rep.in_progress, rep.unknown);
        for (const auto& p : rep.problems) std::printf("problem: %s\n", p.c_str());
        std::string visible;
        log->read(0, UINT64_MAX, [&](std::uint64_t lsn, std::string_view) {
            visible += std::to_string(lsn) + " ";
            return true;
        });
        std::printf("visible: %s\n", visible.c_str());
    } catch (const std::exception& e) {
        std::printf("error: %s\n", e.what());
        return 1;
    }
    return 0;
}
