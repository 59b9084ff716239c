#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "capture/change_log.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace sqltap::capture;
namespace fs = std::filesystem;

namespace {

using sqltap::test::temp_dir;

transaction txn(const std::string& xid, int rows = 1) {
    transaction t;
    t.xid = xid;
    t.database = "app";
    relation r{"public", "t", {"id", "v"}, {0}};
    auto ri = t.relation_index(r);
    for (int i = 0; i < rows; ++i)
        t.changes.push_back({op::insert, ri, {}, {std::to_string(i), std::string(100, 'x')}, std::nullopt, "", "", ""});
    return t;
}

std::pair<std::error_code, std::uint64_t> wait(auto submit) {
    std::promise<std::pair<std::error_code, std::uint64_t>> p;
    auto f = p.get_future();
    submit([&p](std::error_code ec, std::uint64_t lsn) { p.set_value({ec, lsn}); });
    return f.get();
}

std::vector<std::uint64_t> visible(const change_log& log) {
    std::vector<std::uint64_t> out;
    log.read(0, UINT64_MAX, [&](std::uint64_t lsn, std::string_view) {
        out.push_back(lsn);
        return true;
    });
    return out;
}

// Whether an append is taken within a few seconds (the room a purge freed may
// come back a checkpoint or a reader later).
bool appends_resume(change_log& log) {
    for (int i = 0; i < 50; ++i) {
        auto [ec, lsn] = wait([&](auto done) { log.append_committed(txn("after", 30), done); });
        if (!ec) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(change_log_suite)

BOOST_AUTO_TEST_CASE(directory_and_file_modes) {
    temp_dir d;
    auto log = change_log::open({d.str("log")});
    struct stat st{};
    BOOST_REQUIRE(::stat(d.str("log").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0700u);
    BOOST_REQUIRE(::stat((d.str("log") + "/data.mdb").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0077) == 0u);
}

BOOST_AUTO_TEST_CASE(in_doubt_entries_hide_everything_after_them) {
    temp_dir d;
    auto log = change_log::open({d.str("log")});
    auto [e1, l1] = wait([&](auto done) { log->append_committed(txn("1"), done); });
    auto [e2, l2] = wait([&](auto done) { log->append_in_doubt(txn("2"), done); });
    auto [e3, l3] = wait([&](auto done) { log->append_committed(txn("3"), done); });
    BOOST_TEST(!e1);
    BOOST_TEST(!e2);
    BOOST_TEST(!e3);
    BOOST_TEST(l1 == 1u);
    BOOST_TEST(l2 == 2u);
    BOOST_TEST(l3 == 3u);
    BOOST_TEST((visible(*log) == std::vector<std::uint64_t>{1}));
    BOOST_TEST(log->in_doubt().size() == 1u);
    BOOST_TEST(log->in_doubt()[0].xid == "2");
    auto [e4, _] = wait([&](auto done) { log->resolve(2, true, done); });
    BOOST_TEST(!e4);
    BOOST_TEST((visible(*log) == std::vector<std::uint64_t>{1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(in_doubt_entries_keep_when_their_xid_was_seen) {
    // The xid-reuse check after a publisher crash needs a time at which the
    // publisher that assigned the xid was running: when the xid came, not
    // when the entry was appended (a session may append just after a restart).
    temp_dir d;
    auto log = change_log::open({d.str("log")});
    auto t = txn("7");
    t.database = "app";
    t.commit_time_us = 2'000'000;
    wait([&](auto done) { log->append_in_doubt(t, done, 1'500'000); });
    auto u = txn("8");
    u.commit_time_us = 3'000'000;
    wait([&](auto done) { log->append_in_doubt(u, done); });  // not known: the commit time stands in
    auto e = log->in_doubt();
    BOOST_TEST(e.size() == 2u);
    BOOST_TEST(e[0].xid == "7");
    BOOST_TEST(e[0].database == "app");
    BOOST_TEST(e[0].appended_us == 2'000'000);
    BOOST_TEST(e[0].xid_seen_us == 1'500'000);
    BOOST_TEST(e[1].xid_seen_us == 3'000'000);
}

BOOST_AUTO_TEST_CASE(aborted_entries_disappear) {
    temp_dir d;
    auto log = change_log::open({d.str("log")});
    wait([&](auto done) { log->append_in_doubt(txn("1"), done); });
    wait([&](auto done) { log->append_committed(txn("2"), done); });
    BOOST_TEST(visible(*log).empty());
    wait([&](auto done) { log->resolve(1, false, done); });
    BOOST_TEST((visible(*log) == std::vector<std::uint64_t>{2}));
    auto [ec, lsn] = wait([&](auto done) { log->resolve(1, true, done); });
    BOOST_TEST((ec == log_errc::not_in_doubt));
}

// A group is written as one transaction; when one of its requests fails,
// the group is written again request by request, and only that one fails.
BOOST_AUTO_TEST_CASE(a_failing_request_in_a_group_fails_alone) {
    temp_dir d;
    log_options o{d.str("log")};
    o.sync = false;
    o.linger = std::chrono::milliseconds(200);  // the three gather in one group
    auto log = change_log::open(o);
    std::vector<std::future<std::pair<std::error_code, std::uint64_t>>> f;
    auto submit = [&](auto call) {
        auto p = std::make_shared<std::promise<std::pair<std::error_code, std::uint64_t>>>();
        f.push_back(p->get_future());
        call([p](std::error_code ec, std::uint64_t lsn) { p->set_value({ec, lsn}); });
    };
    submit([&](auto done) { log->append_committed(txn("1"), done); });
    submit([&](auto done) { log->resolve(77, true, done); });  // never in doubt
    submit([&](auto done) { log->append_committed(txn("3"), done); });
    auto a = f[0].get(), b = f[1].get(), c = f[2].get();
    BOOST_TEST(!a.first);
    BOOST_TEST((b.first == log_errc::not_in_doubt));
    BOOST_TEST(!c.first);
    BOOST_TEST(a.second == 1u);
    BOOST_TEST(c.second == 2u);
    BOOST_TEST((visible(*log) == std::vector<std::uint64_t>{1, 2}));
}

BOOST_AUTO_TEST_CASE(reopen_continues_lsns_and_keeps_in_doubt) {
    temp_dir d;
    {
        auto log = change_log::open({d.str("log")});
        wait([&](auto done) { log->append_committed(txn("1"), done); });
        wait([&](auto done) { log->append_in_doubt(txn("2"), done); });
        wait([&](auto done) { log->resolve(2, false, done); });  // LSN 2 is never reused
    }
    auto log = change_log::open({d.str("log")});
    auto [ec, lsn] = wait([&](auto done) { log->append_committed(txn("3"), done); });
    BOOST_TEST(lsn == 3u);
    auto ro = change_log::open({d.str("log"), 0, true, true});
    BOOST_TEST((visible(*ro) == std::vector<std::uint64_t>{1, 3}));
}

BOOST_AUTO_TEST_CASE(concurrent_appends_share_commits_and_keep_order) {
    temp_dir d;
    auto log = change_log::open({d.str("log")});
    constexpr int threads = 8, each = 200;
    std::atomic<int> failures{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < threads; ++i) {
        ts.emplace_back([&, i] {
            for (int j = 0; j < each; ++j) {
                auto [ec, lsn] = wait([&](auto done) {
                    log->append_committed(txn(std::to_string(i * 1000 + j)), done);
                });
                if (ec || lsn == 0) ++failures;
            }
        });
    }
    for (auto& t : ts) t.join();
    BOOST_TEST(failures.load() == 0);
    auto v = visible(*log);
    BOOST_TEST(v.size() == std::size_t(threads * each));
    for (std::size_t i = 0; i < v.size(); ++i) BOOST_TEST(v[i] == i + 1);
    auto st = log->stats();
    BOOST_TEST(st.entries == std::uint64_t(threads * each));
    BOOST_TEST(st.oldest_lsn == 1u);
    BOOST_TEST(st.newest_lsn == std::uint64_t(threads * each));
}

BOOST_AUTO_TEST_CASE(a_full_map_fails_the_request_not_the_log) {
  for (bool journal : {false, true}) {
    BOOST_TEST_CONTEXT("journal " << journal) {
    temp_dir d;
    log_options o{d.str("log"), 1 << 20};  // 1 MiB
    o.journal = journal;
    auto log = change_log::open(o);
    int ok = 0;
    std::error_code last;
    for (int i = 0; i < 200; ++i) {
        auto [ec, lsn] = wait([&](auto done) { log->append_committed(txn(std::to_string(i), 50), done); });
        if (ec) {
            last = ec;
            break;
        }
        ++ok;
    }
    BOOST_TEST(ok > 0);
    BOOST_TEST((last == log_errc::full));
    // Small requests that still fit go on working, and what was written stays.
    log->flush();
    BOOST_TEST(visible(*log).size() == std::size_t(ok));
    }
  }
}

// Appends stop short of the map's end: resolving what is in doubt needs
// pages too, and must never find the map full (that entry would block every
// reader until space came back, and space comes back only through readers).
// Purges make room for appends again.
BOOST_AUTO_TEST_CASE(a_full_map_still_resolves_and_purges) {
  for (bool journal : {false, true}) {
    BOOST_TEST_CONTEXT("journal " << journal) {
    temp_dir d;
    log_options o{d.str("log"), 1 << 20};
    o.journal = journal;
    auto log = change_log::open(o);
    std::vector<std::uint64_t> lsns;
    for (int i = 0; i < 400; ++i) {
        auto [ec, lsn] = wait([&](auto done) { log->append_in_doubt(txn(std::to_string(i), 30), done); });
        if (ec) {
            BOOST_TEST((ec == log_errc::full));
            break;
        }
        lsns.push_back(lsn);
    }
    BOOST_REQUIRE(lsns.size() > 10);
    for (auto lsn : lsns) {
        auto [ec, n] = wait([&](auto done) { log->resolve(lsn, true, done); });
        BOOST_TEST(!ec, "resolving LSN " << lsn << ": " << ec.message());
    }
    BOOST_TEST(log->in_doubt().empty());
    BOOST_TEST(visible(*log).size() == lsns.size());
    auto [pec, purged] = wait([&](auto done) { log->purge(lsns[lsns.size() / 2], 100000, done); });
    BOOST_TEST(!pec);
    BOOST_TEST(purged == lsns.size() / 2);
    auto [again, lsn] = wait([&](auto done) { log->append_committed(txn("y", 30), done); });
    BOOST_TEST(!again, again.message());
    }
  }
}

// A full log whose entries are all purged at once, in one request, while
// appends keep arriving (and being refused): appends resume. With the
// journal, the purge's pages are free only once the open transaction is
// committed, after the purge itself; a reader holding an old snapshot keeps
// them for a while too. The room held back for resolutions and purges must
// come back then, not only at a later purge (there may be none: nothing new
// is appended while it is out).
BOOST_AUTO_TEST_CASE(appends_resume_after_one_purge_of_everything) {
  for (bool journal : {false, true}) {
  for (bool reader : {false, true}) {
    BOOST_TEST_CONTEXT("journal " << journal << ", reader " << reader) {
    temp_dir d;
    log_options o{d.str("log"), 1 << 20};
    o.journal = journal;
    o.linger = std::chrono::milliseconds(journal ? 200 : 0);
    auto log = change_log::open(o);
    // Filled until three appends in a row are refused (one refused may
    // leave room for the next: LMDB frees pages a transaction later).
    std::uint64_t last = 0;
    for (int i = 0, refused = 0; i < 1000 && refused < 3; ++i) {
        auto [ec, lsn] = wait([&](auto done) { log->append_committed(txn(std::to_string(i), 30), done); });
        if (ec) BOOST_REQUIRE_MESSAGE((ec == log_errc::full), "append " << i << ": " << ec.message());
        refused = ec ? refused + 1 : 0;
        last = ec ? last : lsn;
    }
    BOOST_REQUIRE(last > 10);
    log->flush();
    std::optional<std::thread> pin;
    std::promise<void> unpin;
    if (reader) {
        // A reader's snapshot from before the purge, held for a moment.
        std::promise<void> pinned;
        pin.emplace([&] {
            log->read(0, UINT64_MAX, [&](std::uint64_t, std::string_view) {
                pinned.set_value();
                unpin.get_future().wait();
                return false;
            });
        });
        pinned.get_future().wait();
    }
    std::promise<std::pair<std::error_code, std::uint64_t>> purged;
    log->purge(last + 1, 100000, [&](std::error_code ec, std::uint64_t n) { purged.set_value({ec, n}); });
    // Appends arrive at once, before any checkpoint (and while the reader holds on).
    for (int i = 0; i < 3; ++i) log->append_committed(txn("early", 30), [](std::error_code, std::uint64_t) {});
    auto [pec, n] = purged.get_future().get();
    if (pin) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        unpin.set_value();
        pin->join();
    }
    // Without the journal, the reader may keep even the purge from the room
    // it needs: the replay engine purges again at its next tick.
    if (pec && reader && !journal) {
        BOOST_TEST((pec == log_errc::full));
        std::tie(pec, n) = wait([&](auto done) { log->purge(last + 1, 100000, done); });
    }
    BOOST_TEST(!pec, pec.message());
    BOOST_TEST(n == last);
    BOOST_TEST(appends_resume(*log));
    }
  }
  }
}

// Fill, drain, fill again, with everything mixed in the writer's groups: in-doubt
// and committed appends of random sizes (unwaited, several at a time), their
// resolutions (some aborted), purges of random reach, a reader now and then.
// A full map only ever refuses appends (never the whole log; a resolution or
// a purge only while a reader holds a snapshot from before the ballast was
// released), and once everything is resolved and purged appends resume.
BOOST_AUTO_TEST_CASE(fill_and_drain_cycles_never_break_the_log) {
  for (std::uint32_t first_seed : {12345u, 2026u})
  for (bool journal : {false, true}) {
    BOOST_TEST_CONTEXT("seed " << first_seed << ", journal " << journal) {
    temp_dir d;
    log_options o{d.str("log"), 1 << 20};
    o.journal = journal;
    o.linger = std::chrono::milliseconds(5);
    auto log = change_log::open(o);
    std::uint32_t seed = first_seed;
    auto rnd = [&](std::uint32_t n) {
        seed = seed * 1103515245u + 12345u;
        return (seed >> 8) % n;
    };
    struct outcome {
        std::promise<std::pair<std::error_code, std::uint64_t>> p;
        std::future<std::pair<std::error_code, std::uint64_t>> f = p.get_future();
        bool in_doubt = false;
        std::uint64_t lsn = 0;  // a resolution's
        bool commit = false;
    };
    std::atomic<std::uint64_t> purged_total = 0, purge_failures = 0;
    std::uint64_t appended_total = 0;
    for (int cycle = 0; cycle < 4; ++cycle) {
        BOOST_TEST_CONTEXT("cycle " << cycle) {
        int refused_bursts = 0;
        std::vector<std::unique_ptr<outcome>> unresolved;  // refused while a reader held an old snapshot
        for (int burst = 0; burst < 400 && refused_bursts < 3; ++burst) {
            std::vector<std::unique_ptr<outcome>> outs;
            for (std::uint32_t i = 0, n = 1 + rnd(6); i < n; ++i) {
                auto out = std::make_unique<outcome>();
                out->in_doubt = rnd(2);
                auto done = [o = out.get()](std::error_code ec, std::uint64_t lsn) { o->p.set_value({ec, lsn}); };
                transaction t = txn(std::to_string(burst * 10 + i), 1 + int(rnd(40)));
                if (out->in_doubt) log->append_in_doubt(std::move(t), done);
                else log->append_committed(std::move(t), done);
                outs.push_back(std::move(out));
            }
            bool refused = false;
            std::vector<std::unique_ptr<outcome>> resolutions;
            for (auto& out : outs) {
                auto [ec, lsn] = out->f.get();
                if (ec) {
                    BOOST_TEST((ec == log_errc::full), "an append: " << ec.message());
                    refused = true;
                    continue;
                }
                ++appended_total;
                if (!out->in_doubt) continue;
                auto r = std::make_unique<outcome>();
                r->lsn = lsn;
                r->commit = rnd(5) != 0;
                log->resolve(lsn, r->commit, [o = r.get()](std::error_code ec, std::uint64_t n) { o->p.set_value({ec, n}); });
                resolutions.push_back(std::move(r));
            }
            if (rnd(8) == 0) {  // a purge of part of what is there, in the same groups
                std::uint64_t end = log->visible_end();
                std::uint64_t below = end > 1 ? 1 + rnd(std::uint32_t(end)) : 1;
                // (A reader may hold the room the ballast gave for a
                // moment: the replay engine purges again at its next tick.)
                log->purge(below, 1 + rnd(50), [&](std::error_code ec, std::uint64_t n) {
                    purge_failures += ec && ec != log_errc::full ? 1 : 0;  // (on the writer thread: no BOOST_TEST there)
                    purged_total += n;
                });
            }
            const bool read = rnd(16) == 0;
            if (read) log->read(0, UINT64_MAX, [](std::uint64_t, std::string_view) { return true; });
            for (auto& r : resolutions) {
                auto [ec, n] = r->f.get();
                // The room the ballast gave is free only once no reader holds
                // a snapshot from before: refused while one did, a resolution
                // is asked again (sqltapd's in-doubt pass does that).
                if (read && ec == log_errc::full) unresolved.push_back(std::move(r));
                else BOOST_TEST(!ec, "a resolution: " << ec.message());
            }
            refused_bursts = refused ? refused_bursts + 1 : 0;
        }
        BOOST_TEST(refused_bursts == 3, "the map filled");
        for (auto& r : unresolved) {
            auto [ec, n] = wait([&](auto done) { log->resolve(r->lsn, r->commit, done); });
            BOOST_TEST(!ec, "a resolution asked again: " << ec.message());
        }
        log->flush();
        BOOST_TEST(log->in_doubt().empty());
        // Drained as the replay engine would: purges up to the visible end,
        // in a few steps, again at each tick until nothing is left.
        for (int tick = 0; tick < 50; ++tick) {
            auto [ec, n] = wait([&](auto done) { log->purge(log->visible_end(), 100, done); });
            BOOST_TEST(!ec, "a purge: " << ec.message());
            if (visible(*log).empty()) break;
        }
        BOOST_TEST(visible(*log).empty());
        BOOST_TEST(appends_resume(*log), "appends resume after the log was drained");
        }
    }
    log->flush();
    BOOST_TEST(purge_failures == 0u);
    BOOST_TEST(purged_total + visible(*log).size() <= appended_total);
    }
  }
}

// With the journal, an append is acknowledged once it is in the journal; the
// log has it (and readers see it) from the next checkpoint on.
BOOST_AUTO_TEST_CASE(journaled_appends_are_seen_after_the_checkpoint) {
    temp_dir d;
    log_options o{d.str("log")};
    o.journal = true;
    o.linger = std::chrono::milliseconds(60000);  // no checkpoint but the ones asked for
    auto log = change_log::open(o);
    BOOST_TEST(fs::exists(fs::path(d.str("log")) / "journal"));
    auto [ec1, lsn1] = wait([&](auto done) { log->append_in_doubt(txn("701"), done); });
    BOOST_TEST(!ec1);
    BOOST_TEST(lsn1 == 1u);
    BOOST_TEST(log->in_doubt().empty());  // not committed to the log yet
    std::promise<std::pair<std::error_code, std::uint64_t>> p2;  // nobody waits: it lingers
    log->append_committed(txn("702"), [&p2](std::error_code ec, std::uint64_t lsn) { p2.set_value({ec, lsn}); });
    log->flush();
    auto [ec2, lsn2] = p2.get_future().get();
    BOOST_TEST(!ec2);
    BOOST_TEST(lsn2 == 2u);
    BOOST_TEST(log->in_doubt().size() == 1u);
    BOOST_TEST(visible(*log).empty());  // LSN 1 in doubt hides 2
    std::promise<std::error_code> resolved;
    log->resolve(1, true, [&](std::error_code ec, std::uint64_t) { resolved.set_value(ec); });
    log->flush();  // the resolution is acknowledged with the checkpoint
    BOOST_TEST(!resolved.get_future().get());
    BOOST_TEST((visible(*log) == std::vector<std::uint64_t>{1, 2}));
    // A second writer is kept off.
    BOOST_CHECK_EXCEPTION(change_log::open(o), std::runtime_error, [](const std::runtime_error& e) {
        return std::string(e.what()).find("is locked") != std::string::npos;
    });
}

// A writer that dies between checkpoints: what it acknowledged is in the
// journal only, and the next open puts it back into the log, in doubt.
BOOST_AUTO_TEST_CASE(a_crash_between_checkpoints_loses_nothing_acknowledged) {
    temp_dir d;
    log_options o{d.str("log")};
    o.journal = true;  // a checkpoint after each group
    {
        auto log = change_log::open(o);  // LSNs 1 and 2 checkpointed
        wait([&](auto done) { log->append_committed(txn("1"), done); });
        wait([&](auto done) { log->append_committed(txn("2"), done); });
    }
    pid_t pid = fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        int rc = 1;
        try {
            o.linger = std::chrono::milliseconds(60000);  // no checkpoint
            auto log = change_log::open(o);
            auto a = wait([&](auto done) { log->append_in_doubt(txn("803", 3), done); });
            // A committed append waits for company (nobody waits for it),
            // and goes with the next in-doubt one.
            std::promise<std::pair<std::error_code, std::uint64_t>> p;
            log->append_committed(txn("804"), [&p](std::error_code ec, std::uint64_t lsn) { p.set_value({ec, lsn}); });
            auto c = wait([&](auto done) { log->append_in_doubt(txn("805"), done, 123456789); });
            auto b = p.get_future().get();
            rc = !a.first && !b.first && !c.first && a.second == 3 && c.second == 5 ? 0 : 2;
            _exit(rc);  // no destructor, no checkpoint: a crash
        } catch (...) {
        }
        _exit(rc);
    }
    int status = 0;
    BOOST_REQUIRE(waitpid(pid, &status, 0) == pid);
    BOOST_REQUIRE(WIFEXITED(status));
    BOOST_REQUIRE(WEXITSTATUS(status) == 0);
    {
        auto ro = change_log::open({d.str("log"), 0, true, true});
        BOOST_TEST(ro->in_doubt().empty());  // in the journal only
        BOOST_TEST(visible(*ro).size() == 2u);
    }
    auto log = change_log::open(o);
    BOOST_TEST(log->recovered_from_journal() == 3u);
    auto doubt = log->in_doubt();
    BOOST_REQUIRE(doubt.size() == 2u);
    BOOST_TEST(doubt[0].lsn == 3u);
    BOOST_TEST(doubt[0].xid == "803");
    BOOST_TEST(doubt[0].database == "app");
    BOOST_TEST(doubt[1].lsn == 5u);
    BOOST_TEST(doubt[1].xid_seen_us == 123456789);
    std::vector<std::uint64_t> all;
    std::size_t changes_of_3 = 0;
    for (auto lsn : {3, 5}) wait([&](auto done) { log->resolve(lsn, true, done); });
    log->flush();
    log->read(0, UINT64_MAX, [&](std::uint64_t lsn, std::string_view rec) {
        all.push_back(lsn);
        transaction t;
        if (lsn == 3 && !decode(rec, t)) changes_of_3 = t.changes.size();
        return true;
    });
    BOOST_TEST((all == std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
    BOOST_TEST(changes_of_3 == 3u);
    auto [ec, next] = wait([&](auto done) { log->append_committed(txn("806"), done); });
    BOOST_TEST(next == 6u);
}

BOOST_AUTO_TEST_CASE(opening_what_is_not_a_log_is_a_clear_error) {
    temp_dir d;
    BOOST_CHECK_EXCEPTION(change_log::open({d.str("missing"), 0, true, true}), std::runtime_error,
                          [](const std::runtime_error& e) {
                              return std::string(e.what()).find("no change log in") != std::string::npos;
                          });
}

BOOST_AUTO_TEST_SUITE_END()
