#include <boost/test/unit_test.hpp>

#include <set>

#include "proxy/cancel_map.hpp"

using namespace sqltap::proxy;

BOOST_AUTO_TEST_SUITE(cancel_map_suite)

BOOST_AUTO_TEST_CASE(keys_map_to_their_session_only) {
    cancel_map m;
    auto a = m.add({100, 1, "h", 5432});
    auto b = m.add({101, 2, "h", 5432});
    BOOST_TEST(a.pid == 100);
    BOOST_TEST(m.find(a)->server_key == 1);
    BOOST_TEST(m.find(b)->server_key == 2);
    BOOST_TEST(!m.find({100, a.key ^ 1}));
    if (a.key != b.key) BOOST_TEST(!m.find({101, a.key}).has_value());
    m.remove(a);
    BOOST_TEST(!m.find(a));
}

BOOST_AUTO_TEST_CASE(client_keys_are_not_predictable) {
    cancel_map m;
    std::set<std::int32_t> keys;
    for (int i = 0; i < 1000; ++i) keys.insert(m.add({7, 7, "h", 1}).key);
    BOOST_TEST(keys.size() >= 999u);  // the server's key is never reused as is
}

BOOST_AUTO_TEST_SUITE_END()
