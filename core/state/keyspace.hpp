#pragma once
// The ordered, multi-version keyspace: every key's current value and, until compaction, its
// earlier versions, in byte order of the keys. The data model is etcd v3's (its mvcc package):
//
// - The keyspace has a revision, 1 when empty. A write (one put, one delete-range, or a whole
//   transaction: everything between begin_write() and end_write()) that changes anything takes
//   the next revision; one that changes nothing (a delete of absent keys) takes none. Every key
//   the write changes gets that revision as its mod_revision.
// - Each key carries create_revision (the revision that created it, since its last delete),
//   mod_revision and version (puts since creation: 1 for a new key; a delete ends the key, and
//   a later put starts again at version 1).
// - A delete leaves a tombstone (version 0) at its revision, so that reads at earlier revisions
//   still see the key.
// - compact(rev) makes every revision below `rev` unreadable: reads at a revision < compacted()
//   fail (`compacted`), and the versions only such reads could see are freed. Reads at
//   revisions in [compacted(), revision()] see exactly the keyspace as it was then.
//
// Structure: each key's newest version is one heap block (header, key, value), and older
// versions hang off it, newest first. Two indexes point at the newest blocks: a B-tree (Abseil's
// btree_set) in key order, for ranges, and a hash set (core/base/pointer_set.hpp, which grows
// without a pause), for point reads and writes. Why both: a B-tree lookup compares about log2(n) keys, so at a million keys a point
// read costs several times a hash lookup (docs/benchmarks.md, keyspace_bench). Why a B-tree for
// order: nodes of 256 bytes stay mostly full, against 40-plus bytes per key for a red-black
// tree's node. Each B-tree entry carries the first 24 bytes of its key beside the block pointer:
// a comparison that loaded the key behind the pointer was a cache miss, about 20 of them per new
// key at a million keys, which made inserting a new key in a random place several times dearer
// than a hash insert; with the heads, keys that differ in their first 24 bytes are ordered
// without leaving the node. 24 rather than 16: keys such as "counter:" and 12 digits tie in
// their first 16 bytes across thousands of neighbours (docs/benchmarks.md, "Why INCR at 50 × 16
// trailed SET"). Why the key inside the version block: one allocation per key.
//
// The newest block of a key keeps its address while the key lives, so neither index changes on
// an overwrite: the block's old contents move to a new block behind it (the history), and the
// new value is written in place; only a value too large for the block's allocation moves it.
//
// A third index orders the live keys (not the tombstones) by hash_position(), a 63-bit hash of
// the key that every node and process computes alike, for Redis's SCAN and RANDOMKEY: every
// replica at the same applied index holds the same live keys, so a position is a cursor that any
// node understands, across leader changes and however many writes come between two calls. Its
// entries are (position, newest block) in a B-tree, ties in key order; about 23 bytes per live
// key (docs/redis.md). Every change of a key between live and not live keeps it exact: put (a
// new key, or one over a tombstone), bury (delete_range, erase_expired), restore_key; a block
// that moves (move_head) has its entry rewritten in place. Compaction only frees history and
// tombstones, which the index never holds.
//
// Freeing compacted history costs no walk of the keyspace: every write that leaves an older
// version behind (an overwrite, a delete) queues (revision, that version's block), in revision
// order, and compaction pops that queue up to its revision and frees only those blocks. compact()
// frees at most compact_trim of them at once; the owner frees the rest with trim_step() between
// other work, so that compacting past a million deletes does not stop the node for half a
// second. compact_trim is small because compactions come often under load (every thousand
// revisions by default) and a backlog, such as a snapshot's capture leaves, would otherwise be
// freed in a burst of them; the owner paces trim_step() to its load (raft/replica/apply.cpp).
// What is not yet freed is unreadable all the same (reads below compacted() are refused, and
// neither changes() nor a capture reaches below it).
//
// Point-in-time capture (snapshots while writes go on): begin_capture() fixes the revision R and
// the compacted revision C, and capture_step() walks the keys in order, a batch at a time,
// emitting each key's versions readable at some revision in [C, R]. While a capture runs,
// compaction still moves compacted() but frees nothing a read in [C, R] needs, so the batches
// together are the keyspace's readable history at R, however writes and compactions interleave.
//
// Capture by another thread: the same capture, split so that the walk of the key order stays on
// the owner's thread and the reading and encoding move to another. The owner pins batches of
// consecutive keys (pin_batch), the other thread encodes them (encode, which reads nothing but
// the blocks a batch reaches), and the owner releases each batch once that thread is done with
// it, in the order they were pinned. While a key is pinned, no block of it changes: a write
// that would rewrite its newest block in place gives the key a new newest block instead and
// keeps the old one as its history (the copy an in-place write makes anyway; only the indexes'
// slots are rewritten too), and a tombstone it reaches is not freed. Compaction frees nothing a
// read in [C, R] needs, as during capture_step(); cutting a chain writes only the `older` of a
// block at or below C, where encode() stops reading. So a batch reads fixed memory from
// pin_batch() to release_batch(), and encodes what capture_step() would have.
//
// Threading: not thread-safe; owned by the node's event-loop thread (but for encode(), above).
// Views returned by reads stay valid until the next write or compaction.

#include "core/base/error.hpp"
#include "core/base/pointer_set.hpp"
#include "core/model/key_range.hpp"

#include <absl/container/btree_set.h>
#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <type_traits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kv {

// One version of one key, as reads return it. `value` is empty for keys_only reads.
struct key_value {
  std::string_view key;
  std::string_view value;
  std::uint64_t create_revision = 0;
  std::uint64_t mod_revision = 0;
  std::uint64_t version = 0;
  // When the key expires, on the cluster clock (core/state/state_machine.hpp); 0: never.
  std::uint64_t expires = 0;
};

struct range_options {
  std::uint64_t revision = 0;  // 0: the current revision
  std::uint64_t limit = 0;     // 0: no limit
  bool keys_only = false;
  bool count_only = false;
  bool descending = false;  // from the end of the range backwards
};

struct range_answer {
  std::vector<key_value> kvs;    // in key order (reversed when descending), at most `limit`
  std::uint64_t count = 0;       // keys in the range at that revision, regardless of limit
  bool more = false;             // more keys in the range than returned
  std::uint64_t revision = 0;    // the revision the answer reflects
};

// One change to one key, as a watch reports it (etcd's mvccpb.Event).
struct key_event {
  bool deleted = false;  // a delete: `kv` holds the key and the delete's revision (mod_revision)
  key_value kv;          // a put: the version it wrote
  // The version the change replaced, if the key was live before it. Absent too for a change at
  // the compacted revision whose replaced version compaction freed.
  std::optional<key_value> prev;
};

// What a capture emits for one key: its versions readable in [C, R], oldest first.
struct captured_key {
  std::string_view key;
  struct version {
    std::uint64_t create_revision;
    std::uint64_t mod_revision;
    std::uint64_t version;  // 0: a tombstone
    std::string_view value;
    std::uint64_t expires = 0;  // see key_value::expires
  };
  std::vector<version> versions;
};

class keyspace {
  struct version_block;

 public:
  keyspace() = default;
  ~keyspace();
  keyspace(const keyspace&) = delete;
  keyspace& operator=(const keyspace&) = delete;
  keyspace(keyspace&& other) noexcept;
  keyspace& operator=(keyspace&& other) noexcept;

  std::uint64_t revision() const noexcept { return revision_; }
  // The oldest readable revision (1 until the first compaction).
  std::uint64_t compacted() const noexcept { return compacted_; }
  // Live keys (not deleted) at the current revision, and the bytes of their keys and values.
  std::uint64_t key_count() const noexcept { return live_keys_; }
  std::uint64_t data_bytes() const noexcept { return live_bytes_; }
  // Versions kept for reads at past revisions (not counting each live key's current version).
  std::uint64_t history_versions() const noexcept { return blocks_ - keys_.size(); }
  // Deleted keys whose tombstone is their newest version, kept until compaction passes it.
  std::uint64_t tombstones() const noexcept { return keys_.size() - live_keys_; }

  // Sizes the point index for about `keys` keys, so that loading them does not rehash.
  void reserve(std::uint64_t keys) { index_.reserve(keys); }

  // Hints, some writes ahead of a write of a key, in two stages. prefetch_slots(key) brings the
  // point index's slots for the key toward the cache and returns the key's hash; a few writes
  // later, once they are there, prefetch_head(hash) brings the block the slots hold under that
  // hash's tag, without reading any key (so, rarely, another key's block). Neither changes
  // anything. At a million keys the slots and the block are cache misses a point write otherwise
  // waits for in turn; prefetched, the misses of several writes overlap.
  std::size_t prefetch_slots(std::string_view key) const;
  void prefetch_head(std::size_t hash) const;

  // ---- writes: one write is begin_write(), then puts and delete-ranges, then end_write() ------
  void begin_write();
  // Deletes `key` if it is live and expires at or before `now` (its expiry not 0); calls `deleted`
  // (if set) with its last version first. One hash lookup, for expiring keys in bulk.
  bool erase_expired(std::string_view key, std::uint64_t now,
                     const std::function<void(const key_value&)>& deleted = {});
  // Sets `key` to `value`, expiring at `expires` (0: never); returns the version it replaces
  // (nullopt: the key did not exist). The view is valid until end_write(). `value` must not
  // point into the keyspace.
  std::optional<key_value> put(std::string_view key, std::string_view value, std::uint64_t expires = 0);
  // Deletes every live key in `r`; calls `deleted` (if set) with each one's last version, in key
  // order, before it goes (the view is valid during the call only). Returns how many were deleted.
  std::uint64_t delete_range(const key_range& r, const std::function<void(const key_value&)>& deleted = {});
  // Ends the write; returns the revision it took (revision() if it changed nothing).
  std::uint64_t end_write();
  // The revision the current write takes if it changes anything.
  std::uint64_t write_revision() const noexcept { return revision_ + 1; }

  // ---- reads -----------------------------------------------------------------------------------
  // Reads at revision 0 see the current revision; during a write, that includes what the write
  // changed so far (read_revision()), as etcd's transactions read their own writes.
  std::uint64_t read_revision() const noexcept { return writing_ && changed_ ? revision_ + 1 : revision_; }
  // The version of `key` at `revision` (0: current); nullopt if it did not exist then. The
  // revision must be readable (see check_revision).
  std::optional<key_value> get(std::string_view key, std::uint64_t revision = 0) const;
  result<range_answer> range(const key_range& r, const range_options& o) const;
  // errc::ok, or why reads at `revision` (0: current) are refused: below compacted() (the
  // message names the oldest readable revision) or above revision().
  error_info check_revision(std::uint64_t revision) const;

  // ---- changes (watches) ---------------------------------------------------------------------
  // Every change to the keys in `r` at revisions [from, to], in revision order and, within one
  // revision (one write), in key order: a put or a delete per key the write changed. `from` must
  // be at least compacted() (every change from the compacted revision on is kept, deletes too)
  // and `to` at most revision(); errc::compacted or errc::future_revision otherwise. Not during a
  // write. Views stay valid until the next write or compaction.
  result<std::vector<key_event>> changes(const key_range& r, std::uint64_t from, std::uint64_t to) const;

  // ---- expiry ----------------------------------------------------------------------------------
  // Keys carry an expiry time (put's `expires`); the keyspace keeps the live ones in expiry order
  // but never deletes a key by itself: the caller decides when, on its clock, and deletes it.
  // Live keys with an expiry.
  std::size_t expiring_keys() const noexcept { return expiry_.size(); }
  // The earliest expiry of a live key; 0 if none.
  std::uint64_t next_expiry() const noexcept { return expiry_.empty() ? 0 : expiry_.begin()->first; }
  // Up to `max` live keys that expire at or before `now`, earliest first. Views valid until the
  // next write.
  std::vector<std::string_view> due(std::uint64_t now, std::size_t max) const;

  // ---- hash order (Redis's SCAN and RANDOMKEY) -----------------------------------------------
  // A key's place in the hash order: a stable hash (core/base/stable_hash.hpp) cut to 63 bits, so
  // that a position plus one never overflows.
  static std::uint64_t hash_position(std::string_view key) noexcept;
  struct hash_page {
    std::vector<key_value> kvs;  // live keys (keys_only views), in hash order
    std::uint64_t next = 0;      // where the next page starts: the last key's position + 1; 0: no more
  };
  // The live keys at positions >= `from`, in hash order: `count` of them (at least one), and
  // then any more whose position ties with the last, so that `next` is past every key returned
  // and every key at positions in [from, next) is returned. Views valid until the next write.
  hash_page scan(std::uint64_t from, std::size_t count) const;

  // ---- compaction ----------------------------------------------------------------------------
  // Makes revisions below `revision` unreadable and frees what only they needed. `revision` must
  // be in (compacted(), revision()]; check with check_compact().
  void compact(std::uint64_t revision);
  error_info check_compact(std::uint64_t revision) const;
  // Versions freed per call of compact(), and by default of trim_step(), at most.
  static constexpr std::size_t compact_trim = 128;
  static constexpr std::size_t trim_budget = 2048;
  // Whether compacted versions wait to be freed.
  bool trim_pending() const noexcept;
  // Frees up to `max` of them.
  void trim_step(std::size_t max = trim_budget);
  // Versions queued for compaction to free (replaced by a later write), freeable yet or not.
  std::size_t history_queued() const noexcept { return history_queue_.size(); }

  // ---- capture and restore (snapshots) --------------------------------------------------------
  // Receives each captured key, during capture_step(); the views are valid only during the call.
  using capture_sink = std::function<void(const captured_key&)>;
  // Fixes the capture at the current revision. The sink receives the keys in order.
  void begin_capture(capture_sink sink);
  // Captures up to `max_keys` more keys. Returns false once every key is captured, which ends
  // the capture (the sink has had every key).
  bool capture_step(std::size_t max_keys = 1024);
  bool capturing() const noexcept { return static_cast<bool>(sink_) || batched_; }
  std::uint64_t capture_revision() const noexcept { return capture_revision_; }
  std::uint64_t capture_compacted() const noexcept { return capture_compacted_; }

  // ---- capture by another thread (see the top of this file) -----------------------------------
  // Consecutive keys pinned for another thread to encode.
  class capture_batch {
   public:
    std::size_t size() const noexcept { return heads_.size(); }

   private:
    friend class keyspace;
    std::vector<const version_block*> heads_;
    std::uint64_t revision_ = 0;
    std::uint64_t compacted_ = 0;
  };
  // Fixes a capture at the current revision, as begin_capture() does, to be taken in batches.
  void begin_batched_capture();
  // Pins the next keys in order, up to `max_keys` of them, into `out` (replacing what it held);
  // false, with `out` empty, once every key has been pinned.
  bool pin_batch(capture_batch& out, std::size_t max_keys);
  // Calls `sink` with each key of `b` that the capture holds, in order, as capture_step() would.
  // Safe on any thread while `b` is pinned, concurrently with the owner's writes and reads.
  static void encode(const capture_batch& b, const capture_sink& sink);
  // Unpins the oldest pinned batch: no thread reads it any more.
  void release_batch();
  // Pinned batches not yet released.
  std::size_t pinned_batches() const noexcept { return pinned_.size(); }
  // Ends the batched capture, unpinning whatever is still pinned: no other thread may still read
  // a batch of it. Frees what the capture held back, as the end of capture_step() does.
  void end_batched_capture();

  // Rebuilding from a capture: restore_key() for each captured key, in any order, then
  // restore_revisions() with the capture's revision and compacted revision. Throws
  // corruption_error for versions that are out of order or beyond the revision.
  void restore_key(const captured_key& k);
  void restore_revisions(std::uint64_t revision, std::uint64_t compacted);

 private:
  // One version of a key: a heap block of header | key | value. `older` is the next older
  // version of the same key (nullptr: none kept).
  struct version_block {
    std::uint64_t create_revision;
    std::uint64_t mod_revision;
    std::uint64_t version;  // 0: a tombstone
    std::uint64_t expires;  // 0: never
    version_block* older;
    std::uint32_t key_len;
    std::uint32_t value_len;
    static version_block* make(std::string_view key, std::string_view value, std::uint64_t create,
                               std::uint64_t mod, std::uint64_t version, std::uint64_t expires,
                               version_block* older);
    static void destroy(version_block* b) noexcept;
    static void destroy_chain(version_block* b) noexcept;
    std::string_view key() const noexcept { return {reinterpret_cast<const char*>(this + 1), key_len}; }
    std::string_view value() const noexcept {
      return {reinterpret_cast<const char*>(this + 1) + key_len, value_len};
    }
    bool tombstone() const noexcept { return version == 0; }
    // A deleted key's tombstone with nothing older: all that is left of the key.
    bool lone_tombstone() const noexcept { return tombstone() && older == nullptr; }
  };
  // A B-tree entry: the block, and the first 24 bytes of its key as three big-endian numbers
  // (zero-padded), so that comparisons between keys that differ there are decided inside the node.
  struct tree_entry {
    std::uint64_t head0;
    std::uint64_t head1;
    std::uint64_t head2;
    version_block* block;
    explicit tree_entry(version_block* b) noexcept;
  };
  // A key looked up in the tree, with its head computed once.
  struct tree_probe {
    std::uint64_t head0;
    std::uint64_t head1;
    std::uint64_t head2;
    std::string_view key;
    explicit tree_probe(std::string_view k) noexcept;
  };
  struct tree_order {
    using is_transparent = void;
    static std::string_view key(const tree_entry& e) noexcept { return e.block->key(); }
    static std::string_view key(const tree_probe& p) noexcept { return p.key; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const noexcept {
      if (a.head0 != b.head0) return a.head0 < b.head0;
      if (a.head1 != b.head1) return a.head1 < b.head1;
      if (a.head2 != b.head2) return a.head2 < b.head2;
      return key(a) < key(b);  // the heads tie (a shared 24-byte prefix, or zero padding)
    }
  };
  using tree = absl::btree_set<tree_entry, tree_order>;
  // The point index's view of a block: its key, hashed with Abseil's string hash.
  struct point_traits {
    static std::string_view key(const version_block* b) noexcept { return b->key(); }
    static std::uint64_t hash(std::string_view k) noexcept {
      return absl::Hash<absl::string_view>{}(absl::string_view(k.data(), k.size()));
    }
  };
  using hash_index = pointer_set<version_block, point_traits>;
  // A hash-order entry: a live key's position and its newest block.
  struct hash_entry {
    std::uint64_t position;
    version_block* block;
  };
  struct hash_probe {
    std::uint64_t position;
    std::string_view key;
  };
  struct hash_order {
    using is_transparent = void;
    static std::string_view key(const hash_entry& e) noexcept { return e.block->key(); }
    static std::string_view key(const hash_probe& p) noexcept { return p.key; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const noexcept {
      if (a.position != b.position) return a.position < b.position;
      return key(a) < key(b);  // a tie of two keys' positions: rare, and decided by the keys
    }
  };
  using hash_tree = absl::btree_set<hash_entry, hash_order>;

  static key_value view_of(const version_block* b, bool keys_only = false) noexcept;
  // The version of the chain starting at `head` that is visible at `revision`, or nullptr.
  static const version_block* at_revision(const version_block* head, std::uint64_t revision) noexcept;
  // Bounds of the range in the tree.
  std::pair<tree::const_iterator, tree::const_iterator> bounds(const key_range& r) const;
  version_block* make_block(std::string_view key, std::string_view value, std::uint64_t create, std::uint64_t mod,
                            std::uint64_t version, std::uint64_t expires, version_block* older);
  // Keep the hash order in step with the live keys: `head` became live, or is about to stop.
  void note_live(version_block* head);
  void forget_live(const version_block* head);
  // Keeps the expiry index in step with a key's newest block.
  void forget_expiry(const version_block* head);
  void note_expiry(version_block* head);
  // The newest block of `key`, or nullptr.
  version_block* find_head(std::string_view key) const;
  void insert_head(version_block* b);
  void erase_head(std::string_view key);
  // Turns the live key whose newest block is `head` into a tombstone at the current write's
  // revision (or drops it, if this write created it: then true, and the caller erases it from
  // the indexes).
  bool bury(version_block* head, const std::function<void(const key_value&)>& deleted);
  // Moves the newest version of `head`'s key to the new block `b` in both indexes; returns b.
  version_block* move_head(version_block* head, version_block* b);
  // Points the indexes' slots of `head`'s key at `b` (the hash order's too when `in_hash_order`),
  // leaving `head` allocated.
  void repoint(const version_block* head, version_block* b, bool in_hash_order);
  // Fixes the revision and compacted revision a capture holds, and starts its walk at the first key.
  void fix_capture();
  // Where the capture's walk goes on: the first key, or the one after the last it reached.
  tree::const_iterator next_capture_key();
  // Brings a block's first cache lines toward the cache; changes nothing. A capture asks for the
  // block this many keys ahead of the one it encodes.
  static void prefetch_block(const version_block* b) noexcept;
  static constexpr std::size_t prefetch_distance = 8;
  // Whether a batch being encoded on another thread may reach `key`'s blocks.
  bool pinned(std::string_view key) const noexcept {
    return !pinned_.empty() && key >= pinned_.front().first && key <= pinned_.back().second;
  }
  // Whether the current write may rewrite `head` in place: not while a batch may read it. A block
  // this write already changed was not a newest block when any batch was pinned.
  bool in_place(const version_block* head) const noexcept {
    return pinned_.empty() || head->mod_revision == write_revision() || !pinned(head->key());
  }
  // Keeps `head` as the history of its key behind a new newest block `b` (a pinned key's write).
  void supersede(version_block* head, version_block* b, bool in_hash_order);
  // The versions of the chain at `head` that a capture at revision R with compacted revision C
  // holds, into `k` (its key too); false if none.
  static bool captured_versions(const version_block* head, std::uint64_t revision, std::uint64_t compacted,
                                captured_key& k);
  // Whether `value` fits in `b`'s allocation in place of its value.
  static bool fits(const version_block* b, std::string_view value) noexcept;
  // Keeps `head`'s present contents as a new older block behind it (the history).
  void push_history(version_block* head);
  // Frees `newest` and every older version of `head`'s key, all replaced at revisions <= limit
  // (no read at limit or later sees them), and the key's tombstone if nothing else is left.
  void cut_history(version_block* head, version_block* newest, std::uint64_t limit);
  // Removes the key whose newest block `head` is a tombstone with nothing older.
  void erase_tombstone(version_block* head);
  // Trims the queued versions up to the compacted revision (or the capture's, while one runs),
  // at most `max` of them.
  void trim_history(std::size_t max);
  // The revision below which trim_history() frees.
  std::uint64_t trim_limit() const noexcept;
  void clear() noexcept;

  tree keys_;
  hash_index index_;
  hash_tree by_hash_;  // the live keys in hash order
  std::uint64_t revision_ = 1;
  std::uint64_t compacted_ = 1;
  std::uint64_t live_keys_ = 0;
  std::uint64_t live_bytes_ = 0;
  std::uint64_t blocks_ = 0;  // version blocks allocated
  bool writing_ = false;
  bool changed_ = false;
  // A version the current write replaced, kept until end_write() so put()'s answer stays valid:
  // only when the replaced version is freed at once (a second put to the key in the same write).
  std::vector<version_block*> retired_;
  // (revision, block): at `revision` a write replaced the version in `block` (an older block, never
  // a key's newest), in revision order. Holding the block rather than the key costs no allocation.
  std::deque<std::pair<std::uint64_t, version_block*>> history_queue_;
  // (revision, key): a deleted key whose tombstone, at `revision`, is all that is left of it, to
  // remove once `revision` is below the compacted revision. Rare: only a delete at the revision a
  // compaction (or a snapshot's capture) stopped at.
  std::deque<std::pair<std::uint64_t, std::string>> tombstone_queue_;
  std::uint64_t max_restored_revision_ = 0;
  // trim_history()'s scratch, kept for its capacity: the step's versions, and per key (its
  // newest block) the newest of them.
  std::vector<version_block*> trim_batch_;
  absl::flat_hash_map<version_block*, version_block*> trim_cuts_;
  // (expires, newest block) of every live key with an expiry: about 24 bytes per such key.
  absl::btree_set<std::pair<std::uint64_t, version_block*>> expiry_;

  capture_sink sink_;
  std::uint64_t capture_revision_ = 0;
  std::uint64_t capture_compacted_ = 0;
  std::string capture_cursor_;  // the last key captured
  captured_key capture_scratch_;  // reused for each key, so a key costs no allocation
  bool capture_started_ = false;
  bool batched_ = false;  // a batched capture runs
  // The first and last key of each pinned batch, oldest first: consecutive in key order.
  std::deque<std::pair<std::string, std::string>> pinned_;
};

}  // namespace kv
