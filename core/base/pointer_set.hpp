#pragma once
// A hash set of pointers, keyed by what they point at, that never stops to rebuild itself.
//
// Why not absl::flat_hash_set: it grows by rehashing every element in one call, and hashing an
// element here means reading the object behind the pointer. At a million keys that is a cache
// miss per element, so the one insert that crossed the load limit took about 100 ms, and every
// request queued behind it waited that long (docs/benchmarks.md, "The point index's growth").
// This set rebuilds as Redis's dict rehashes: it makes the new table and then moves the old
// table's elements over a few slots at a time, on each later insert and erase, while lookups look
// in both tables. No call does more than a bounded amount of work, whatever the size.
//
// Layout: open addressing with linear probing; one 8-byte slot per element holding the pointer in
// its low 48 bits and the top 16 bits of its hash (a tag) in the high ones, so a probe reads the
// object only when the tags match (else about once in 65,536 probes). An erase leaves a tombstone.
// A rebuild starts when the elements and tombstones of the table being filled would pass 3/4 of
// it: the table doubles if more than half of it would be elements, and otherwise (tombstones
// filled it) keeps its size; it never shrinks. Each insert or erase then moves `drain_slots`
// slots of the old table, which ends the rebuild long before the new table can need one of its
// own: it has room for a quarter of its size in further inserts and erases, and the old table,
// at most its size, drains in a sixteenth of it.
//
// Contract: T objects are at addresses below 2^48 (user space on x86-64 and 48-bit arm64; checked
// on insert); at most one element per key (insert() requires the key absent). Traits gives
// `static key_type key(const T*)` and `static std::uint64_t hash(key_type)`. Not thread-safe.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>

namespace kv {

template <typename T, typename Traits>
class pointer_set {
 public:
  using key_type = decltype(Traits::key(static_cast<const T*>(nullptr)));

  pointer_set() = default;
  pointer_set(const pointer_set&) = delete;
  pointer_set& operator=(const pointer_set&) = delete;
  pointer_set(pointer_set&& o) noexcept { swap(o); }
  pointer_set& operator=(pointer_set&& o) noexcept {
    pointer_set(std::move(o)).swap(*this);
    return *this;
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // Slots of the table being filled (and of the one draining, if a rebuild runs).
  std::size_t capacity() const noexcept { return cur_.slots ? cur_.mask + 1 : 0; }
  bool rebuilding() const noexcept { return old_.slots != nullptr; }

  static std::uint64_t hash(key_type key) noexcept { return Traits::hash(key); }

  T* find(key_type key) const noexcept {
    const auto [s, t] = locate(hash(key), same_key(key));
    return s ? decode(*s) : nullptr;
  }
  // The first element whose tag matches h's, without reading any object: the element of h's key
  // if it is present, and if not, rarely, another one. For prefetching.
  T* find_tag(std::uint64_t h) const noexcept {
    const auto [s, t] = locate(h, [](std::uint64_t) { return true; });
    return s ? decode(*s) : nullptr;
  }
  // Brings the slots h's key probes first toward the cache.
  void prefetch(std::uint64_t h) const noexcept {
    cur_.prefetch(h);
    old_.prefetch(h);
  }

  // Adds `p`, whose key must not be in the set.
  void insert(T* p) {
    check_address(p);
    const auto h = hash(Traits::key(p));
    make_room();
    cur_.place(encode(p, h), h);
    ++size_;
    drain_step();
  }
  // Removes the element of `key`; false if there is none.
  bool erase(key_type key) {
    const auto [s, t] = locate(hash(key), same_key(key));
    if (s == nullptr) return false;
    *s = tombstone;
    if (t == &cur_) ++cur_.tombstones;  // the old table's are dropped with it
    --size_;
    drain_step();
    return true;
  }
  // Puts `p` in the place of the element with the same key, which must be present.
  void replace(T* p) {
    check_address(p);
    const auto h = hash(Traits::key(p));
    const auto [s, t] = locate(h, same_key(Traits::key(p)));
    if (s == nullptr) throw std::logic_error("pointer_set::replace: the key is absent");
    *s = encode(p, h);
  }

  // Sizes the table for `n` elements at once (a rebuild now, not in steps): for loading.
  void reserve(std::size_t n) {
    finish_rebuild();
    if (n * 4 <= capacity() * 3 && cur_.slots != nullptr) return;
    start_rebuild(std::max(min_slots, std::bit_ceil((n * 4 + 2) / 3)));
    finish_rebuild();
  }
  void clear() noexcept {
    cur_ = table{};
    old_ = table{};
    size_ = 0;
    drain_at_ = 0;
  }
  // Calls f(T*) for every element, in no particular order.
  template <typename F>
  void for_each(F&& f) const {
    cur_.for_each(f);
    old_.for_each(f);
  }
  void swap(pointer_set& o) noexcept {
    std::swap(cur_, o.cur_);
    std::swap(old_, o.old_);
    std::swap(size_, o.size_);
    std::swap(drain_at_, o.drain_at_);
  }

  // Slots of the old table moved by each insert and erase while a rebuild runs.
  static constexpr std::size_t drain_slots = 16;
  static constexpr std::size_t min_slots = 16;

 private:
  static constexpr std::uint64_t tombstone = 1;  // no element: 0 is empty, 1 a tombstone
  static constexpr int tag_shift = 48;
  static constexpr std::uint64_t address_mask = (std::uint64_t{1} << tag_shift) - 1;

  static std::uint64_t encode(T* p, std::uint64_t h) noexcept {
    return reinterpret_cast<std::uintptr_t>(p) | (h >> tag_shift << tag_shift);
  }
  static T* decode(std::uint64_t s) noexcept { return reinterpret_cast<T*>(s & address_mask); }
  static bool is_element(std::uint64_t s) noexcept { return s > tombstone; }
  static void check_address(T* p) {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    if (a <= tombstone || (a >> tag_shift) != 0) {
      throw std::invalid_argument("pointer_set: a null pointer, or an address above 2^48");
    }
  }

  struct free_deleter {
    void operator()(std::uint64_t* p) const noexcept { std::free(p); }
  };
  struct table {
    std::unique_ptr<std::uint64_t[], free_deleter> slots;
    std::size_t mask = 0;  // slots - 1 (0 with no slots)
    std::size_t tombstones = 0;

    static table make(std::size_t n) {
      table t;
      // calloc: a large table comes from fresh zero pages, faulted in as inserts reach them,
      // rather than cleared at once.
      t.slots.reset(static_cast<std::uint64_t*>(std::calloc(n, sizeof(std::uint64_t))));
      if (!t.slots) throw std::bad_alloc();
      t.mask = n - 1;
      return t;
    }
    // The slot of the first element of h's probe whose tag matches and that `match` accepts.
    template <typename Match>
    std::uint64_t* probe(std::uint64_t h, const Match& match) const noexcept {
      if (!slots) return nullptr;
      const auto tag = h >> tag_shift;
      for (auto i = h & mask;; i = (i + 1) & mask) {
        const auto s = slots[i];
        if (s == 0) return nullptr;
        if (s >> tag_shift == tag && s != tombstone && match(s)) return &slots[i];
      }
    }
    void prefetch(std::uint64_t h) const noexcept {
      if (slots) __builtin_prefetch(&slots[h & mask]);
    }
    // Puts slot value `s` (whose key is absent) in the first free slot of h's probe.
    void place(std::uint64_t s, std::uint64_t h) noexcept {
      for (auto i = h & mask;; i = (i + 1) & mask) {
        if (slots[i] == 0) {
          slots[i] = s;
          return;
        }
        if (slots[i] == tombstone) {
          slots[i] = s;
          --tombstones;
          return;
        }
      }
    }
    template <typename F>
    void for_each(F& f) const {
      if (!slots) return;
      for (std::size_t i = 0; i <= mask; ++i) {
        if (is_element(slots[i])) f(decode(slots[i]));
      }
    }
  };

  // A match of the slots holding `key`'s element.
  static auto same_key(key_type key) noexcept {
    return [key](std::uint64_t s) { return Traits::key(decode(s)) == key; };
  }
  // The slot and table of the first element of h's probe that `match` accepts, in the table
  // being filled and then in the one draining; {nullptr, nullptr} if none.
  template <typename Match>
  std::pair<std::uint64_t*, const table*> locate(std::uint64_t h, const Match& match) const noexcept {
    if (auto* s = cur_.probe(h, match)) return {s, &cur_};
    if (auto* s = old_.probe(h, match)) return {s, &old_};
    return {nullptr, nullptr};
  }

  // Before an insert: rebuilds if the table being filled would pass 3/4 with it.
  void make_room() {
    if (cur_.slots != nullptr && (size_ + cur_.tombstones + 1) * 4 <= capacity() * 3) return;
    // By the argument at the top the last rebuild has drained by now; should it not have, it
    // finishes first, so that at most two tables exist.
    finish_rebuild();
    const auto n = capacity();
    start_rebuild(n == 0 ? min_slots : (size_ + 1) * 2 > n ? 2 * n : n);
  }
  void start_rebuild(std::size_t slots) {
    old_ = std::move(cur_);
    cur_ = table::make(slots);
    drain_at_ = 0;
    if (size_ == 0) old_ = table{};  // nothing to move (tombstones at most)
  }
  // Moves up to `n` slots of the old table into the new one; ends the rebuild at the last.
  void drain(std::size_t n) {
    if (!old_.slots) return;
    const auto end = std::min(old_.mask + 1, drain_at_ + n);
    // The objects' keys are read to hash them again: start those cache misses together.
    for (auto i = drain_at_; i < end; ++i) {
      if (is_element(old_.slots[i])) __builtin_prefetch(decode(old_.slots[i]));
    }
    for (; drain_at_ < end; ++drain_at_) {
      const auto s = old_.slots[drain_at_];
      if (!is_element(s)) continue;
      const auto h = hash(Traits::key(decode(s)));
      cur_.place(s, h);
      old_.slots[drain_at_] = tombstone;
    }
    if (drain_at_ > old_.mask) old_ = table{};
  }
  void drain_step() { drain(drain_slots); }
  void finish_rebuild() {
    while (old_.slots) drain(4096);
  }

  table cur_;  // where inserts go
  table old_;  // while a rebuild runs: the table being drained into cur_
  std::size_t size_ = 0;
  std::size_t drain_at_ = 0;  // the old table's next slot to move
};

}  // namespace kv
