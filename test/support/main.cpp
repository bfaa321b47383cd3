// The Boost.Test entry point shared by every kvnode test executable.
#define BOOST_TEST_MODULE kvnode
#include <boost/test/unit_test.hpp>
