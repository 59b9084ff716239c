#define BOOST_TEST_MODULE sqltap unit tests
#include <boost/test/unit_test.hpp>
