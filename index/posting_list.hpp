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

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
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

template <bool WithCount>
class posting_list {
 public:
  // Dead entries a list may hold beyond its live ones before it wants compacting.
  static constexpr std::uint32_t compaction_slack = 8;

  // Reads the entries in order: `while (c.next()) use(c.doc, c.count)`.
  struct cursor {
    const std::uint8_t* p = nullptr;
    const std::uint8_t* end = nullptr;
    std::uint32_t doc = 0;
    std::uint32_t count = 0;  // WithCount only

    bool next() {
      if (p == end) return false;
      doc += read_varint(p);
      if constexpr (WithCount) count = read_varint(p);
      return true;
    }
  };

  // Adds an entry; doc must exceed every doc appended before (since the last clear()).
  void append(std::uint32_t doc, std::uint32_t count = 0) {
    assert(entries() == 0 || doc > last_);
    reserve_for_append();
    append_varint(bytes_, doc - (entries() == 0 ? 0 : last_));
    if constexpr (WithCount) append_varint(bytes_, count);
    last_ = doc;
    ++live_;
  }

  cursor begin() const { return cursor{bytes_.data(), bytes_.data() + bytes_.size()}; }

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
    last_ = live_ = dead_ = 0;
  }

  std::size_t memory_bytes() const { return bytes_.capacity(); }

  // The raw state (for saving): the encoded entries and the last entry's document. restore()
  // takes back what bytes(), last(), live() and dead() returned; the caller vouches for it.
  std::span<const std::uint8_t> bytes() const { return bytes_; }
  std::uint32_t last() const { return last_; }
  void restore(std::vector<std::uint8_t> bytes, std::uint32_t last, std::uint32_t live, std::uint32_t dead) {
    bytes_ = std::move(bytes);
    last_ = last;
    live_ = live;
    dead_ = dead;
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
    std::uint32_t kept = 0;
    std::uint32_t last = 0;
    for (auto c = begin(); c.next();) {
      std::uint32_t doc = rename(c.doc);
      if (doc == no_doc) continue;
      assert(kept == 0 || doc > last);
      append_varint(out, doc - (kept == 0 ? 0 : last));
      if constexpr (WithCount) append_varint(out, c.count);
      last = doc;
      ++kept;
    }
    std::uint32_t dropped = entries() - kept;
    out.shrink_to_fit();
    bytes_ = std::move(out);
    last_ = last;
    live_ = kept;
    dead_ = 0;
    return dropped;
  }

  std::vector<std::uint8_t> bytes_;
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
