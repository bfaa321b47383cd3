#include "raft/log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace kv::raft {

const char* to_string(message_type t) noexcept {
  switch (t) {
    case message_type::pre_vote: return "pre_vote";
    case message_type::pre_vote_response: return "pre_vote_response";
    case message_type::vote: return "vote";
    case message_type::vote_response: return "vote_response";
    case message_type::append: return "append";
    case message_type::append_response: return "append_response";
    case message_type::timeout_now: return "timeout_now";
    case message_type::read_index: return "read_index";
    case message_type::read_index_response: return "read_index_response";
    case message_type::snapshot: return "snapshot";
  }
  return "unknown";
}

log::log(index_t snapshot_index, term_t snapshot_term, std::vector<entry> entries, index_t applied)
    : snapshot_index_(snapshot_index), snapshot_term_(snapshot_term), entries_(entries.begin(), entries.end()) {
  persisted_ = sent_ = last_index();
  committed_ = applied_ = std::max(snapshot_index, applied);
  check();
}

std::optional<term_t> log::term(index_t i) const noexcept {
  if (i == snapshot_index_) return snapshot_term_;
  if (i < first_index() || i > last_index()) return std::nullopt;
  return at(i).term;
}

void log::append(entry e) {
  if (e.index != last_index() + 1 || e.term < last_term()) {
    throw std::logic_error(fmt::format("raft log: appending entry {} (term {}) after {} (term {})", e.index, e.term,
                                       last_index(), last_term()));
  }
  entries_.push_back(std::move(e));
  release(released_per_append);
}

void log::release(std::size_t n) {
  n = std::min(n, dropped_);
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(n));
  dropped_ -= n;
}

void log::truncate_after(index_t i) {
  if (i < committed_) throw std::logic_error(fmt::format("raft log: truncating committed entry {}", i + 1));
  entries_.resize(dropped_ + (i - snapshot_index_));
  persisted_ = std::min(persisted_, i);
  sent_ = std::min(sent_, i);
}

std::optional<index_t> log::try_append(index_t prev_index, term_t prev_term, const std::vector<entry>& entries) {
  if (!matches(prev_index, prev_term)) return std::nullopt;
  for (const auto& e : entries) {
    if (e.index <= snapshot_index_) continue;  // already covered by our snapshot
    auto have = term(e.index);
    if (have == e.term) continue;  // already there (a duplicate or reordered message)
    if (have) truncate_after(e.index - 1);  // a conflict: everything from here on goes
    entries_.push_back(e);
    release(released_per_append);
  }
  return entries.empty() ? prev_index : std::max(prev_index, entries.back().index);
}

std::vector<entry> log::slice(index_t from, index_t to, std::size_t max_bytes) const {
  std::vector<entry> out;
  std::size_t bytes = 0;
  for (index_t i = std::max(from, first_index()); i <= std::min(to, last_index()); ++i) {
    bytes += at(i).data.size();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(at(i));
  }
  return out;
}

index_t log::last_index_with_term_at_most(index_t from, term_t t) const noexcept {
  index_t i = std::min(from, last_index());
  while (i > snapshot_index_ && at(i).term > t) --i;
  return i;
}

std::vector<entry> log::take_unsent() {
  std::vector<entry> out;
  for (index_t i = sent_ + 1; i <= last_index(); ++i) out.push_back(at(i));
  sent_ = last_index();
  return out;
}

void log::mark_persisted(index_t i, term_t t) {
  if (i > persisted_ && matches(i, t)) persisted_ = std::min(i, sent_);
}

void log::commit_to(index_t i) {
  if (i <= committed_) return;
  if (i > last_index()) throw std::logic_error(fmt::format("raft log: commit {} beyond last index {}", i, last_index()));
  committed_ = i;
}

void log::compact(index_t i) {
  if (i <= snapshot_index_) return;
  if (i > applied_) throw std::logic_error(fmt::format("raft log: compacting to {} beyond applied {}", i, applied_));
  snapshot_term_ = at(i).term;
  dropped_ += i - snapshot_index_;
  snapshot_index_ = i;
}

void log::restore(index_t i, term_t t) {
  if (i <= committed_) {
    throw std::logic_error(fmt::format("raft log: restoring {} at or below commit {}", i, committed_));
  }
  entries_.clear();
  dropped_ = 0;
  snapshot_index_ = i;
  snapshot_term_ = t;
  persisted_ = sent_ = committed_ = applied_ = i;
}

std::vector<entry> log::take_committed(std::size_t max_bytes) {
  auto upto = std::min(committed_, persisted_);
  if (upto <= applied_) return {};
  auto out = slice(applied_ + 1, upto, max_bytes);
  if (!out.empty()) applied_ = out.back().index;
  return out;
}

void log::check() const {
  auto fail = [](const std::string& what) { throw std::logic_error("raft log invariant: " + what); };
  if (applied_ > committed_) fail("applied beyond committed");
  if (committed_ > last_index()) fail("committed beyond the last index");
  if (applied_ < snapshot_index_) fail("applied below the snapshot");
  if (applied_ > persisted_) fail("applied beyond persisted");
  term_t prev = snapshot_term_;
  if (dropped_ > entries_.size()) fail("more entries dropped than held");
  for (std::size_t k = dropped_; k < entries_.size(); ++k) {
    if (entries_[k].index != snapshot_index_ + 1 + (k - dropped_)) fail("indexes are not contiguous");
    if (entries_[k].term < prev) fail("terms go backwards");
    prev = entries_[k].term;
  }
}

}  // namespace kv::raft
