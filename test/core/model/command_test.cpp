#include "core/model/command.hpp"

#include <boost/test/unit_test.hpp>

#include <vector>

BOOST_AUTO_TEST_SUITE(command)

BOOST_AUTO_TEST_CASE(set_round_trip_with_binary_bytes) {
  std::string key("k\0y", 3);
  std::string value("\xff\x00value", 7);
  auto bytes = kv::encode_set(key, value);  // decoded views point into it
  auto c = kv::decode_command(bytes);
  BOOST_REQUIRE(c.ok());
  BOOST_TEST((c->type == kv::command_type::set));
  BOOST_TEST(c->key == key);
  BOOST_TEST(c->value == value);
}

BOOST_AUTO_TEST_CASE(del_and_noop_round_trip) {
  auto del = kv::encode_del("gone");
  auto d = kv::decode_command(del);
  BOOST_REQUIRE(d.ok());
  BOOST_TEST((d->type == kv::command_type::del));
  BOOST_TEST(d->key == "gone");
  auto n = kv::decode_command(kv::encode_noop());
  BOOST_REQUIRE(n.ok());
  BOOST_TEST((n->type == kv::command_type::noop));
}

BOOST_AUTO_TEST_CASE(bulk_set_round_trip) {
  std::vector<kv::kv_pair> pairs{{"a", "1"}, {"bb", ""}, {"", "empty key"}, {"c", std::string(1000, 'x')}};
  auto bytes = kv::encode_bulk_set(pairs);
  auto c = kv::decode_command(bytes);
  BOOST_REQUIRE(c.ok());
  BOOST_TEST(c->count == pairs.size());
  std::vector<kv::kv_pair> seen;
  c->for_each_pair([&](std::string_view k, std::string_view v) { seen.push_back({std::string(k), std::string(v)}); });
  BOOST_REQUIRE(seen.size() == pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    BOOST_TEST(seen[i].key == pairs[i].key);
    BOOST_TEST(seen[i].value == pairs[i].value);
  }
}

BOOST_AUTO_TEST_CASE(malformed_commands_are_rejected) {
  BOOST_TEST(kv::decode_command("").is(kv::errc::corruption));
  BOOST_TEST(kv::decode_command(std::string(1, '\x09')).is(kv::errc::corruption));  // unknown type
  auto set = kv::encode_set("key", "value");
  BOOST_TEST(kv::decode_command(set.substr(0, 3)).is(kv::errc::corruption));  // key length cut
  BOOST_TEST(kv::decode_command(set.substr(0, 7)).is(kv::errc::corruption));  // key cut
  std::vector<kv::kv_pair> pairs{{"a", "1"}, {"b", "2"}};
  auto bulk = kv::encode_bulk_set(pairs);
  for (std::size_t cut = 1; cut < bulk.size(); ++cut) {
    BOOST_TEST(kv::decode_command(bulk.substr(0, cut)).is(kv::errc::corruption), "cut at " << cut);
  }
  BOOST_TEST(kv::decode_command(bulk + "x").is(kv::errc::corruption));  // trailing bytes
  BOOST_TEST(kv::decode_command(kv::encode_noop() + "x").is(kv::errc::corruption));
}

BOOST_AUTO_TEST_SUITE_END()
