#include <boost/test/unit_test.hpp>

#include <random>

#include "capture/record.hpp"

using namespace sqltap::capture;

namespace {
transaction sample() {
    transaction t;
    t.xid = "7431";
    t.database = "app";
    t.commit_time_us = 1795000000123456;
    t.origin = "";
    relation r{"public", "t", {"id", "a", "b"}, {0}};
    auto ri = t.relation_index(r);
    change ins{op::insert, ri, {}, {"1", "x", std::nullopt}, std::nullopt, "", "", ""};
    change upd{op::update, ri, {"1"}, {"2", "", std::nullopt}, std::vector<value>{"1", "x", std::nullopt}, "", "", ""};
    change del{op::del, ri, {"2"}, {}, std::nullopt, "", "", ""};
    change tru{op::truncate, ri, {}, {}, std::nullopt, "", "", ""};
    change ddl{op::ddl, 0, {}, {}, std::nullopt, "ALTER TABLE t ADD COLUMN c int", "\"$user\", public", ""};
    change rs{op::resync, ri, {}, {}, std::nullopt, "", "", "written by function f()"};
    t.changes = {ins, upd, del, tru, ddl, rs};
    return t;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(record_suite)

BOOST_AUTO_TEST_CASE(round_trip_keeps_everything) {
    transaction t = sample();
    std::string bytes = encode(t);
    transaction d;
    BOOST_TEST(!decode(bytes, d));
    BOOST_TEST((d == t));
    BOOST_TEST(!d.changes[0].new_row[2].has_value());  // NULL
    BOOST_TEST(d.changes[1].new_row[1].has_value());   // empty string, not NULL
    BOOST_TEST(d.changes[1].new_row[1]->empty());
}

BOOST_AUTO_TEST_CASE(relations_are_shared) {
    transaction t;
    relation r{"s", "x", {"k"}, {0}};
    BOOST_TEST(t.relation_index(r) == 0u);
    BOOST_TEST(t.relation_index(relation{"s", "y", {"k"}, {0}}) == 1u);
    BOOST_TEST(t.relation_index(r) == 0u);
}

BOOST_AUTO_TEST_CASE(every_truncation_is_an_error) {
    std::string bytes = encode(sample());
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        transaction d;
        BOOST_TEST(bool(decode(std::string_view(bytes).substr(0, n), d)), "cut at " << n);
    }
    transaction d;
    BOOST_TEST((decode(bytes + "x", d) == record_errc::trailing_bytes));
}

BOOST_AUTO_TEST_CASE(newer_version_is_refused) {
    std::string bytes = encode(sample());
    bytes[0] = static_cast<char>(record_format_version + 1);
    transaction d;
    BOOST_TEST((decode(bytes, d) == record_errc::newer_version));
}

BOOST_AUTO_TEST_CASE(random_corruption_never_crashes) {
    std::string good = encode(sample());
    std::mt19937 rng(11);
    for (int i = 0; i < 5000; ++i) {
        std::string bad = good;
        for (int j = 0; j < 3; ++j) bad[rng() % bad.size()] = static_cast<char>(rng());
        transaction d;
        (void)decode(bad, d);
    }
}

BOOST_AUTO_TEST_CASE(lsn_keys_sort_like_numbers) {
    BOOST_TEST(lsn_key(1) < lsn_key(2));
    BOOST_TEST(lsn_key(255) < lsn_key(256));
    BOOST_TEST(lsn_key(0xffffffffull) < lsn_key(0x100000000ull));
    BOOST_TEST(lsn_from_key(lsn_key(123456789012345ull)) == 123456789012345ull);
}

BOOST_AUTO_TEST_SUITE_END()
