#pragma once
// A 64-bit hash that is the same in every process and on every node, unlike absl::Hash (seeded
// per process): for digests that nodes compare, and for orders every node must share (the
// keyspace's hash order, core/state/keyspace.hpp). Assumes a little-endian machine, as the rest
// of kvnode's encodings do. Changing it changes what SCAN cursors mean (docs/redis.md).

#include <cstdint>
#include <cstring>
#include <string_view>

namespace kv {

// A bijective 64-bit mix (the splitmix64 finalizer).
constexpr std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline std::uint64_t stable_hash(std::string_view s, std::uint64_t seed = 0) {
  std::uint64_t h = mix64(seed + 0x9e3779b97f4a7c15ULL * (s.size() + 1));
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = mix64(h ^ w);
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  return mix64(h ^ tail);
}

}  // namespace kv
