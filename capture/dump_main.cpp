// sqltap-dump: shows the change log to people (text) and scripts (JSON).
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>

#include "capture/change_log.hpp"
#include "capture/dump_format.hpp"
#include "replay/report.hpp"
#include "sqltap_version.hpp"

using namespace sqltap::capture;

namespace {

const char* usage =
    "Usage: sqltap-dump --log DIR [options]\n"
    "\n"
    "Shows the committed transactions of a sqltap change log, in LSN (commit) order.\n"
    "Safe to run while sqltapd writes the log.\n"
    "\n"
    "Options:\n"
    "  --log DIR               the log directory ([capture] log_dir)\n"
    "  --from LSN              first LSN to show (default: the oldest)\n"
    "  --to LSN                last LSN to show (default: the newest)\n"
    "  --table SCHEMA.TABLE    only changes to this table\n"
    "  --xid XID               only the transaction with this publisher xid\n"
    "  --format text|json      text (default) or one JSON object per transaction per line\n"
    "  --follow                after the newest entry, wait for new ones (like tail -f)\n"
    "  --stats                 counts per table and operation, log size, oldest and newest LSN\n"
    "  --subscribers           each subscriber's state as sqltapd last wrote it: applied LSN,\n"
    "                          lag, apply rate, conflicts, state (streaming, catching up,\n"
    "                          offline, error, stale)\n"
    "  --conflicts             the conflicts subscribers met, with both images\n"
    "  --subscriber NAME       with --subscribers or --conflicts: only this subscriber\n"
    "  -h, --help              this help\n"
    "  -V, --version           the version\n"
    "\n"
    "Exit status: 0 done; 1 the log cannot be read (missing, not a log, newer format,\n"
    "corrupt record); 2 wrong arguments.\n";

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

bool parse_lsn(const char* s, std::uint64_t& out) {
    auto end = s + std::strlen(s);
    auto r = std::from_chars(s, end, out);
    return r.ec == std::errc{} && r.ptr == end;
}

int fail(const std::string& msg) {
    std::fprintf(stderr, "sqltap-dump: %s\n", msg.c_str());
    return 1;
}

int print_stats(const change_log& log, std::uint64_t from, std::uint64_t to, const dump_filter& f) {
    std::map<std::pair<std::string, std::string>, std::uint64_t> counts;  // (table, op)
    std::uint64_t transactions = 0;
    std::string error;
    log.read(from, to, [&](std::uint64_t lsn, std::string_view bytes) {
        transaction t;
        if (auto ec = decode(bytes, t)) {
            error = "corrupt record at LSN " + std::to_string(lsn) + ": " + ec.message();
            return false;
        }
        if (!f.keep(t)) return true;
        ++transactions;
        for (const auto& c : t.changes) {
            if (!f.keep(t, c)) continue;
            std::string table = c.kind == op::ddl ? "(ddl)" : t.relations[c.rel].schema + "." + t.relations[c.rel].table;
            ++counts[{table, std::string(to_string(c.kind))}];
        }
        return true;
    });
    if (!error.empty()) return fail(error);
    auto s = log.stats();
    std::printf("log:           %s\n", log.dir().c_str());
    std::printf("entries:       %llu committed, %llu in doubt", (unsigned long long)s.entries,
                (unsigned long long)s.in_doubt);
    if (s.in_journal) std::printf(" (%llu of them in the journal, not in the log yet)", (unsigned long long)s.in_journal);
    std::printf("\n");
    std::printf("oldest LSN:    %llu\nnewest LSN:    %llu\n", (unsigned long long)s.oldest_lsn,
                (unsigned long long)s.newest_lsn);
    std::printf("size:          %llu bytes on disk, %llu in use, map %llu\n", (unsigned long long)s.file_bytes,
                (unsigned long long)s.used_bytes, (unsigned long long)s.map_bytes);
    std::printf("transactions:  %llu\n\n%-40s %-10s %12s\n", (unsigned long long)transactions, "table",
                "operation", "changes");
    for (const auto& [k, n] : counts)
        std::printf("%-40s %-10s %12llu\n", k.first.c_str(), k.second.c_str(), (unsigned long long)n);
    return 0;
}

int print_subscribers(const change_log& log, const std::string& only, bool json) {
    bool any = false;
    log.scan_replay(sqltap::replay::status_prefix, [&](std::string_view, std::string_view v) {
        sqltap::replay::subscriber_status s;
        if (!sqltap::replay::decode(v, s) || (!only.empty() && s.name != only)) return true;
        if (!json && !any) std::fputs(sqltap::replay::status_header_text().c_str(), stdout);
        any = true;
        std::string line = json ? sqltap::replay::format_json(s) + "\n" : sqltap::replay::format_text(s);
        std::fputs(line.c_str(), stdout);
        return true;
    });
    if (!any && !json) std::puts(only.empty() ? "no subscriber has been replayed to from this log"
                                              : "no such subscriber in this log");
    return 0;
}

int print_conflicts(const change_log& log, const std::string& only, bool json, std::uint64_t from, std::uint64_t to) {
    std::string prefix(sqltap::replay::conflict_prefix);
    if (!only.empty()) prefix += only + '\0';
    log.scan_replay(prefix, [&](std::string_view, std::string_view v) {
        sqltap::replay::conflict_record c;
        if (!sqltap::replay::decode(v, c) || c.lsn < from || c.lsn > to) return true;
        std::string line = json ? sqltap::replay::format_json(c) + "\n" : sqltap::replay::format_text(c);
        std::fputs(line.c_str(), stdout);
        return true;
    });
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir, format = "text";
    std::uint64_t from = 0, to = UINT64_MAX;
    bool follow = false, stats = false, subscribers = false, conflicts = false;
    std::string subscriber;
    dump_filter filter;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&](const char* what) -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "sqltap-dump: %s needs a value\n\n%s", what, usage);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "-h" || a == "--help") {
            std::fputs(usage, stdout);
            return 0;
        } else if (a == "-V" || a == "--version") {
            std::printf("sqltap-dump %s\n", SQLTAP_VERSION);
            return 0;
        } else if (a == "--log") {
            dir = next("--log");
        } else if (a == "--from" || a == "--to") {
            const char* v = next(a.c_str());
            if (!parse_lsn(v, a == "--from" ? from : to)) {
                std::fprintf(stderr, "sqltap-dump: %s takes an LSN (a whole number), not '%s'\n", a.c_str(), v);
                return 2;
            }
        } else if (a == "--table") {
            filter.table = next("--table");
            if (filter.table.find('.') == std::string::npos) filter.table = "public." + filter.table;
        } else if (a == "--xid") {
            filter.xid = next("--xid");
        } else if (a == "--format") {
            format = next("--format");
            if (format != "text" && format != "json") {
                std::fprintf(stderr, "sqltap-dump: --format is text or json, not '%s'\n", format.c_str());
                return 2;
            }
        } else if (a == "--follow" || a == "-f") {
            follow = true;
        } else if (a == "--stats") {
            stats = true;
        } else if (a == "--subscribers") {
            subscribers = true;
        } else if (a == "--conflicts") {
            conflicts = true;
        } else if (a == "--subscriber") {
            subscriber = next("--subscriber");
        } else {
            std::fprintf(stderr, "sqltap-dump: unknown argument '%s'\n\n%s", a.c_str(), usage);
            return 2;
        }
    }
    if (dir.empty()) {
        std::fprintf(stderr, "sqltap-dump: --log DIR is required\n\n%s", usage);
        return 2;
    }
    if (from > to) {
        std::fprintf(stderr, "sqltap-dump: --from is after --to\n");
        return 2;
    }
    std::unique_ptr<change_log> log;
    try {
        log_options o;
        o.dir = dir;
        o.read_only = true;
        log = change_log::open(o);
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    try {
        if (stats) return print_stats(*log, from, to == UINT64_MAX ? to : to + 1, filter);
        if (subscribers) return print_subscribers(*log, subscriber, format == "json");
        if (conflicts) return print_conflicts(*log, subscriber, format == "json", from, to);
        ::signal(SIGINT, on_signal);
        ::signal(SIGTERM, on_signal);
        ::signal(SIGPIPE, SIG_IGN);
        std::uint64_t next = from;
        const std::uint64_t end = to == UINT64_MAX ? to : to + 1;
        for (;;) {
            std::string error;
            bool out_failed = false;
            log->read(next, end, [&](std::uint64_t lsn, std::string_view bytes) {
                transaction t;
                if (auto ec = decode(bytes, t)) {
                    error = "corrupt record at LSN " + std::to_string(lsn) + ": " + ec.message();
                    return false;
                }
                next = lsn + 1;
                if (!filter.keep(t)) return true;
                std::string line = format == "json" ? format_json(lsn, t, filter) + "\n" : format_text(lsn, t, filter);
                if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size()) {
                    out_failed = true;
                    return false;
                }
                return !g_stop;
            });
            if (!error.empty()) return fail(error);
            if (out_failed) return 0;  // the reader went away (a closed pipe)
            std::fflush(stdout);
            if (!follow || g_stop || next >= end) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    return 0;
}
