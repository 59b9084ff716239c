#include <boost/test/unit_test.hpp>

#include "capture/catalog.hpp"

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

BOOST_AUTO_TEST_SUITE_END()
