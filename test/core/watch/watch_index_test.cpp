// The watch hub's index of synced watchers (core/watch/watch_index.hpp) against a plain list:
// thousands of single keys, prefixes, ranges (empty ones too) and open-ended ranges come and go
// at random, and every query must name exactly the entries whose range holds the key.
// KV_WATCH_INDEX_SEED=N replays one seed; KV_WATCH_INDEX_SEEDS=N runs seeds 1..N (default 10).

#include "core/watch/watch_index.hpp"

#include "core/model/key_range.hpp"
#include "support/seeds.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <list>
#include <random>
#include <string>
#include <vector>

namespace {

struct indexed {
  std::string key, end;
  kv::watch_index::entry entry;
};

class index_runner {
 public:
  explicit index_runner(std::uint64_t seed) : rng_(seed), seed_(seed) {}

  void run(int steps) {
    for (int step = 0; step < steps; ++step) {
      const auto dice = pick(10);
      if (dice < 5 || live_.empty()) {
        add();
      } else if (dice < 7) {
        remove();
      } else {
        query(step);
      }
    }
    while (!live_.empty()) remove();
    BOOST_TEST(index_.empty());
  }

 private:
  std::uint64_t pick(std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_); }

  std::string random_key() {
    std::string k;
    const auto len = 1 + pick(4);
    for (std::uint64_t i = 0; i < len; ++i) k.push_back(static_cast<char>('a' + pick(4)));
    return k;
  }

  void add() {
    auto& e = live_.emplace_back();
    e.key = random_key();
    switch (pick(5)) {
      case 0: e.end = kv::prefix_end(e.key); break;
      case 1: e.end = random_key(); break;  // empty when it is not after the key
      case 2: e.end = std::string(1, '\0'); break;
      default: break;  // a single key
    }
    e.entry.id = next_id_++;
    e.entry.key = e.key;
    e.entry.end = e.end;
    index_.insert(e.entry);
  }

  void remove() {
    auto it = live_.begin();
    std::advance(it, pick(live_.size()));
    index_.erase(it->entry);
    live_.erase(it);
  }

  void query(int step) {
    const auto key = random_key();
    std::vector<std::uint64_t> got, want;
    index_.for_each_holding(key, [&](std::uint64_t id) { got.push_back(id); });
    for (const auto& e : live_) {
      if (kv::contains(kv::key_range{e.key, e.end}, key)) want.push_back(e.entry.id);
    }
    std::sort(got.begin(), got.end());
    BOOST_REQUIRE_MESSAGE(got == want, "seed " << seed_ << " step " << step << ": " << got.size() << " entries hold "
                                                << key << ", want " << want.size()
                                                << " (replay: KV_WATCH_INDEX_SEED=" << seed_ << ")");
  }

  std::mt19937_64 rng_;
  std::uint64_t seed_;
  std::uint64_t next_id_ = 1;
  std::list<indexed> live_;  // entries keep their address while indexed
  kv::watch_index index_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(watch_index)

BOOST_AUTO_TEST_CASE(queries_name_exactly_the_ranges_holding_the_key) {
  kv::test::for_each_seed("KV_WATCH_INDEX_SEED", "KV_WATCH_INDEX_SEEDS", 10,
                          [](std::uint64_t seed) { index_runner(seed).run(6000); });
}

BOOST_AUTO_TEST_SUITE_END()
