#include "core/model/command.hpp"
#include "core/model/txn.hpp"

#include <boost/test/unit_test.hpp>

#include <limits>
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

BOOST_AUTO_TEST_CASE(incr_round_trip_with_binary_key_and_extreme_deltas) {
  const std::string key("c\0unter", 8);
  for (std::int64_t delta : {std::int64_t{1}, std::int64_t{-1}, std::numeric_limits<std::int64_t>::min(),
                             std::numeric_limits<std::int64_t>::max()}) {
    auto bytes = kv::encode_incr(key, delta);
    BOOST_TEST(bytes.size() == 1u + 8u + key.size());
    auto c = kv::decode_command(bytes);
    BOOST_REQUIRE(c.ok());
    BOOST_TEST((c->type == kv::command_type::incr));
    BOOST_TEST(c->key == key);
    BOOST_TEST(c->delta == delta);
    BOOST_TEST(c->session.session == 0u);
  }
  kv::session_ref ref;
  ref.session = 5;
  ref.seq = 2;
  ref.first_unacked = 1;
  // decode_command's views point into the bytes: they must outlive it.
  const auto encoded = kv::encode_in_session(ref, kv::encode_incr("n", -7));
  auto in_session = kv::decode_command(encoded);
  BOOST_REQUIRE(in_session.ok());
  BOOST_TEST((in_session->type == kv::command_type::incr));
  BOOST_TEST(in_session->key == "n");
  BOOST_TEST(in_session->delta == -7);
  BOOST_TEST(in_session->session.session == 5u);
  BOOST_TEST(in_session->session.seq == 2u);
  BOOST_TEST(in_session->session.first_unacked == 1u);
}

BOOST_AUTO_TEST_CASE(malformed_incr_is_rejected) {
  // Cut anywhere up to and including the whole delta: no key is left.
  auto bytes = kv::encode_incr("k", 3);
  for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
    BOOST_TEST(kv::decode_command(bytes.substr(0, cut)).is(kv::errc::corruption), "cut at " << cut);
  }
  kv::session_ref ref;
  ref.session = 1;
  auto wrapped = kv::encode_in_session(ref, bytes);
  BOOST_TEST(kv::decode_command(wrapped.substr(0, wrapped.size() - 1)).is(kv::errc::corruption));
}

BOOST_AUTO_TEST_CASE(lease_commands_round_trip) {
  auto grant = kv::decode_command(kv::encode_lease_grant(7, 30));
  BOOST_REQUIRE(grant.ok());
  BOOST_TEST((grant->type == kv::command_type::lease_grant));
  BOOST_TEST(grant->lease == 7u);
  BOOST_TEST(grant->ttl == 30);
  auto revoke = kv::decode_command(kv::encode_lease_revoke(9));
  BOOST_REQUIRE(revoke.ok());
  BOOST_TEST(revoke->lease == 9u);
  std::vector<kv::lease_remaining> cps(2);
  cps[0].id = 1;
  cps[0].remaining_ms = 1500;
  cps[1].id = 4;
  const auto checkpoint = kv::encode_lease_checkpoint(cps);
  auto cp = kv::decode_command(checkpoint);
  BOOST_REQUIRE(cp.ok());
  std::vector<std::pair<std::uint64_t, std::int64_t>> seen;
  cp->for_each_checkpoint([&](std::uint64_t id, std::int64_t left) { seen.emplace_back(id, left); });
  BOOST_TEST(seen.size() == 2u);
  BOOST_TEST(seen[0].first == 1u);
  BOOST_TEST(seen[0].second == 1500);
  BOOST_TEST(seen[1].first == 4u);
  // Short, long, or a count that does not match the bytes.
  BOOST_TEST(kv::decode_command(kv::encode_lease_grant(7, 30) + "x").is(kv::errc::corruption));
  BOOST_TEST(kv::decode_command(kv::encode_lease_revoke(9).substr(0, 5)).is(kv::errc::corruption));
  BOOST_TEST(kv::decode_command(checkpoint.substr(0, checkpoint.size() - 1)).is(kv::errc::corruption));
  // In a session, as a client's grant and revoke are sent.
  kv::session_ref ref;
  ref.session = 3;
  ref.seq = 1;
  auto in_session = kv::decode_command(kv::encode_in_session(ref, kv::encode_lease_grant(0, 5)));
  BOOST_REQUIRE(in_session.ok());
  BOOST_TEST(in_session->session.session == 3u);
  BOOST_TEST(kv::decode_command(kv::encode_in_session(ref, checkpoint)).is(kv::errc::corruption));
}

BOOST_AUTO_TEST_CASE(a_put_carries_its_lease_through_the_txn_encoding) {
  kv::txn t;
  t.then_ops.push_back(kv::make_put("k", "v", true, 42));
  t.then_ops.push_back(kv::make_put("j", "w"));
  auto bytes = kv::encode_txn(t);
  auto back = kv::decode_txn(bytes);
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->then_ops[0].lease == 42u);
  BOOST_TEST((back->then_ops[0].flags & kv::op_lease) != 0);
  BOOST_TEST((back->then_ops[0].flags & kv::op_prev_kv) != 0);
  BOOST_TEST(back->then_ops[1].lease == 0u);
  BOOST_TEST(kv::check_txn(*back, kv::txn_limits{}).code.value() == 0);
  // op_lease with lease 0 is refused before the log.
  auto zero = t;
  zero.then_ops[0].lease = 0;
  auto z = kv::decode_txn(kv::encode_txn(zero));
  BOOST_REQUIRE(z.has_value());
  BOOST_TEST(kv::check_txn(*z, kv::txn_limits{}).message.find("lease 0 is no lease") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
