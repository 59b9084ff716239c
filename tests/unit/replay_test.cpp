#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "capture/change_log.hpp"
#include "proxy/config.hpp"
#include "replay/state.hpp"
#include "replay/statements.hpp"

using namespace sqltap;
using namespace sqltap::replay;

namespace {

capture::relation accounts() {
    capture::relation r;
    r.schema = "public";
    r.table = "Accounts";
    r.columns = {"id", "owner", "doc", "total"};
    r.key_columns = {0};
    return r;
}

column_types account_types() {
    return {{"id", {"integer"}}, {"owner", {"text"}}, {"doc", {"json"}}, {"total", {"integer", true, false}}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(replay_suite)

BOOST_AUTO_TEST_CASE(insert_skips_generated_columns_and_overrides_identity) {
    auto st = insert_row(accounts(), {"1", "ann", std::nullopt, "5"}, account_types(), false);
    BOOST_TEST(st.sql ==
               "INSERT INTO \"public\".\"Accounts\" (\"id\", \"owner\", \"doc\") OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3)");
    BOOST_TEST(st.params.size() == 3u);
    BOOST_TEST(!st.params[2].has_value());
    auto absent = insert_row(accounts(), {"1", "ann", std::nullopt, "5"}, account_types(), true);
    BOOST_TEST(absent.sql.ends_with(" ON CONFLICT DO NOTHING"));
}

BOOST_AUTO_TEST_CASE(checked_update_compares_the_before_image_as_text) {
    capture::change c;
    c.kind = capture::op::update;
    c.key = {"1"};
    c.new_row = {"1", "bob", "{}", "7"};
    c.old_row = std::vector<capture::value>{"1", "ann", std::nullopt, "5"};
    auto st = update_row(accounts(), c, account_types(), 3);
    BOOST_TEST(st.sql ==
               "UPDATE \"public\".\"Accounts\" SET \"id\" = $1, \"owner\" = $2, \"doc\" = $3"
               " WHERE \"id\" = $4 AND \"owner\"::text IS NOT DISTINCT FROM ($5::text)::text"
               " AND \"doc\"::text IS NOT DISTINCT FROM ($6::json)::text"
               " AND \"total\"::text IS NOT DISTINCT FROM ($7::integer)::text RETURNING sqltap.seen($8::int)");
    BOOST_TEST(st.params.size() == 8u);
    BOOST_TEST(*st.params.back() == "3");
    // Plain and without the comparison: by key only.
    auto plain = update_row(accounts(), c, account_types(), -1, false);
    BOOST_TEST(plain.sql == "UPDATE \"public\".\"Accounts\" SET \"id\" = $1, \"owner\" = $2, \"doc\" = $3 WHERE \"id\" = $4");
}

BOOST_AUTO_TEST_CASE(null_key_values_compare_with_is_null) {
    auto r = accounts();
    r.key_columns = {0, 1};
    capture::change c;
    c.kind = capture::op::del;
    c.key = {"1", std::nullopt};
    auto st = delete_row(r, c, account_types(), -1);
    BOOST_TEST(st.sql == "DELETE FROM \"public\".\"Accounts\" WHERE \"id\" = $1 AND \"owner\" IS NULL");
    BOOST_TEST(st.params.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_missing_subscriber_column_is_an_error_naming_it) {
    auto types = account_types();
    types.erase("doc");
    BOOST_CHECK_EXCEPTION(insert_row(accounts(), {"1", "a", "b", "c"}, types, false), std::runtime_error,
                          [](const std::runtime_error& e) { return std::string(e.what()).find("\"doc\"") != std::string::npos; });
}

BOOST_AUTO_TEST_CASE(status_and_conflict_records_round_trip) {
    subscriber_status s;
    s.name = "r1";
    s.st = state::catching_up;
    s.message = "m";
    s.applied_lsn = 42;
    s.lag_entries = 3;
    s.lag_seconds = 1.5;
    s.txn_rate = 10.25;
    s.conflicts = 2;
    s.updated_us = 123;
    subscriber_status back;
    BOOST_TEST(decode(encode(s), back));
    BOOST_TEST(back.name == "r1");
    BOOST_TEST((back.st == state::catching_up));
    BOOST_TEST(back.applied_lsn == 42u);
    BOOST_TEST(back.lag_seconds == 1.5);
    BOOST_TEST(back.conflicts == 2u);

    conflict_record c;
    c.subscriber = "r1";
    c.lsn = 9;
    c.change = 2;
    c.kind = conflict_kind::delete_differs;
    c.resolution = policy::keep_local;
    c.columns = {"id", "v"};
    c.key_columns = {"id"};
    c.key = {"1"};
    c.old_row = std::vector<capture::value>{"1", std::nullopt};
    c.local_row = std::vector<capture::value>{"1", ""};
    conflict_record cb;
    BOOST_TEST(decode(encode(c), cb));
    BOOST_TEST((cb.kind == conflict_kind::delete_differs));
    BOOST_TEST((cb.resolution == policy::keep_local));
    BOOST_TEST(!cb.new_row.has_value());
    BOOST_TEST(!(*cb.old_row)[1].has_value());
    BOOST_TEST((*cb.local_row)[1].value() == "");
    std::string bytes = encode(c);
    BOOST_TEST(!decode(bytes.substr(0, bytes.size() - 1), cb));
    // Keys sort by subscriber, then LSN, then change.
    BOOST_TEST(conflict_key("a", 2, 0) < conflict_key("a", 10, 0));
    BOOST_TEST(conflict_key("a", 10, 1) < conflict_key("b", 1, 0));
}

BOOST_AUTO_TEST_CASE(per_table_policies_take_patterns) {
    subscriber_options o;
    o.conflict = policy::source_wins;
    o.table_conflict = {{"audit.*", policy::skip}, {"public.orders", policy::error}};
    BOOST_TEST((o.conflict_for("audit", "x") == policy::skip));
    BOOST_TEST((o.conflict_for("public", "orders") == policy::error));
    BOOST_TEST((o.conflict_for("public", "other") == policy::source_wins));
}

BOOST_AUTO_TEST_CASE(subscriber_sections_are_read_and_checked) {
    auto r = config::load_text(
        "[capture]\nlog_dir = /tmp/x\n"
        "[subscriber.replica1]\n"
        "conninfo = host=127.0.0.1 port=5433 dbname=app   ; libpq\n"
        "database = app\n"
        "tables = public.*\n"
        "conflict = keep_local\n"
        "conflict.public.orders = error\n"
        "retry_max = 10s\n"
        "[subscriber.replica2]\n"
        "conninfo = dbname=b\n"
        "database = app\n"
        "conflikt = skip\n"
        "[subscriber.bad name]\n"
        "[subscriber.replica3]\n"
        "database = app\n"
        "replication_role = sometimes\n");
    const auto& subs = r.values.replay.subscribers;
    BOOST_REQUIRE(subs.size() == 3u);
    BOOST_TEST(subs[0].name == "replica1");
    BOOST_TEST(subs[0].conninfo == "host=127.0.0.1 port=5433 dbname=app");
    BOOST_TEST(subs[0].conflict == "keep_local");
    BOOST_TEST(subs[0].table_conflict.size() == 1u);
    BOOST_TEST(subs[0].retry_max.count() == 10000);
    std::string all;
    for (const auto& p : r.problems) all += std::to_string(p.line) + ": " + p.message + "\n";
    BOOST_TEST(all.find("13: unknown key 'conflikt' in [subscriber.replica2]; did you mean 'conflict'?") != std::string::npos,
               all);
    BOOST_TEST(all.find("14: [subscriber.bad name]") != std::string::npos, all);
    BOOST_TEST(all.find("15: [subscriber.replica3] conninfo is required") != std::string::npos, all);
    BOOST_TEST(all.find("17: [subscriber.replica3] replication_role = 'sometimes'") != std::string::npos, all);
}

BOOST_AUTO_TEST_CASE(replay_entries_and_purge_in_the_log) {
    auto dir = std::filesystem::temp_directory_path() / ("sqltap-replay-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    {
        capture::log_options o;
        o.dir = dir.string();
        o.map_size = 64 << 20;
        auto log = capture::change_log::open(o);
        BOOST_TEST(log->log_id().size() == 32u);
        for (int i = 0; i < 5; ++i) {
            capture::transaction t;
            t.xid = std::to_string(100 + i);
            log->append_committed(t, [](std::error_code, std::uint64_t) {});
        }
        log->put_replay("sub/x", "1", [](std::error_code, std::uint64_t) {});
        std::uint64_t purged = 0;
        log->purge(3, 100, [&](std::error_code, std::uint64_t n) { purged = n; });
        log->flush();
        BOOST_TEST(purged == 2u);
        BOOST_TEST(log->purged_below() == 3u);
        BOOST_TEST(log->stats().oldest_lsn == 3u);
        BOOST_TEST(log->get_replay("sub/x").value() == "1");
        int n = 0;
        log->scan_replay("sub/", [&](std::string_view, std::string_view) { return ++n, true; });
        BOOST_TEST(n == 1);
        BOOST_TEST(log->wait_visible(5, std::chrono::milliseconds(10)) == 6u);
    }
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
