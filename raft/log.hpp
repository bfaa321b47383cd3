#pragma once
// The Raft log as the core sees it: every entry after the last snapshot, in memory, with the
// marks that say how far it is durable (persisted), committed and applied.
//
// Invariants (checked by check()): snapshot_index <= applied <= committed <= last;
// applied <= persisted; entries are contiguous from snapshot_index + 1 and their terms never
// decrease. The snapshot itself (the state machine through snapshot_index) is the driver's.
//
// Compaction frees in steps: compact() only moves the snapshot position, and the entries it
// drops stay allocated at the front of entries_ until later appends free them, a few per append
// (released_per_append). Freeing half a million entries at once took the node's thread tens of
// milliseconds, which every request in flight waited for (docs/benchmarks.md, "Pauses").

#include "raft/message.hpp"

#include <deque>
#include <optional>

namespace kv::raft {

class log {
 public:
  log() = default;
  // A log restored from storage: a snapshot position and the durable entries after it.
  // `applied`: the driver already applied entries up to it while recovering (they must be
  // committed); take_committed() starts after it. 0: nothing past the snapshot.
  log(index_t snapshot_index, term_t snapshot_term, std::vector<entry> entries, index_t applied = 0);

  index_t first_index() const noexcept { return snapshot_index_ + 1; }
  index_t last_index() const noexcept { return snapshot_index_ + (entries_.size() - dropped_); }
  term_t last_term() const noexcept { return entries_.size() == dropped_ ? snapshot_term_ : entries_.back().term; }
  index_t snapshot_index() const noexcept { return snapshot_index_; }
  term_t snapshot_term() const noexcept { return snapshot_term_; }

  // The term of entry `i`; nullopt if `i` is compacted away (below the snapshot) or beyond the end.
  std::optional<term_t> term(index_t i) const noexcept;
  bool matches(index_t i, term_t t) const noexcept { return term(i) == t; }

  // Whether a log ending at (index, term) is at least as up to date as this one (§5.4.1).
  bool up_to_date(index_t index, term_t term) const noexcept {
    return term > last_term() || (term == last_term() && index >= last_index());
  }

  // Appends at the end (the leader's own proposals).
  void append(entry e);

  // Follower side of AppendEntries: if the log matches at (prev_index, prev_term), drops any
  // entry that conflicts with `entries`, appends the new ones and returns the last index now
  // known to match the leader. nullopt if the log does not contain (prev_index, prev_term).
  std::optional<index_t> try_append(index_t prev_index, term_t prev_term, const std::vector<entry>& entries);

  // Entries [from, to], at most `max_bytes` of data (but at least one entry).
  std::vector<entry> slice(index_t from, index_t to, std::size_t max_bytes) const;

  // The largest index at or below `from` whose term is at most `t` (snapshot_index if none):
  // how both sides of a rejected AppendEntries skip a whole conflicting term at once.
  index_t last_index_with_term_at_most(index_t from, term_t t) const noexcept;

  // Durability: entries up to persisted() are on the local disk.
  index_t persisted() const noexcept { return persisted_; }
  // Entries not yet handed to storage, and marking them handed over.
  bool has_unsent() const noexcept { return sent_ < last_index(); }
  std::vector<entry> take_unsent();
  // Storage reports entry `i` of term `t` durable; ignored if the log has since replaced it.
  void mark_persisted(index_t i, term_t t);

  index_t committed() const noexcept { return committed_; }
  void commit_to(index_t i);  // never moves backwards
  index_t applied() const noexcept { return applied_; }
  // Committed, durable, not yet applied entries, now marked applied.
  std::vector<entry> take_committed(std::size_t max_bytes);

  // The driver holds a durable snapshot through `i` (at most applied()): entries up to `i` go,
  // and (i, term(i)) becomes the snapshot position. Nothing happens if `i` is not past it.
  void compact(index_t i);
  // Replaces everything by a snapshot at (i, t) newer than anything committed here: no entries,
  // and i committed, applied and durable (the driver installs the snapshot before it acts on
  // anything this log hands out later).
  void restore(index_t i, term_t t);

  // Throws std::logic_error if an invariant is broken.
  void check() const;

  // Entries compacted away and not yet freed.
  std::size_t dropped() const noexcept { return dropped_; }
  // Compacted entries freed by each append (of any kind), oldest first.
  static constexpr std::size_t released_per_append = 4;

 private:
  const entry& at(index_t i) const { return entries_[dropped_ + (i - first_index())]; }
  void truncate_after(index_t i);
  // Frees up to `n` of the dropped entries.
  void release(std::size_t n);

  index_t snapshot_index_ = 0;
  term_t snapshot_term_ = 0;
  std::deque<entry> entries_;  // the first dropped_ are compacted away, the rest follow snapshot_index_
  std::size_t dropped_ = 0;
  index_t persisted_ = 0;  // highest index known durable
  index_t sent_ = 0;       // highest index handed to storage
  index_t committed_ = 0;
  index_t applied_ = 0;
};

}  // namespace kv::raft
