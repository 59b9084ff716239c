#include <boost/test/unit_test.hpp>

#include "capture/analyzer.hpp"
#include "capture/session_capture.hpp"
#include "capture/write_stats.hpp"

using namespace sqltap::capture;

namespace {
std::vector<std::optional<std::string>> row(std::string oid, std::string schema, std::string name, std::string i,
                                            std::string u, std::string d) {
    return {oid, schema, name, i, u, d};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(write_stats_suite)

BOOST_AUTO_TEST_CASE(partitions_add_up_under_their_root) {
    stats_snapshot s;
    BOOST_TEST(add_stats_row(s, row("100", "public", "events", "2", "0", "0")));
    BOOST_TEST(add_stats_row(s, row("100", "public", "events", "3", "1", "0")));
    BOOST_TEST(add_stats_row(s, row("200", "public", "t", "0", "0", "4")));
    BOOST_TEST(s.size() == 2u);
    BOOST_TEST(s[100].n.inserted == 5u);
    BOOST_TEST(s[100].n.updated == 1u);
    BOOST_TEST(s[200].n.deleted == 4u);
    BOOST_TEST(!add_stats_row(s, row("x", "public", "t", "0", "0", "0")));
    BOOST_TEST(!add_stats_row(s, {std::string("1")}));
}

BOOST_AUTO_TEST_CASE(only_writes_beyond_the_captured_rows_count) {
    table_filter filter("*.*", "public.ignored");
    stats_snapshot before, after;
    add_stats_row(before, row("1", "public", "t", "10", "0", "0"));  // an earlier transaction's, not flushed
    add_stats_row(after, row("1", "public", "t", "12", "1", "0"));
    add_stats_row(after, row("2", "public", "ignored", "5", "0", "0"));
    add_stats_row(after, row("3", "public", "u", "0", "0", "1"));
    expected_counts captured{{1, {2, 1, 0}}};
    auto u = find_uncaptured(before, after, captured, filter);
    BOOST_REQUIRE(u.size() == 1u);  // u's delete; t matches, ignored is excluded
    BOOST_TEST(u[0].name == "u");
    BOOST_TEST(u[0].describe() == "public.u (1 deletes made, 0 captured)");

    expected_counts fewer{{1, {1, 1, 0}}, {3, {0, 0, 1}}};
    u = find_uncaptured(before, after, fewer, filter);
    BOOST_REQUIRE(u.size() == 1u);
    BOOST_TEST(u[0].describe() == "public.t (2 inserts made, 1 captured)");
    // A truncated table's counters restart: not judged.
    BOOST_TEST(find_uncaptured(before, after, fewer, filter, {1}).empty());
}

BOOST_AUTO_TEST_CASE(function_calls_are_spotted_cheaply) {
    BOOST_TEST(!may_call_functions("SELECT a, count(*) FROM t WHERE b IN (1, 2) GROUP BY a"));
    BOOST_TEST(!may_call_functions("SELECT coalesce(a, 'w(x)') FROM t -- f(1)"));
    BOOST_TEST(may_call_functions("SELECT w('x')"));
    BOOST_TEST(may_call_functions("SELECT public.count(1)"));
    BOOST_TEST(may_call_functions("SELECT \"W\"(1)"));
    BOOST_TEST(!may_call_functions("SELECT pg_catalog.lower(a) FROM t"));
    // Parameters, an INSERT's column list, SET (…) and ON CONFLICT (…) call nothing.
    BOOST_TEST(!may_call_functions("SELECT a FROM t WHERE id = $1 AND b = $12"));
    BOOST_TEST(!may_call_functions("INSERT INTO t (a, b) VALUES ($1, now())"));
    BOOST_TEST(!may_call_functions("insert into public.\"T\" as x (a) values (1) on conflict (a) do update set (a) = (2)"));
    BOOST_TEST(!may_call_functions("INSERT INTO \"s\".t(a) SELECT a FROM u RETURNING (a)"));
    BOOST_TEST(may_call_functions("SELECT $$x$$"));
    BOOST_TEST(may_call_functions("INSERT INTO t (a) VALUES (w(1))"));
    BOOST_TEST(may_call_functions("INSERT INTO t SELECT w(a) FROM u"));
    BOOST_TEST(may_call_functions("INSERT INTO t AS x VALUES (1) RETURNING w(x)"));
    BOOST_TEST(may_call_functions("INSERT INTO t VALUES ($1, \"w\"(2))"));
    BOOST_TEST(may_call_functions("UPDATE t SET a = s.w($1)"));
    BOOST_TEST(may_call_functions("SELECT a INTO x FROM t WHERE w(a)"));
}

BOOST_AUTO_TEST_CASE(raise_sql_quotes_its_text) {
    std::string s = raise_sql("0A000", "it's $sqltap$ here", "hint");
    BOOST_TEST(s.find("'it''s $sqltap$ here'") != std::string::npos);
    BOOST_TEST(s.rfind("DO $xsqltap$", 0) == 0);
    auto a = analyze(s);
    BOOST_TEST(a.ok);
    BOOST_TEST(a.statements.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
