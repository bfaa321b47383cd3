// watch_bench: the watch hub (core/watch/watch_hub.hpp) in process: the memory a watcher costs,
// and what feeding each write to many watchers costs. Loads `--keys` keys, starts `--watchers`
// watchers of one `--shape` from the next write on, and reports the resident memory they added;
// then makes `--writes` puts of random keys, each followed by watch_hub::applied() as the node
// does, with sinks that count what they get, and reports the time applied() took.
//
//   watch_bench --watchers 100000 --keys 100000 --writes 0
//   watch_bench --watchers 10000 --keys 10000 --writes 100000 --shape mixed
//
// Shapes: `single`: watcher i watches key i mod K; `prefix`: the prefix of that key without its
// last digit (ten keys); `mixed`: one watcher in ten a prefix, the others single keys. The
// keyspace keeps the last `history` revisions, compacting as it goes. The same allocator as
// kvnode (jemalloc), one run per process, so that each RSS figure is its own.

#include "bench/args.hpp"
#include "bench/process_stats.hpp"
#include "core/model/key_range.hpp"
#include "core/state/keyspace.hpp"
#include "core/watch/watch_hub.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

std::string key_name(std::uint64_t k) { return fmt::format("key:{:012}", k); }

struct options {
  std::uint64_t watchers = 10'000;
  std::uint64_t keys = 10'000;
  std::string shape = "single";
  std::uint64_t writes = 100'000;
  std::uint64_t history = 1000;
};

bool is_prefix_watcher(const options& o, std::uint64_t i) {
  return o.shape == "prefix" || (o.shape == "mixed" && i % 10 == 9);
}

int run(const options& o) {
  kv::keyspace ks;
  const std::string value(32, 'v');
  for (std::uint64_t k = 0; k < o.keys; ++k) {
    ks.begin_write();
    ks.put(key_name(k), value);
    ks.end_write();
  }
  kv::watch_hub hub(ks);
  std::uint64_t delivered = 0;
  // How many watchers hold each key, for the events the writes must deliver.
  std::vector<std::uint64_t> holders(o.keys);

  const auto rss_before = kv::bench::own_resident_bytes();
  auto t0 = clock_type::now();
  for (std::uint64_t i = 0; i < o.watchers; ++i) {
    const auto k = i % o.keys;
    kv::watch_options w;
    w.key = key_name(k);
    if (is_prefix_watcher(o, i)) {
      w.key.pop_back();
      w.end = kv::prefix_end(w.key);
      for (auto held = k - k % 10; held < std::min(o.keys, k - k % 10 + 10); ++held) ++holders[held];
    } else {
      ++holders[k];
    }
    kv::watch_sink sink;
    sink.events = [&delivered](std::span<const kv::key_event> events) {
      delivered += events.size();
      return true;
    };
    if (!hub.watch(std::move(w), std::move(sink)).ok()) return 1;
  }
  const auto watch_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  const auto rss_watched = kv::bench::own_resident_bytes();

  std::mt19937_64 rng(42);
  std::vector<kv::key_range> written(1);
  std::uint64_t expected = 0;
  clock_type::duration in_applied{};
  t0 = clock_type::now();
  for (std::uint64_t n = 0; n < o.writes; ++n) {
    const auto k = rng() % o.keys;
    const auto key = key_name(k);
    ks.begin_write();
    ks.put(key, value);
    const auto rev = ks.end_write();
    written[0] = kv::key_range{key, {}};
    const auto before = clock_type::now();
    hub.applied(rev, written);
    in_applied += clock_type::now() - before;
    expected += holders[k];
    if (rev > ks.compacted() + o.history) ks.compact(rev - o.history);
  }
  const auto write_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  const auto applied_s = std::chrono::duration<double>(in_applied).count();

  const auto n = static_cast<double>(o.watchers);
  fmt::print("{} {} watchers on {} keys: watch {:.0f} ns each; RSS {:.0f} B per watcher (record {} B)\n", o.watchers,
             o.shape, o.keys, watch_s * 1e9 / n, static_cast<double>(rss_watched - rss_before) / n,
             kv::watch_hub::watcher_bytes());
  if (o.writes != 0) {
    const auto writes = static_cast<double>(o.writes);
    fmt::print("{} writes: applied() {:.0f} ns per write ({:.0f} writes/s), {} events delivered of {} "
               "({:.0f} events/s in applied()); whole loop {:.0f} ns per write; catching up at the end: {}\n",
               o.writes, applied_s * 1e9 / writes, writes / applied_s, delivered, expected, delivered / applied_s,
               write_s * 1e9 / writes, hub.catching_up() ? "yes" : "no");
  }
  return delivered == expected ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  kv::bench::flag_table flags("watch_bench", "in-process memory and write cost of the watch hub");
  flags.add("--watchers", "N", "watchers started", o.watchers);
  flags.add("--keys", "K", "keys loaded; watcher i watches key i mod K", o.keys);
  flags.add("--shape", "single|prefix|mixed", "what each watcher watches", o.shape);
  flags.add("--writes", "W", "puts of random keys fed to the hub (0: memory only)", o.writes);
  flags.add("--history", "N", "revisions of history the keyspace keeps", o.history);
  flags.parse(argc, argv);
  if (o.shape != "single" && o.shape != "prefix" && o.shape != "mixed") {
    std::fprintf(stderr, "watch_bench: --shape must be single, prefix or mixed\n");
    return 2;
  }
  if (o.keys == 0) {
    std::fprintf(stderr, "watch_bench: --keys must be at least 1\n");
    return 2;
  }
  return run(o);
}
