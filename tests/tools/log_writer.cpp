// Test helper: writes transactions into a change log, so that sqltap-dump can
// be tested before capture feeds the log. Usage:
//   log_writer DIR COUNT [--in-doubt-at N] [--delay-ms MS]
// Writes COUNT transactions on public.t (insert, update, delete) plus one DDL;
// with --in-doubt-at N the N-th stays in doubt; with --delay-ms it waits
// between transactions (for --follow tests). Damage for error tests:
//   log_writer DIR --garbage       appends a record that does not decode
//   log_writer DIR --format N      marks the log as written in format N
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>

#include "capture/change_log.hpp"

using namespace sqltap::capture;

namespace {

int damage(const std::string& dir, const std::string& what, const char* arg) {
    namespace lm = sqltap::capture::lmdb;
    lm::env env;
    lm::check(mdb_env_set_maxdbs(env.get(), 8), "maxdbs");
    lm::check(mdb_env_open(env.get(), dir.c_str(), 0, 0600), "open");
    lm::txn t(env.get(), 0);
    MDB_dbi meta, logdb;
    lm::check(mdb_dbi_open(t.get(), "meta", 0, &meta), "meta");
    lm::check(mdb_dbi_open(t.get(), "log", 0, &logdb), "log");
    if (what == "--format") {
        std::string v = arg;
        MDB_val k = lm::val("format"), d = lm::val(v);
        lm::check(mdb_put(t.get(), meta, &k, &d, 0), "put");
    } else {
        MDB_val k{}, d{};
        MDB_cursor* c;
        lm::check(mdb_cursor_open(t.get(), logdb, &c), "cursor");
        std::uint64_t next = mdb_cursor_get(c, &k, &d, MDB_LAST) == 0 ? lsn_from_key(lm::view(k)) + 1 : 1;
        mdb_cursor_close(c);
        std::string key = lsn_key(next), garbage("\x01\x00\xff\xff\xff", 5);
        k = lm::val(key);
        d = lm::val(garbage);
        lm::check(mdb_put(t.get(), logdb, &k, &d, 0), "put");
        std::string nv = std::to_string(next + 1);
        MDB_val nk = lm::val("next_lsn"), nd = lm::val(nv);
        lm::check(mdb_put(t.get(), meta, &nk, &nd, 0), "put");
    }
    t.commit();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 3 && (std::string(argv[2]) == "--garbage" || std::string(argv[2]) == "--format"))
        return damage(argv[1], argv[2], argc > 3 ? argv[3] : "");
    if (argc < 3) {
        std::fprintf(stderr, "usage: log_writer DIR COUNT [--in-doubt-at N] [--delay-ms MS]\n");
        return 2;
    }
    std::string dir = argv[1];
    int count = std::atoi(argv[2]);
    int in_doubt_at = -1, delay_ms = 0;
    for (int i = 3; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--in-doubt-at") in_doubt_at = std::atoi(argv[i + 1]);
        if (a == "--delay-ms") delay_ms = std::atoi(argv[i + 1]);
    }
    log_options o;
    o.dir = dir;
    auto log = change_log::open(o);
    for (int i = 1; i <= count; ++i) {
        transaction t;
        t.xid = std::to_string(1000 + i);
        t.database = "app";
        t.commit_time_us = 1795014000000000 + i;
        auto r = t.relation_index({"public", "t", {"id", "v"}, {0}});
        auto other = t.relation_index({"public", "other", {"k"}, {0}});
        t.changes.push_back({op::insert, r, {}, {std::to_string(i), "v" + std::to_string(i)}, std::nullopt, "", "", ""});
        t.changes.push_back({op::update, r, {std::to_string(i)}, {std::to_string(i), std::nullopt}, std::nullopt, "", "", ""});
        t.changes.push_back({op::insert, other, {}, {"k" + std::to_string(i)}, std::nullopt, "", "", ""});
        if (i == count) t.changes.push_back({op::ddl, 0, {}, {}, std::nullopt, "ALTER TABLE t ADD COLUMN w int", "public", ""});
        std::promise<std::error_code> p;
        auto f = p.get_future();
        auto done = [&p](std::error_code ec, std::uint64_t) { p.set_value(ec); };
        if (i == in_doubt_at) log->append_in_doubt(std::move(t), done);
        else log->append_committed(std::move(t), done);
        if (auto ec = f.get()) {
            std::fprintf(stderr, "log_writer: %s\n", ec.message().c_str());
            return 1;
        }
        if (delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    }
    return 0;
}
