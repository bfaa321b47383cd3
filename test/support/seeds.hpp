#pragma once
// Seeded randomized tests: run seeds 1..N (N from the environment, or a default), or the one
// seed a failure named, and stop at the first failing seed (its messages name the seed).
//
//   for_each_seed("KV_WATCH_SEED", "KV_WATCH_SEEDS", 200, [](std::uint64_t seed) { ... });

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdlib>

namespace kv::test {

inline std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
}

// `one`: the variable that replays one seed; `many`: the one that sets how many seeds run.
template <typename F>
void for_each_seed(const char* one, const char* many, std::uint64_t default_seeds, F&& run) {
  if (auto seed = env_number(one, 0); seed != 0) {
    run(seed);
    return;
  }
  const auto seeds = env_number(many, default_seeds);
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    run(seed);
    const auto id = boost::unit_test::framework::current_test_case().p_id;
    if (!boost::unit_test::results_collector.results(id).passed()) return;
  }
}

}  // namespace kv::test
