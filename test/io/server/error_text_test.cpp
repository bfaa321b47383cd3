// The messages clients see when the store refuses a request: each names the limit it broke.
#include "io/server/error_text.hpp"

#include <boost/test/unit_test.hpp>

using namespace kv;

namespace {
storage_config limits() {
  storage_config s;
  s.max_key_bytes = 10;
  s.max_value_bytes = 100;
  s.max_batch_bytes = 1000;
  return s;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(error_text_test)

BOOST_AUTO_TEST_CASE(names_the_limit_a_write_broke) {
  result<std::uint64_t> too_large = errc::too_large;
  BOOST_TEST(error_text::write_failed(too_large, protocol::op::set, 11, 5, limits()) ==
             "key of 11 bytes exceeds max-key-size (10 bytes)");
  BOOST_TEST(error_text::write_failed(too_large, protocol::op::set, 5, 101, limits()) ==
             "value of 101 bytes exceeds max-value-size (100 bytes)");
  BOOST_TEST(error_text::write_failed(too_large, protocol::op::bulk_set, 0, 2000, limits()) ==
             "a key or value exceeds its limit (max-key-size 10 bytes, max-value-size 100 bytes), or the write "
             "exceeds max-batch-size (1000 bytes)");
}

BOOST_AUTO_TEST_CASE(explains_sessions_and_shutdown) {
  result<std::uint64_t> expired = errc::session_expired;
  BOOST_TEST(error_text::write_failed(expired, protocol::op::set, 1, 1, limits()).find("open a new one") !=
             std::string::npos);
  result<std::uint64_t> unavailable = errc::unavailable;
  BOOST_TEST(error_text::write_failed(unavailable, protocol::op::del, 1, 0, limits()) == "the node is shutting down");
  result<std::uint64_t> missing = errc::not_found;
  BOOST_TEST(error_text::write_failed(missing, protocol::op::del, 1, 0, limits()).empty());
}

BOOST_AUTO_TEST_CASE(refused_keys) {
  BOOST_TEST(error_text::key_refused(errc::bad_request, 0, limits()) == "the key is empty");
  BOOST_TEST(error_text::key_refused(errc::too_large, 12, limits()) == "key of 12 bytes exceeds max-key-size (10 bytes)");
}

BOOST_AUTO_TEST_SUITE_END()
