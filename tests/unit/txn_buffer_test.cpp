#include <boost/test/unit_test.hpp>

#include "capture/table_filter.hpp"
#include "capture/txn_buffer.hpp"

using namespace sqltap::capture;

namespace {
const relation rel{"public", "t", {"id"}, {0}};
change ins(const char* id) { return {op::insert, 0, {}, {std::string(id)}, std::nullopt, "", "", ""}; }
std::vector<std::string> ids(const transaction& t) {
    std::vector<std::string> out;
    for (const auto& c : t.changes) out.push_back(c.kind == op::ddl ? c.sql : *c.new_row[0]);
    return out;
}
using v = std::vector<std::string>;
}  // namespace

BOOST_AUTO_TEST_SUITE(txn_buffer_suite)

BOOST_AUTO_TEST_CASE(rollback_to_keeps_the_savepoint_and_drops_later_work) {
    txn_buffer b;
    b.add(rel, ins("1"));
    b.savepoint("a");
    b.add(rel, ins("2"));
    b.savepoint("b");
    b.add(rel, ins("3"));
    BOOST_TEST(b.rollback_to("a"));
    BOOST_TEST(b.savepoints() == 1u);  // a stays, b is gone
    b.add(rel, ins("4"));
    BOOST_TEST(b.rollback_to("a"));    // again: a still exists
    b.add(rel, ins("5"));
    BOOST_TEST(!b.rollback_to("b"));
    BOOST_TEST((ids(b.take()) == v{"1", "5"}));
    BOOST_TEST(b.empty());
    BOOST_TEST(b.savepoints() == 0u);
}

// A relation named by its source (the catalog entry) is made once (and kept
// for later transactions); other sources get their own, equal relations
// share one in a transaction.
BOOST_AUTO_TEST_CASE(relations_by_source_are_made_once) {
    txn_buffer b;
    auto s1 = std::make_shared<int>(1), s2 = std::make_shared<int>(2), s3 = std::make_shared<int>(3);
    const relation other{"public", "u", {"id"}, {0}};
    int made = 0;
    auto make = [&](const relation& r) { return [&made, &r] { ++made; return r; }; };
    b.add(s1, make(rel), ins("1"));
    b.add(s1, make(rel), ins("2"));
    b.add(s2, make(other), ins("3"));
    b.add(s3, make(rel), ins("4"));  // another source of the same relation
    BOOST_TEST(made == 3);
    auto t = b.take();
    BOOST_TEST(t.relations.size() == 2u);
    BOOST_TEST(t.changes[0].rel == 0u);
    BOOST_TEST(t.changes[1].rel == 0u);
    BOOST_TEST(t.changes[2].rel == 1u);
    BOOST_TEST(t.changes[3].rel == 0u);
    // The next transaction numbers its relations anew, with the same relations.
    b.add(s2, make(other), ins("5"));
    BOOST_TEST(made == 3);
    auto next = b.take();
    BOOST_TEST(next.changes[0].rel == 0u);
    BOOST_TEST((next.relations == std::vector<relation>{other}));
    // A bounded number of sources is kept: past it, relations are made again.
    std::vector<std::shared_ptr<int>> many;
    for (int i = 0; i < 40; ++i) b.add(many.emplace_back(std::make_shared<int>(i)), make(rel), ins("6"));
    b.add(s1, make(rel), ins("7"));
    BOOST_TEST(made == 3 + 40 + 1);
}

BOOST_AUTO_TEST_CASE(release_keeps_changes_and_forgets_later_savepoints) {
    txn_buffer b;
    b.savepoint("a");
    b.add(rel, ins("1"));
    b.savepoint("b");
    b.add(rel, ins("2"));
    BOOST_TEST(b.release("a"));
    BOOST_TEST(b.savepoints() == 0u);
    BOOST_TEST(!b.rollback_to("b"));
    BOOST_TEST((ids(b.take()) == v{"1", "2"}));
}

BOOST_AUTO_TEST_CASE(reused_names_mean_the_newest) {
    txn_buffer b;
    b.savepoint("s");
    b.add(rel, ins("1"));
    b.savepoint("s");
    b.add(rel, ins("2"));
    BOOST_TEST(b.rollback_to("s"));
    BOOST_TEST((ids(b.take()) == v{"1"}));
}

BOOST_AUTO_TEST_CASE(ddl_is_kept_in_place_and_clear_drops_all) {
    txn_buffer b;
    b.add(rel, ins("1"));
    b.add_ddl("ALTER TABLE t ADD COLUMN c int", "public");
    b.add(rel, ins("2"));
    auto t = b.take();
    BOOST_TEST((ids(t) == v{"1", "ALTER TABLE t ADD COLUMN c int", "2"}));
    BOOST_TEST(t.relations.size() == 1u);
    b.add(rel, ins("3"));
    b.savepoint("x");
    b.clear();
    BOOST_TEST(b.empty());
    BOOST_TEST(b.savepoints() == 0u);
}

BOOST_AUTO_TEST_CASE(table_filter_patterns) {
    table_filter all;
    BOOST_TEST(all.captures("public", "t"));
    BOOST_TEST(all.captures("app", "orders"));
    BOOST_TEST(!all.captures("pg_catalog", "pg_class"));
    BOOST_TEST(!all.captures("information_schema", "tables"));
    BOOST_TEST(!all.captures("pg_temp_3", "scratch"));
    BOOST_TEST(!all.captures("sqltap", "progress"));

    table_filter some("app.*, public.order*, audit_log", "app.tmp_*, *.secrets");
    BOOST_TEST(some.captures("app", "customers"));
    BOOST_TEST(!some.captures("app", "tmp_import"));
    BOOST_TEST(some.captures("public", "orders"));
    BOOST_TEST(some.captures("public", "order_lines"));
    BOOST_TEST(!some.captures("public", "customers"));
    BOOST_TEST(some.captures("public", "audit_log"));  // no dot: public
    BOOST_TEST(!some.captures("app", "secrets"));
    BOOST_TEST(!some.captures("other", "audit_log"));

    BOOST_TEST(table_filter::glob("*a*b*", "xxaxxbxx"));
    BOOST_TEST(!table_filter::glob("*a*b", "xxaxxbxx"));
    BOOST_TEST(table_filter::glob("", ""));
    BOOST_TEST(!table_filter::glob("", "x"));
    BOOST_CHECK_THROW(table_filter("a.b.c"), std::invalid_argument);
    BOOST_CHECK_THROW(table_filter(".t"), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
