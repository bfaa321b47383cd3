// keyspace_bench: the in-memory structures that hold the keys, in process: the ordered,
// multi-version keyspace (core/state/keyspace.hpp) against a plain hash set of one block per key,
// the structure kvnode kept before the keyspace (unordered, no history). Loads `--keys` keys of
// `--value-size` bytes, then times random point reads and overwrites, and reports the resident
// memory the load added. One structure per process run (--structure), so that each RSS figure is
// its own; the same allocator as kvnode (jemalloc). The keyspace is then captured once as a
// snapshot's thread captures it (the time per key).
//
//   keyspace_bench --structure hash --keys 1000000
//   keyspace_bench --structure keyspace --keys 1000000 --history 0 --order random
//
// `--key-prefix P`: keys are P followed by 12 digits ("key:" by default, as redis-benchmark's SET
// keys; "counter:" gives its INCR keys, 20 bytes, whose first 16 bytes tie in groups of 10,000).
// `--history N`: the keyspace keeps the last N revisions of history (compacting as it goes);
// 0 keeps none, as the hash set does. `--order random` loads the keys in a random order, as
// clients writing new keys do; `sequential` (the default) in key order, where an ordered index
// inserts at its end.

#include "bench/args.hpp"
#include "bench/process_stats.hpp"
#include "core/state/keyspace.hpp"

#include <absl/container/flat_hash_set.h>
#include <absl/hash/hash.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
  std::string structure = "keyspace";
  std::string order = "sequential";
  std::uint64_t keys = 1'000'000;
  std::uint64_t value_size = 100;
  std::uint64_t ops = 1'000'000;
  std::uint64_t history = 0;
  std::string key_prefix = "key:";
  bool json = false;
};

std::string key_name(const options& o, std::uint64_t k) { return fmt::format("{}{:012}", o.key_prefix, k); }

// One heap block per key (key and value), in a hash set that looks blocks up by key.
struct hash_side {
  struct block {
    std::uint32_t key_len;
    std::uint32_t value_len;
    std::string_view key() const noexcept { return {reinterpret_cast<const char*>(this + 1), key_len}; }
  };
  struct by_key {
    using is_transparent = void;
    static std::string_view key(const block* b) noexcept { return b->key(); }
    static std::string_view key(std::string_view k) noexcept { return k; }
    std::size_t operator()(const auto& a) const noexcept { return absl::Hash<std::string_view>{}(key(a)); }
    bool operator()(const auto& a, const auto& b) const noexcept { return key(a) == key(b); }
  };
  absl::flat_hash_set<block*, by_key, by_key> blocks;
  hash_side() = default;
  hash_side(const hash_side&) = delete;
  hash_side& operator=(const hash_side&) = delete;
  ~hash_side() {
    for (auto* b : blocks) std::free(b);
  }
  static block* make(std::string_view k, std::string_view v) {
    auto* b = static_cast<block*>(std::malloc(sizeof(block) + k.size() + v.size()));
    if (b == nullptr) throw std::bad_alloc();
    b->key_len = static_cast<std::uint32_t>(k.size());
    b->value_len = static_cast<std::uint32_t>(v.size());
    std::memcpy(b + 1, k.data(), k.size());
    std::memcpy(reinterpret_cast<char*>(b + 1) + k.size(), v.data(), v.size());
    return b;
  }
  void put(const std::string& k, const std::string& v) {
    auto it = blocks.find(std::string_view(k));
    if (it == blocks.end()) {
      blocks.insert(make(k, v));
      return;
    }
    auto* fresh = make(k, v);  // the same size here; a real store would reuse the block
    std::free(*it);
    const_cast<block*&>(*it) = fresh;
  }
  bool get(const std::string& k) const { return blocks.contains(std::string_view(k)); }
};

struct keyspace_side {
  kv::keyspace ks;
  std::uint64_t history = 0;
  void put(const std::string& k, const std::string& v) {
    ks.begin_write();
    ks.put(k, v);
    auto rev = ks.end_write();
    if (rev > history + ks.compacted()) ks.compact(rev - history);
  }
  bool get(const std::string& k) const { return ks.get(k).has_value(); }
  // A snapshot's capture as the snapshot thread runs it: pin 1024 keys, encode them (here into a
  // count of the bytes a chunk would hold), release; returns the nanoseconds per key.
  double capture() {
    std::uint64_t keys = 0;
    std::uint64_t bytes = 0;
    const auto t0 = clock_type::now();
    ks.begin_batched_capture();
    kv::keyspace::capture_batch batch;
    while (ks.pin_batch(batch, 1024)) {
      kv::keyspace::encode(batch, [&](const kv::captured_key& k) {
        ++keys;
        bytes += k.key.size();
        for (const auto& v : k.versions) bytes += v.value.size() + 32;
      });
      ks.release_batch();
    }
    ks.end_batched_capture();
    const auto ns = std::chrono::duration<double, std::nano>(clock_type::now() - t0).count();
    if (keys == 0 || bytes == 0) throw std::runtime_error("keyspace_bench: the capture saw no keys");
    return ns / static_cast<double>(keys);
  }
};

template <typename Side>
void run(Side& side, const options& o) {
  const std::string value(o.value_size, 'v');
  const auto rss_before = kv::bench::own_resident_bytes();
  std::vector<std::uint64_t> load_order(o.keys);
  for (std::uint64_t i = 0; i < o.keys; ++i) load_order[i] = i;
  if (o.order == "random") std::shuffle(load_order.begin(), load_order.end(), std::mt19937_64(7));
  // The slowest single put of the load: a structure that rebuilds itself as it grows stops there.
  auto t0 = clock_type::now();
  auto slowest = clock_type::duration::zero();
  for (auto i : load_order) {
    const auto t = clock_type::now();
    side.put(key_name(o, i), value);
    slowest = std::max(slowest, clock_type::now() - t);
  }
  auto load_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  const auto slowest_ms = std::chrono::duration<double, std::milli>(slowest).count();
  const auto rss_loaded = kv::bench::own_resident_bytes();

  std::mt19937_64 rng(42);
  std::vector<std::string> keys;
  keys.reserve(o.ops);
  for (std::uint64_t i = 0; i < o.ops; ++i) keys.push_back(key_name(o, rng() % o.keys));
  t0 = clock_type::now();
  std::uint64_t found = 0;
  for (const auto& k : keys) found += side.get(k);
  auto get_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  t0 = clock_type::now();
  for (const auto& k : keys) side.put(k, value);
  auto put_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  const auto rss_after = kv::bench::own_resident_bytes();
  double capture_ns = 0;  // the hash set has no capture
  if constexpr (requires { side.capture(); }) capture_ns = side.capture();

  const double per_key = static_cast<double>(rss_loaded - rss_before) / static_cast<double>(o.keys);
  if (o.json) {
    fmt::print("{{\"structure\":\"{}\",\"order\":\"{}\",\"keys\":{},\"value_size\":{},\"history\":{},\"load_ns_per_key\":{:.0f},"
               "\"slowest_load_put_ms\":{:.3f},\"get_ns\":{:.0f},\"overwrite_ns\":{:.0f},\"rss_bytes_per_key\":{:.1f},"
               "\"rss_after_overwrites_mib\":{:.1f},\"capture_ns_per_key\":{:.0f}}}\n",
               o.structure, o.order, o.keys, o.value_size, o.history, load_s * 1e9 / o.keys, slowest_ms, get_s * 1e9 / o.ops,
               put_s * 1e9 / o.ops, per_key, (rss_after - rss_before) / 1048576.0, capture_ns);
  } else {
    fmt::print("{}: {} keys of {} B loaded in {} order: {:.0f} ns/key (slowest put {:.3f} ms), get {:.0f} ns, overwrite "
               "{:.0f} ns; RSS {:.1f} B/key after the load, {:.1f} MiB after {} overwrites (found {})\n",
               o.structure, o.keys, o.value_size, o.order, load_s * 1e9 / o.keys, slowest_ms, get_s * 1e9 / o.ops,
               put_s * 1e9 / o.ops,
               per_key, (rss_after - rss_before) / 1048576.0, o.ops, found);
    if (capture_ns > 0) fmt::print("{}: a snapshot's capture (pin, encode, release) {:.0f} ns/key\n", o.structure, capture_ns);
  }
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  kv::bench::flag_table flags("keyspace_bench", "in-process timing and memory of the key structures");
  flags.add("--structure", "hash|keyspace", "which structure to load", o.structure);
  flags.add("--keys", "N", "keys loaded", o.keys);
  flags.add("--value-size", "B", "bytes per value", o.value_size);
  flags.add("--ops", "N", "random gets, then as many random overwrites", o.ops);
  flags.add("--history", "N", "keyspace: revisions of history kept (0: none)", o.history);
  flags.add("--order", "sequential|random", "the order the keys are loaded in", o.order);
  flags.add("--key-prefix", "P", "what each key's 12 digits follow", o.key_prefix);
  flags.add_switch("--json", "print one JSON object", o.json);
  flags.parse(argc, argv);
  if (o.order != "sequential" && o.order != "random") {
    std::fprintf(stderr, "keyspace_bench: --order must be sequential or random\n");
    return 2;
  }
  if (o.structure == "hash") {
    hash_side s;
    run(s, o);
  } else if (o.structure == "keyspace") {
    keyspace_side s;
    s.history = o.history;
    run(s, o);
  } else {
    std::fprintf(stderr, "keyspace_bench: --structure must be hash or keyspace\n");
    return 2;
  }
  return 0;
}
