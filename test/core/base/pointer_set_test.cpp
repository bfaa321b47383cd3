#include "core/base/pointer_set.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

struct item {
  std::string key;
};

struct good_hash {
  static std::string_view key(const item* i) noexcept { return i->key; }
  static std::uint64_t hash(std::string_view k) noexcept {
    // std::hash may be the identity on short inputs' bits: spread it over the tag bits too.
    return std::hash<std::string_view>{}(k) * 0x9e3779b97f4a7c15ULL;
  }
};

// Every key in one of 8 hashes, all with the same tag: long probe runs, every probe reads keys.
struct bad_hash {
  static std::string_view key(const item* i) noexcept { return i->key; }
  static std::uint64_t hash(std::string_view k) noexcept { return std::hash<std::string_view>{}(k) % 8; }
};

// Random inserts, erases, replaces, lookups and the odd reserve or clear against a std::unordered_map,
// checking every answer, the size, and (now and then) that for_each visits exactly the model.
template <typename Traits>
void run_model(std::uint32_t seed, int ops, int key_space) {
  std::mt19937_64 rng(seed);
  kv::pointer_set<item, Traits> set;
  std::unordered_map<std::string, item*> model;
  std::vector<std::unique_ptr<item>> items;  // every item made, alive to the end
  auto make = [&](const std::string& k) {
    items.push_back(std::make_unique<item>(item{k}));
    return items.back().get();
  };
  auto check_all = [&] {
    BOOST_REQUIRE_EQUAL(set.size(), model.size());
    std::unordered_map<const item*, int> seen;
    set.for_each([&](item* i) { ++seen[i]; });
    BOOST_REQUIRE_EQUAL(seen.size(), model.size());
    for (const auto& [k, p] : model) {
      BOOST_REQUIRE_EQUAL(seen[p], 1);
      BOOST_REQUIRE(set.find(k) == p);
    }
  };
  for (int op = 0; op < ops; ++op) {
    const auto key = "key" + std::to_string(rng() % key_space);
    const auto dice = rng() % 100;
    auto it = model.find(key);
    if (dice < 45) {
      if (it == model.end()) {
        auto* p = make(key);
        set.insert(p);
        model.emplace(key, p);
      } else {
        BOOST_REQUIRE(set.find(key) == it->second);
      }
    } else if (dice < 75) {
      BOOST_REQUIRE_EQUAL(set.erase(key), it != model.end());
      if (it != model.end()) model.erase(it);
    } else if (dice < 85) {
      if (it != model.end()) {
        auto* p = make(key);
        set.replace(p);
        it->second = p;
      }
    } else if (dice < 99) {
      BOOST_REQUIRE(set.find(key) == (it == model.end() ? nullptr : it->second));
      // The tag lookup finds the key's element when it is present.
      if (it != model.end()) BOOST_REQUIRE(set.find_tag(Traits::hash(key)) != nullptr);
    } else if (rng() % 20 == 0) {
      set.reserve(model.size() + rng() % 1000);
    } else if (rng() % 200 == 0) {
      set.clear();
      model.clear();
    }
    BOOST_REQUIRE_EQUAL(set.size(), model.size());
    if (op % 997 == 0) check_all();
  }
  check_all();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pointer_set)

BOOST_AUTO_TEST_CASE(matches_a_map_under_random_operations) {
  for (std::uint32_t seed = 1; seed <= 6; ++seed) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      // A small key space: many erases and re-inserts, tombstones, same-size rebuilds.
      run_model<good_hash>(seed, 60'000, 300);
      // A large one: growth from empty through many doublings, each drained while used.
      run_model<good_hash>(seed, 150'000, 100'000);
    }
  }
}

BOOST_AUTO_TEST_CASE(matches_a_map_when_every_key_collides) {
  for (std::uint32_t seed = 1; seed <= 3; ++seed) {
    BOOST_TEST_CONTEXT("seed " << seed) { run_model<bad_hash>(seed, 20'000, 1'500); }
  }
}

// Growth never rebuilds in one call: each rebuild has drained on its own, a few slots per insert,
// by the time the next one starts, and an insert that starts one moves no more than drain_slots.
BOOST_AUTO_TEST_CASE(grows_in_steps) {
  using set_type = kv::pointer_set<item, good_hash>;
  set_type set;
  std::vector<std::unique_ptr<item>> items;
  int rebuilds = 0;
  for (int i = 0; i < 300'000; ++i) {
    items.push_back(std::make_unique<item>(item{"k" + std::to_string(i)}));
    const auto before = set.capacity();
    const bool was_rebuilding = set.rebuilding();
    set.insert(items.back().get());
    if (set.capacity() != before) {
      ++rebuilds;
      BOOST_REQUIRE(!was_rebuilding);
      BOOST_REQUIRE_EQUAL(set.capacity(), before == 0 ? set_type::min_slots : 2 * before);
      // The table the insert left behind is still draining, unless that insert's step drained all
      // of it (the first, empty, and the one of drain_slots slots).
      BOOST_REQUIRE_EQUAL(set.rebuilding(), before > set_type::drain_slots);
    }
  }
  BOOST_TEST(rebuilds == 16);  // 16 slots, then 15 doublings to 2^19 for 300,000 at <= 3/4
  for (const auto& p : items) BOOST_REQUIRE(set.find(p->key) == p.get());
}

// Erasing and inserting other keys for ever at a fixed size fills the table with tombstones; it
// is rebuilt at the same size, in steps, rather than grown.
BOOST_AUTO_TEST_CASE(tombstones_rebuild_without_growing) {
  kv::pointer_set<item, good_hash> set;
  std::vector<std::unique_ptr<item>> items;
  for (int i = 0; i < 1000; ++i) {
    items.push_back(std::make_unique<item>(item{"k" + std::to_string(i)}));
    set.insert(items.back().get());
  }
  const auto capacity = set.capacity();
  for (int i = 1000; i < 200'000; ++i) {
    BOOST_REQUIRE(set.erase(items[i - 1000]->key));
    items.push_back(std::make_unique<item>(item{"k" + std::to_string(i)}));
    set.insert(items.back().get());
    BOOST_REQUIRE_EQUAL(set.capacity(), capacity);
  }
  BOOST_TEST(set.size() == 1000u);
  for (int i = 199'000; i < 200'000; ++i) BOOST_REQUIRE(set.find(items[i]->key) == items[i].get());
}

BOOST_AUTO_TEST_CASE(refuses_what_it_cannot_hold) {
  kv::pointer_set<item, good_hash> set;
  BOOST_CHECK_THROW(set.insert(nullptr), std::invalid_argument);
  item i{"a"};
  BOOST_CHECK_THROW(set.replace(&i), std::logic_error);
  // An address with bits above 2^48 would lose them to the tag.
  BOOST_CHECK_THROW(set.insert(reinterpret_cast<item*>(std::uintptr_t{1} << 50)), std::invalid_argument);
  BOOST_TEST(set.empty());
}

BOOST_AUTO_TEST_SUITE_END()
