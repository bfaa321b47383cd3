// The wire encoding of Raft messages: every field survives a round trip, and damaged input is
// refused rather than trusted.

#include "raft/codec.hpp"

#include <boost/test/unit_test.hpp>

using namespace kv::raft;

namespace {

message full_message() {
  message m;
  m.type = message_type::append;
  m.from = 1;
  m.to = 3;
  m.term = 7;
  m.last_index = 11;
  m.last_term = 6;
  m.leader_transfer = true;
  m.prev_index = 40;
  m.prev_term = 5;
  m.commit = 39;
  m.reject = true;
  m.match = 38;
  m.hint_index = 30;
  m.hint_term = 4;
  m.context = 99;
  m.snapshot_index = 1234;
  m.snapshot_term = 6;
  m.entries = {entry{7, 41, "set k v"}, entry{7, 42, ""}, entry{7, 43, std::string(1000, 'x')}};
  return m;
}

void check_equal(const message& a, const message& b) {
  BOOST_TEST((a.type == b.type));
  BOOST_TEST(a.from == b.from);
  BOOST_TEST(a.to == b.to);
  BOOST_TEST(a.term == b.term);
  BOOST_TEST(a.last_index == b.last_index);
  BOOST_TEST(a.last_term == b.last_term);
  BOOST_TEST(a.leader_transfer == b.leader_transfer);
  BOOST_TEST(a.prev_index == b.prev_index);
  BOOST_TEST(a.prev_term == b.prev_term);
  BOOST_TEST(a.commit == b.commit);
  BOOST_TEST(a.reject == b.reject);
  BOOST_TEST(a.match == b.match);
  BOOST_TEST(a.hint_index == b.hint_index);
  BOOST_TEST(a.hint_term == b.hint_term);
  BOOST_TEST(a.context == b.context);
  BOOST_TEST(a.snapshot_index == b.snapshot_index);
  BOOST_TEST(a.snapshot_term == b.snapshot_term);
  BOOST_TEST((a.entries == b.entries));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(raft_codec)

BOOST_AUTO_TEST_CASE(every_field_round_trips) {
  auto m = full_message();
  std::string bytes;
  encode(bytes, m);
  BOOST_TEST(bytes.size() == encoded_size(m));
  auto back = decode(bytes);
  BOOST_REQUIRE(back.has_value());
  check_equal(*back, m);

  message plain;  // defaults: no flags, no entries
  plain.type = message_type::vote_response;
  bytes.clear();
  encode(bytes, plain);
  back = decode(bytes);
  BOOST_REQUIRE(back.has_value());
  check_equal(*back, plain);
}

BOOST_AUTO_TEST_CASE(truncated_input_is_refused_at_every_length) {
  std::string bytes;
  encode(bytes, full_message());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    BOOST_TEST(!decode(std::string_view(bytes).substr(0, n)).has_value(), "accepted a prefix of " << n << " bytes");
  }
}

BOOST_AUTO_TEST_CASE(damaged_fields_are_refused) {
  std::string good;
  encode(good, full_message());
  auto bad_type = good;
  bad_type[0] = static_cast<char>(200);
  BOOST_TEST(!decode(bad_type).has_value());

  auto trailing = good + "x";
  BOOST_TEST(!decode(trailing).has_value());

  auto bad_flags = good;
  bad_flags[1 + 8 * 8] = static_cast<char>(0x80);
  BOOST_TEST(!decode(bad_flags).has_value());

  // An entry count far beyond what the bytes could hold is not used to size an allocation.
  message none;
  std::string huge;
  encode(huge, none);
  huge[huge.size() - 4] = '\xff';
  huge[huge.size() - 3] = '\xff';
  huge[huge.size() - 2] = '\xff';
  huge[huge.size() - 1] = '\x7f';
  BOOST_TEST(!decode(huge).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
