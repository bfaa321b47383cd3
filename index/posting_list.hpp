#pragma once
// A posting list: the documents that hold one term or n-gram, in ascending document id, stored as
// LEB128 varints of the gap to the previous id (1-2 bytes for common entries), each optionally
// followed by a varint count (a term frequency).
//
// Append-only: ids must arrive in ascending order, which the doc table guarantees by never handing
// out an id below one it gave before (doc_table.hpp). Removing a document only counts its entry as
// dead (mark_dead()); readers skip dead entries by asking the owner whether the document is live.
// The owner compacts a list when needs_compaction() says so, which keeps the dead entries of every
// list at most max(live, compaction_slack): garbage is bounded and each removal costs amortized O(1).
//
// Skips (WithSkips): every skip_interval entries the list notes where the next entry starts and
// the document before it, so a cursor can jump to the first entry at or after a document
// (advance()) reading O(log(entries / skip_interval) + skip_interval) entries instead of every one
// in between. An AND query driven by its rarest term reads the common terms' lists this way.
// 8 bytes per skip_interval entries; rebuilt (not stored) when a list is restored.

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace kv::search {

// The id given to a document that has none (a dropped slot in a renumbering map).
inline constexpr std::uint32_t no_doc = UINT32_MAX;

inline void append_varint(std::vector<std::uint8_t>& out, std::uint32_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

// Reads one varint at p and moves p past it. The bytes must hold a complete varint.
inline std::uint32_t read_varint(const std::uint8_t*& p) {
  std::uint32_t v = *p++;
  if (v < 0x80) return v;
  v &= 0x7f;
  for (int shift = 7;; shift += 7) {
    std::uint32_t b = *p++;
    v |= (b & 0x7f) << shift;
    if (b < 0x80) return v;
  }
}

// read_varint() for bytes no one vouches for: false (p unspecified) if the varint runs past `end`
// or past 32 bits.
inline bool read_varint_checked(const std::uint8_t*& p, const std::uint8_t* end, std::uint32_t& out) {
  std::uint64_t v = 0;
  for (int shift = 0; p != end && shift < 35; shift += 7) {
    std::uint8_t b = *p++;
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (b < 0x80) {
      out = static_cast<std::uint32_t>(v);
      return v <= UINT32_MAX;
    }
  }
  return false;
}

// Where a block of a list starts: its first entry's byte offset, and the document of the entry
// before it (the base its first gap is added to).
struct posting_skip {
  std::uint32_t doc_before;
  std::uint32_t offset;
};

template <bool WithCount, bool WithSkips = WithCount>
class posting_list {
 public:
  // Dead entries a list may hold beyond its live ones before it wants compacting.
  static constexpr std::uint32_t compaction_slack = 8;
  // Entries per skip block.
  static constexpr std::uint32_t skip_interval = 64;

  // Reads the entries in order: `while (c.next()) use(c.doc, c.count)`.
  struct cursor {
    const std::uint8_t* p = nullptr;
    const std::uint8_t* end = nullptr;
    std::uint32_t doc = 0;
    std::uint32_t count = 0;  // WithCount only
    const std::uint8_t* base = nullptr;  // the list's first byte (skip offsets count from it)
    std::span<const posting_skip> skips;  // those not yet passed (WithSkips only)

    bool next() {
      if (p == end) return false;
      doc += read_varint(p);
      if constexpr (WithCount) count = read_varint(p);
      return true;
    }

    // From an entry next() returned: moves to the first entry whose document is at least
    // `target` (staying put if this one is); false if there is none.
    bool advance(std::uint32_t target) {
      if (doc >= target) return true;
      if constexpr (WithSkips) {
        // The last block whose preceding document is below target starts at or before the entry
        // wanted; jump there if it lies ahead.
        auto after = std::partition_point(skips.begin(), skips.end(),
                                          [&](const posting_skip& s) { return s.doc_before < target; });
        if (after != skips.begin()) {
          const posting_skip& s = *(after - 1);
          if (base + s.offset > p) {
            p = base + s.offset;
            doc = s.doc_before;
          }
          skips = skips.subspan(static_cast<std::size_t>(after - skips.begin()));
        }
      }
      while (next()) {
        if (doc >= target) return true;
      }
      return false;
    }
  };

  // Adds an entry; doc must exceed every doc appended before (since the last clear()).
  void append(std::uint32_t doc, std::uint32_t count = 0) {
    assert(entries() == 0 || doc > last_);
    reserve_for_append();
    if constexpr (WithSkips) {
      if (entries() != 0 && entries() % skip_interval == 0) skips_.push_back({last_, static_cast<std::uint32_t>(bytes_.size())});
    }
    append_varint(bytes_, doc - (entries() == 0 ? 0 : last_));
    if constexpr (WithCount) append_varint(bytes_, count);
    last_ = doc;
    ++live_;
  }

  cursor begin() const {
    cursor c;
    c.p = c.base = bytes_.data();
    c.end = bytes_.data() + bytes_.size();
    if constexpr (WithSkips) c.skips = skips_;
    return c;
  }

  std::uint32_t live() const { return live_; }
  std::uint32_t dead() const { return dead_; }
  std::uint32_t entries() const { return live_ + dead_; }

  // One live entry's document was removed.
  void mark_dead() {
    assert(live_ > 0);
    --live_;
    ++dead_;
  }

  bool needs_compaction() const { return dead_ > live_ && dead_ > compaction_slack; }

  // Drops the entries whose document is_live(doc) rejects. Returns how many were dropped.
  template <typename IsLive>
  std::uint32_t compact(IsLive&& is_live) {
    return rewrite([&](std::uint32_t doc) { return is_live(doc) ? doc : no_doc; });
  }

  // Renames every document through old_to_new (which must preserve order); entries mapped to
  // no_doc are dropped. Returns how many were dropped.
  std::uint32_t remap(std::span<const std::uint32_t> old_to_new) {
    return rewrite([&](std::uint32_t doc) { return old_to_new[doc]; });
  }

  void clear() {
    std::vector<std::uint8_t>().swap(bytes_);
    if constexpr (WithSkips) std::vector<posting_skip>().swap(skips_);
    last_ = live_ = dead_ = 0;
  }

  std::size_t memory_bytes() const {
    if constexpr (WithSkips) return bytes_.capacity() + skips_.capacity() * sizeof(posting_skip);
    return bytes_.capacity();
  }

  // The raw state (for saving): the encoded entries and the last entry's document. restore()
  // takes back what bytes(), last(), live() and dead() returned, after checking that the bytes
  // decode into live + dead entries in ascending order ending at `last` (false, and the list is
  // left empty, if not). O(entries).
  std::span<const std::uint8_t> bytes() const { return bytes_; }
  std::uint32_t last() const { return last_; }
  bool restore(std::vector<std::uint8_t> bytes, std::uint32_t last, std::uint32_t live, std::uint32_t dead) {
    clear();
    if (static_cast<std::uint64_t>(live) + dead > UINT32_MAX) return false;
    std::vector<posting_skip> skips;
    std::uint32_t entries = 0;
    std::uint32_t doc = 0;
    for (const std::uint8_t *p = bytes.data(), *end = p + bytes.size(); p != end; ++entries) {
      if (WithSkips && entries != 0 && entries % skip_interval == 0) {
        skips.push_back({doc, static_cast<std::uint32_t>(p - bytes.data())});
      }
      std::uint32_t gap = 0;
      std::uint32_t count = 0;
      if (!read_varint_checked(p, end, gap) || (WithCount && !read_varint_checked(p, end, count))) return false;
      if ((entries != 0 && gap == 0) || doc > UINT32_MAX - gap) return false;
      doc += gap;
    }
    if (entries != live + dead || (entries != 0 && doc != last)) return false;
    bytes_ = std::move(bytes);
    if constexpr (WithSkips) skips_ = std::move(skips);
    last_ = entries == 0 ? 0 : last;
    live_ = live;
    dead_ = dead;
    return true;
  }

 private:
  // Grows by a quarter rather than doubling: lists are many and mostly small, and the slack of a
  // doubling vector would be a large share of the index.
  void reserve_for_append() {
    constexpr std::size_t max_entry_bytes = WithCount ? 10 : 5;
    if (bytes_.capacity() - bytes_.size() >= max_entry_bytes) return;
    bytes_.reserve(bytes_.size() + bytes_.size() / 4 + 2 * max_entry_bytes);
  }

  template <typename Rename>
  std::uint32_t rewrite(Rename&& rename) {
    std::vector<std::uint8_t> out;
    out.reserve(bytes_.size());
    std::vector<posting_skip> skips;
    std::uint32_t kept = 0;
    std::uint32_t last = 0;
    for (auto c = begin(); c.next();) {
      std::uint32_t doc = rename(c.doc);
      if (doc == no_doc) continue;
      assert(kept == 0 || doc > last);
      if (WithSkips && kept != 0 && kept % skip_interval == 0) {
        skips.push_back({last, static_cast<std::uint32_t>(out.size())});
      }
      append_varint(out, doc - (kept == 0 ? 0 : last));
      if constexpr (WithCount) append_varint(out, c.count);
      last = doc;
      ++kept;
    }
    std::uint32_t dropped = entries() - kept;
    out.shrink_to_fit();
    bytes_ = std::move(out);
    if constexpr (WithSkips) {
      skips.shrink_to_fit();
      skips_ = std::move(skips);
    }
    last_ = last;
    live_ = kept;
    dead_ = 0;
    return dropped;
  }

  struct no_skips {};

  std::vector<std::uint8_t> bytes_;
  [[no_unique_address]] std::conditional_t<WithSkips, std::vector<posting_skip>, no_skips> skips_;
  std::uint32_t last_ = 0;  // the last entry's document
  std::uint32_t live_ = 0;
  std::uint32_t dead_ = 0;
};

}  // namespace kv::search

namespace kv::search {

// Bytes of exactly the size they were built with (a document's forward record), 16 bytes when
// empty: vectors' spare capacity would cost more than the records themselves.
class byte_blob {
 public:
  byte_blob() = default;
  explicit byte_blob(std::span<const std::uint8_t> bytes)
      : bytes_(bytes.empty() ? nullptr : new std::uint8_t[bytes.size()]), size_(static_cast<std::uint32_t>(bytes.size())) {
    if (!bytes.empty()) std::copy(bytes.begin(), bytes.end(), bytes_.get());
  }
  // `size` bytes to be filled through data() (loading a saved index).
  static byte_blob with_size(std::uint32_t size) {
    byte_blob b;
    if (size > 0) b.bytes_.reset(new std::uint8_t[size]);
    b.size_ = size;
    return b;
  }
  std::uint8_t* data() { return bytes_.get(); }
  const std::uint8_t* begin() const { return bytes_.get(); }
  const std::uint8_t* end() const { return bytes_.get() + size_; }
  std::uint32_t size() const { return size_; }

 private:
  std::unique_ptr<std::uint8_t[]> bytes_;
  std::uint32_t size_ = 0;
};

}  // namespace kv::search
