#include <boost/test/unit_test.hpp>

#include "capture/catalog.hpp"
#include "capture/table_filter.hpp"

using namespace sqltap::capture;
using v = std::vector<std::string>;

BOOST_AUTO_TEST_SUITE(catalog_suite)

BOOST_AUTO_TEST_CASE(search_path_parsing) {
    BOOST_TEST((parse_search_path("\"$user\", public", "alice") == v{"alice", "public"}));
    BOOST_TEST((parse_search_path("$user,public", "") == v{"public"}));
    BOOST_TEST((parse_search_path("App, \"Mixed Case\", \"q\"\"uote\"", "u") == v{"app", "Mixed Case", "q\"uote"}));
    BOOST_TEST((parse_search_path("  a ,b  ,  c", "u") == v{"a", "b", "c"}));
    BOOST_TEST(parse_search_path("", "u").empty());
    BOOST_TEST((parse_search_path("\"\"", "u").empty()));
}

BOOST_AUTO_TEST_CASE(table_rows_from_the_session_query) {
    using R = text_row;
    auto q = table_query({"", "t"}, {"app", "public"});
    BOOST_TEST(q.find("'{\"pg_catalog\",\"app\",\"public\"}'") != std::string::npos, q);
    BOOST_TEST(!table_from_rows({}).has_value());
    std::vector<R> rows = {
        R{"16384", "public", "t", "r", "d", "16384", "1", "id", "23", "integer", "false", std::string("true 1"), "false", "fp"},
        R{"16384", "public", "t", "r", "d", "16384", "3", "a", "25", "text", "true", std::string("true 1"), "false", "fp"},
    };
    auto t = table_from_rows(rows);
    BOOST_REQUIRE(t.has_value());
    BOOST_TEST(t->oid == 16384u);
    BOOST_TEST(t->columns.size() == 2u);
    BOOST_TEST(t->columns[1].generated);
    BOOST_TEST(t->key_columns == std::vector<std::uint32_t>{0});
    BOOST_TEST(to_string(t->key) == to_string(key_source::primary_key));
    BOOST_TEST(!t->hidden_writers);
    BOOST_TEST(t->fingerprint == "fp");
    rows[0][12] = rows[1][12] = std::string("true");
    BOOST_TEST(table_from_rows(rows)->hidden_writers);
    rows[0][11] = rows[1][11] = std::nullopt;  // no key index: every column
    auto all = table_from_rows(rows);
    BOOST_TEST(all->key_columns.size() == 2u);
    BOOST_TEST(to_string(all->key) == to_string(key_source::all_columns));
}

BOOST_AUTO_TEST_CASE(a_column_list_keeps_listed_and_key_columns_in_order) {
    table_info t;
    t.schema = "public";
    t.name = "t";
    for (const char* c : {"a", "k2", "b", "k1", "c"}) t.columns.push_back({c, 23, "integer", false});
    t.key_columns = {3, 1};  // PRIMARY KEY (k1, k2)
    auto missing = apply_rule(t, {"public", "t", "c > 0", {"c", "nosuch"}});
    BOOST_TEST((missing == std::vector<std::string>{"nosuch"}));
    std::vector<std::string> names;
    for (const auto& c : t.columns) names.push_back(c.name);
    BOOST_TEST((names == std::vector<std::string>{"k2", "k1", "c"}));
    BOOST_TEST((t.key_columns == std::vector<std::uint32_t>{1, 0}));
    BOOST_TEST(t.row_filter == "c > 0");
}

BOOST_AUTO_TEST_SUITE_END()
