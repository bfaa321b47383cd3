#pragma once
// Sets of ids that are looked up by the text the id names, so a dictionary stores each string
// once (in its entry vector) and the hash set or ordered set holds only 4-byte ids.
// `Entries` is a random-access container of entries with a `text` member (std::string); the
// functors keep a pointer to it, so the owner of both must not move (owners delete their copy
// and move operations).

#include <absl/container/btree_set.h>
#include <absl/container/flat_hash_set.h>
#include <absl/hash/hash.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace kv::search {

template <typename Entries>
struct text_hash {
  using is_transparent = void;
  const Entries* entries = nullptr;
  std::size_t operator()(std::string_view s) const { return absl::Hash<std::string_view>{}(s); }
  std::size_t operator()(std::uint32_t id) const { return (*this)(std::string_view((*entries)[id].text)); }
};

template <typename Entries>
struct text_eq {
  using is_transparent = void;
  const Entries* entries = nullptr;
  std::string_view text(std::uint32_t id) const { return (*entries)[id].text; }
  static std::string_view text(std::string_view s) { return s; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const { return text(a) == text(b); }
};

template <typename Entries>
struct text_less {
  using is_transparent = void;
  const Entries* entries = nullptr;
  std::string_view text(std::uint32_t id) const { return (*entries)[id].text; }
  static std::string_view text(std::string_view s) { return s; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const { return text(a) < text(b); }
};

// id -> found by its text in O(1).
template <typename Entries>
using ids_by_text = absl::flat_hash_set<std::uint32_t, text_hash<Entries>, text_eq<Entries>>;

template <typename Entries>
ids_by_text<Entries> make_ids_by_text(const Entries* entries) {
  return ids_by_text<Entries>(0, text_hash<Entries>{entries}, text_eq<Entries>{entries});
}

// ids in the byte order of their texts (for prefix ranges).
template <typename Entries>
using ids_in_text_order = absl::btree_set<std::uint32_t, text_less<Entries>>;

// Heap bytes a string holds beyond its own object (0 while it fits the small-string buffer).
inline std::size_t heap_bytes(const std::string& s) {
  return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
}

}  // namespace kv::search
