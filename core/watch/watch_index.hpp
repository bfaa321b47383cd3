#pragma once
// The watch hub's synced watchers by the keys they watch (a detail of watch_hub.cpp), so that a
// write finds the watchers of the keys it changed without looking at any other watcher. etcd
// keeps its synced watchers the same way: a map for single keys, an interval tree for ranges.
//
// - A single key's watchers (an empty `end`): a hash map from the key to a list of them. A key
//   costs one hash lookup, however many watchers there are.
// - A range's watchers: a treap ordered by (start key, id), each node carrying the greatest end in
//   its subtree, so that a key skips every subtree whose ranges all end at or before it. Finding
//   the m ranges that hold a key costs about O((m + 1) log n), not O(n): 10,000 prefix watchers
//   cost a key a few dozen node visits. The treap's priorities are a hash of the id, so the
//   shape is balanced in expectation whatever order the ranges come in, and deterministic.
//
// The index is intrusive: each watcher embeds its entry, so indexing one allocates nothing but
// its key's hash slot. An entry must not move, nor its key and end views dangle, while indexed.
//
// Threading: the hub's (not thread-safe).

#include <absl/container/flat_hash_map.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace kv {

class watch_index {
 public:
  struct entry {
    std::uint64_t id = 0;   // what a query reports
    std::string_view key;   // the range, in etcd's conventions (core/model/key_range.hpp)
    std::string_view end;

   private:
    friend class watch_index;
    // A single key's watchers: a list.
    entry* prev = nullptr;
    entry* next = nullptr;
    // A range's watchers: a treap node.
    entry* left = nullptr;
    entry* right = nullptr;
    std::string_view max_end;  // the greatest end in this subtree ("\0", every key on, is greatest)
  };

  watch_index() = default;
  watch_index(const watch_index&) = delete;
  watch_index& operator=(const watch_index&) = delete;

  // Adds `e`, which is not indexed.
  void insert(entry& e);
  // Removes `e`, which is indexed.
  void erase(entry& e);

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  // Calls found(id) for each indexed entry whose range holds `key`, in no particular order.
  // `found` must not change the index.
  template <typename Found>
  void for_each_holding(std::string_view key, Found&& found) const {
    if (auto it = keys_.find(key); it != keys_.end()) {
      for (const entry* e = it->second; e != nullptr; e = e->next) found(e->id);
    }
    stab(root_, key, found);
  }

 private:
  // Whether an end is "\0": every key from the range's start on.
  static bool unbounded(std::string_view end) noexcept { return end == std::string_view("\0", 1); }
  // Whether a range ending at `end` (non-empty) holds keys after `key`.
  static bool ends_after(std::string_view end, std::string_view key) noexcept { return unbounded(end) || key < end; }
  // Whether the (non-empty) end `a` lies beyond the end `b`.
  static bool ends_later(std::string_view a, std::string_view b) noexcept;
  template <typename Found>
  static void stab(const entry* n, std::string_view key, Found& found) {
    if (n == nullptr || !ends_after(n->max_end, key)) return;
    stab(n->left, key, found);
    if (key < n->key) return;  // this range and every one after it starts after the key
    if (ends_after(n->end, key)) found(n->id);
    stab(n->right, key, found);
  }

  static std::uint64_t priority(const entry& e) noexcept;
  static bool before(const entry& a, const entry& b) noexcept;
  static void update(entry* n) noexcept;  // recomputes n's max_end from its children
  static entry* insert(entry* tree, entry* e);
  static entry* erase(entry* tree, const entry* e);
  // The entries of `tree` before `e`, and those after it.
  static std::pair<entry*, entry*> split(entry* tree, const entry& e);
  // One tree of `a` and `b`, every entry of `a` being before every entry of `b`.
  static entry* merge(entry* a, entry* b);

  void insert_key(entry& e);
  void erase_key(entry& e);

  // The first watcher of each key; the view is that watcher's own key.
  absl::flat_hash_map<std::string_view, entry*> keys_;
  entry* root_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace kv
