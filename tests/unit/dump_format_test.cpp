#include <boost/test/unit_test.hpp>

#include "capture/dump_format.hpp"

using namespace sqltap::capture;

BOOST_AUTO_TEST_SUITE(dump_format_suite)

BOOST_AUTO_TEST_CASE(json_matches_the_documented_shape) {
    transaction t;
    t.xid = "7431";
    t.database = "app";
    t.commit_time_us = 1795014000123456;  // 2026-11-18T15:00:00.123456Z (date -u -d @1795014000)
    relation r{"public", "t", {"id", "a", "b"}, {0}};
    auto ri = t.relation_index(r);
    t.changes = {
        {op::insert, ri, {}, {"1", "x", std::nullopt}, std::nullopt, "", "", ""},
        {op::update, ri, {"1"}, {"1", "y", std::nullopt}, std::nullopt, "", "", ""},
        {op::del, ri, {"1"}, {}, std::nullopt, "", "", ""},
        {op::truncate, ri, {}, {}, std::nullopt, "", "", ""},
        {op::ddl, 0, {}, {}, std::nullopt, "ALTER TABLE t ADD COLUMN c int", "public", ""},
    };
    std::string j = format_json(17, t, {});
    std::string expected =
        "{\"lsn\":17,\"xid\":\"7431\",\"database\":\"app\",\"commit_time\":\"" + iso_time(t.commit_time_us) +
        "\",\"origin\":\"\",\"changes\":["
        "{\"op\":\"insert\",\"schema\":\"public\",\"table\":\"t\",\"new\":{\"id\":\"1\",\"a\":\"x\",\"b\":null}},"
        "{\"op\":\"update\",\"schema\":\"public\",\"table\":\"t\",\"key\":{\"id\":\"1\"},\"new\":{\"id\":\"1\",\"a\":\"y\",\"b\":null}},"
        "{\"op\":\"delete\",\"schema\":\"public\",\"table\":\"t\",\"key\":{\"id\":\"1\"}},"
        "{\"op\":\"truncate\",\"schema\":\"public\",\"table\":\"t\"},"
        "{\"op\":\"ddl\",\"sql\":\"ALTER TABLE t ADD COLUMN c int\",\"search_path\":\"public\"}]}";
    BOOST_TEST(j == expected);
}

BOOST_AUTO_TEST_CASE(iso_time_format) {
    BOOST_TEST(iso_time(0) == "1970-01-01T00:00:00.000000Z");
    BOOST_TEST(iso_time(1795014000123456) == "2026-11-18T15:00:00.123456Z");
}

BOOST_AUTO_TEST_CASE(json_escapes) {
    BOOST_TEST(json_string("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
}

BOOST_AUTO_TEST_CASE(table_filter_drops_other_tables_and_ddl) {
    transaction t;
    auto a = t.relation_index({"public", "a", {"id"}, {0}});
    auto b = t.relation_index({"s", "b", {"id"}, {0}});
    t.changes = {{op::insert, a, {}, {"1"}, std::nullopt, "", "", ""},
                 {op::insert, b, {}, {"2"}, std::nullopt, "", "", ""},
                 {op::ddl, 0, {}, {}, std::nullopt, "CREATE TABLE x ()", "public", ""}};
    dump_filter f{"s.b", ""};
    BOOST_TEST(f.keep(t));
    std::string j = format_json(1, t, f);
    BOOST_TEST(j.find("\"table\":\"b\"") != std::string::npos);
    BOOST_TEST(j.find("\"table\":\"a\"") == std::string::npos);
    BOOST_TEST(j.find("ddl") == std::string::npos);
    BOOST_TEST(!dump_filter({"public.zzz", ""}).keep(t));
    BOOST_TEST(!dump_filter({"", "99"}).keep(t));
}

BOOST_AUTO_TEST_SUITE_END()
