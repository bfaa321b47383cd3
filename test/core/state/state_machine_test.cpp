#include "core/state/state_machine.hpp"

#include <boost/test/unit_test.hpp>

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

BOOST_AUTO_TEST_SUITE_END()
