#include "core/state/state_machine.hpp"

#include "core/base/bytes.hpp"

#include <boost/test/unit_test.hpp>

#include <limits>
#include <map>
#include <random>

using namespace kv;

namespace {

void apply_set(state_machine& sm, std::string_view k, std::string_view v) {
  auto bytes = encode_set(k, v);
  BOOST_REQUIRE(sm.apply(sm.applied_index() + 1, *decode_command(bytes)) == errc::ok);
}

errc apply_del(state_machine& sm, std::string_view k) {
  auto bytes = encode_del(k);
  return sm.apply(sm.applied_index() + 1, *decode_command(bytes));
}

struct applied {
  errc code = errc::ok;
  std::string reply;
  std::string changes;  // the encoded `changes` command
};

applied apply_incr(state_machine& sm, std::string_view k, std::int64_t delta) {
  auto bytes = encode_incr(k, delta);
  applied a;
  change_list changes;
  a.code = sm.apply(sm.applied_index() + 1, *decode_command(bytes), &a.reply, &changes);
  a.changes = changes.command();
  return a;
}

// The same incr as a transaction of one op: the answer the plain command must match.
applied apply_incr_txn(state_machine& sm, std::string_view k, std::int64_t delta) {
  kv::txn t;
  t.then_ops.push_back(make_incr(std::string(k), delta));
  auto bytes = encode_txn_command(encode_txn(t));
  applied a;
  a.code = sm.apply(sm.applied_index() + 1, *decode_command(bytes), &a.reply);
  return a;
}

std::map<std::string, std::string> contents_of(const std::vector<state_machine::chunk>& chunks) {
  std::map<std::string, std::string> out;
  for (const auto& c : chunks) {
    BOOST_REQUIRE(valid_key_records(c.keys, c.count));
    for_each_key_record(c.keys, c.count, [&](const captured_key& k) {
      const auto& newest = k.versions.back();
      if (newest.version == 0) return;  // deleted: kept for reads at earlier revisions
      BOOST_REQUIRE_MESSAGE(out.emplace(k.key, newest.value).second, "key captured twice: " << k.key);
    });
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(state_machine_suite)

BOOST_AUTO_TEST_CASE(set_get_overwrite_delete) {
  state_machine sm;
  apply_set(sm, "a", "1");
  apply_set(sm, "b", "22");
  BOOST_TEST(*sm.get("a") == "1");
  apply_set(sm, "a", "333");
  BOOST_TEST(*sm.get("a") == "333");
  BOOST_TEST(sm.key_count() == 2u);
  BOOST_TEST(sm.data_bytes() == 1u + 3u + 1u + 2u);
  BOOST_TEST((apply_del(sm, "a") == errc::ok));
  BOOST_TEST((apply_del(sm, "a") == errc::not_found));
  BOOST_TEST(!sm.get("a").has_value());
  BOOST_TEST(sm.key_count() == 1u);
  BOOST_TEST(sm.data_bytes() == 3u);
  BOOST_TEST(sm.applied_index() == 5u);
}

BOOST_AUTO_TEST_CASE(bulk_set_applies_every_pair) {
  state_machine sm;
  std::vector<kv_pair> pairs{{"x", "1"}, {"y", "2"}, {"x", "3"}};
  auto bytes = encode_bulk_set(pairs);
  BOOST_TEST((sm.apply(1, *decode_command(bytes)) == errc::ok));
  BOOST_TEST(*sm.get("x") == "3");  // later pairs win
  BOOST_TEST(*sm.get("y") == "2");
  BOOST_TEST(sm.key_count() == 2u);
}

// The capture must equal the state at begin_capture(), whatever writes interleave with it.
BOOST_AUTO_TEST_CASE(capture_is_point_in_time_under_concurrent_writes) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    state_machine sm;
    std::map<std::string, std::string> model;
    auto random_key = [&] { return "key" + std::to_string(rng() % 3000); };
    for (int i = 0; i < 4000; ++i) {
      auto k = random_key();
      auto v = std::to_string(rng());
      apply_set(sm, k, v);
      model[k] = v;
    }
    std::vector<state_machine::chunk> chunks;
    sm.begin_capture([&](state_machine::chunk c) { chunks.push_back(std::move(c)); });
    const auto expected = model;
    bool more = true;
    while (more) {
      for (int w = 0; w < static_cast<int>(rng() % 20); ++w) {
        auto k = random_key();
        if (rng() % 4 == 0) {
          apply_del(sm, k);
        } else {
          apply_set(sm, k, "after-" + std::to_string(rng()));
        }
      }
      more = sm.capture_step();
    }
    BOOST_TEST(!sm.capturing());
    BOOST_TEST((contents_of(chunks) == expected), "seed " << seed);
  }
}

// Every write that changes something takes the next revision; noops and deletes of absent keys
// take none; history is kept until a compact command drops it.
BOOST_AUTO_TEST_CASE(revisions_follow_the_writes_and_history_is_bounded) {
  state_machine sm;
  BOOST_TEST(sm.revision() == 1u);
  apply_set(sm, "a", "1");
  apply_set(sm, "a", "2");
  BOOST_TEST(sm.revision() == 3u);
  BOOST_TEST((apply_del(sm, "zz") == errc::not_found));
  BOOST_TEST(sm.revision() == 3u);
  auto noop = encode_noop();
  BOOST_TEST((sm.apply(sm.applied_index() + 1, *decode_command(noop)) == errc::ok));
  BOOST_TEST(sm.revision() == 3u);
  std::vector<kv_pair> pairs{{"b", "1"}, {"c", "1"}};
  auto bulk = encode_bulk_set(pairs);
  BOOST_TEST((sm.apply(sm.applied_index() + 1, *decode_command(bulk)) == errc::ok));
  BOOST_TEST(sm.revision() == 4u);  // one revision for the whole batch
  BOOST_TEST(sm.keys().get("b")->mod_revision == 4u);
  BOOST_TEST(sm.keys().get("c")->mod_revision == 4u);
  apply_set(sm, "a", "3");
  BOOST_TEST(sm.revision() == 5u);
  BOOST_TEST(sm.keys().get("a", 2)->value == "1");
  auto compact = encode_compact(3);
  std::string message;
  BOOST_TEST((sm.apply(sm.applied_index() + 1, *decode_command(compact), &message) == errc::ok));
  BOOST_TEST(sm.compacted_revision() == 3u);  // revisions 3 to 5 readable
  BOOST_TEST(sm.keys().get("a", 3)->value == "2");
  BOOST_TEST(sm.keys().get("a")->version == 3u);
  BOOST_TEST(sm.applied_index() == 7u);
  // Compacting again at or below the compacted revision, or past the current one, is refused.
  BOOST_TEST((sm.apply(sm.applied_index() + 1, *decode_command(compact), &message) == errc::compacted));
  BOOST_TEST(message.find("oldest readable revision is 3") != std::string::npos);
  auto future = encode_compact(9);
  BOOST_TEST((sm.apply(sm.applied_index() + 1, *decode_command(future), &message) == errc::future_revision));
  BOOST_TEST(sm.compacted_revision() == 3u);
}

// An incr command: absent counts as 0, one revision per incr, the value's version and
// create_revision carried on, its answer u64 revision | i64 value, its change the new value.
BOOST_AUTO_TEST_CASE(incr_adds_to_a_decimal_value_at_one_revision) {
  state_machine sm;
  auto a = apply_incr(sm, "n", 5);
  BOOST_REQUIRE((a.code == errc::ok));
  BOOST_TEST(a.reply.size() == 16u);
  BOOST_TEST(get_fixed<std::uint64_t>(a.reply.data()) == 2u);
  BOOST_TEST(get_fixed<std::int64_t>(a.reply.data() + 8) == 5);
  auto changes = decode_command(a.changes);
  BOOST_REQUIRE(changes.ok());
  int seen = 0;
  changes->for_each_change([&](bool deleted, std::string_view k, std::string_view v) {
    BOOST_TEST(!deleted);
    BOOST_TEST(k == "n");
    BOOST_TEST(v == "5");
    ++seen;
  });
  BOOST_TEST(seen == 1);
  apply_set(sm, "other", "x");
  a = apply_incr(sm, "n", -12);
  BOOST_REQUIRE((a.code == errc::ok));
  BOOST_TEST(get_fixed<std::uint64_t>(a.reply.data()) == 4u);
  BOOST_TEST(get_fixed<std::int64_t>(a.reply.data() + 8) == -7);
  auto kv = sm.keys().get("n");
  BOOST_REQUIRE(kv.has_value());
  BOOST_TEST(kv->value == "-7");
  BOOST_TEST(kv->create_revision == 2u);
  BOOST_TEST(kv->mod_revision == 4u);
  BOOST_TEST(kv->version == 2u);
  BOOST_TEST(sm.keys().get("n", 3)->value == "5");
  apply_set(sm, "s", "-0009");  // Redis's string2ll refuses leading zeros: so does the incr
  BOOST_TEST((apply_incr(sm, "s", 1).code == apply_incr_txn(sm, "s", 1).code));
}

// Refusals change nothing and carry the transaction's messages, which RESP maps to Redis's errors.
BOOST_AUTO_TEST_CASE(incr_refusals_match_the_transaction) {
  state_machine sm;
  apply_set(sm, "text", "abc");
  apply_set(sm, "big", "9223372036854775807");
  const auto revision = sm.revision();
  for (auto [key, delta] : {std::pair<std::string_view, std::int64_t>{"text", 1}, {"big", 1},
                            {"big", std::numeric_limits<std::int64_t>::max()}}) {
    auto plain = apply_incr(sm, key, delta);
    auto txn = apply_incr_txn(sm, key, delta);
    BOOST_TEST((plain.code == errc::bad_request));
    BOOST_TEST((txn.code == errc::bad_request));
    BOOST_TEST(plain.reply == txn.reply);
    BOOST_TEST(plain.changes.empty());
  }
  BOOST_TEST(apply_incr(sm, "text", 1).reply.find("not a decimal 64-bit integer") != std::string::npos);
  BOOST_TEST(apply_incr(sm, "big", 1).reply.find("overflows") != std::string::npos);
  BOOST_TEST(sm.revision() == revision);
  BOOST_TEST(*sm.get("big") == "9223372036854775807");
  auto low = apply_incr(sm, "low", std::numeric_limits<std::int64_t>::min());
  BOOST_REQUIRE((low.code == errc::ok));
  BOOST_TEST(*sm.get("low") == "-9223372036854775808");
  BOOST_TEST((apply_incr(sm, "low", -1).code == errc::bad_request));
}

// An incr keeps the key's expiry (Redis's INCR keeps the TTL), even one already due but not yet
// deleted: apply never reads a clock, so the key is incremented and the leader's expire command
// deletes it later, as for a transaction's incr.
BOOST_AUTO_TEST_CASE(incr_keeps_the_ttl_and_needs_no_clock) {
  state_machine sm;
  kv::txn t;
  t.then_ops.push_back(make_put_ttl("n", "41", 1000));
  auto put = encode_txn_command(encode_txn(t), 5000);
  BOOST_REQUIRE((sm.apply(1, *decode_command(put)) == errc::ok));
  BOOST_TEST(sm.keys().get("n")->expires == 6000u);
  BOOST_REQUIRE((apply_incr(sm, "n", 1).code == errc::ok));
  BOOST_TEST(*sm.get("n") == "42");
  BOOST_TEST(sm.keys().get("n")->expires == 6000u);
  BOOST_TEST(sm.clock() == 5000u);  // an incr carries no stamp and moves no clock
  std::vector<std::string_view> none;
  auto later = encode_expire(9000, none);  // the clock passes the expiry; the key is not deleted yet
  BOOST_REQUIRE((sm.apply(sm.applied_index() + 1, *decode_command(later)) == errc::ok));
  BOOST_REQUIRE((apply_incr(sm, "n", 1).code == errc::ok));
  BOOST_TEST(*sm.get("n") == "43");
  BOOST_TEST(sm.keys().get("n")->expires == 6000u);
  std::vector<std::string_view> due{"n"};
  auto expire = encode_expire(9000, due);
  BOOST_REQUIRE((sm.apply(sm.applied_index() + 1, *decode_command(expire)) == errc::ok));
  BOOST_TEST(!sm.get("n").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
