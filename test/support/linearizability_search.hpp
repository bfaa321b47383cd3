#pragma once
// The model and the search of the linearizability checker (support/linearizability.hpp).
//
// The model: a few registers (the keys of one component of the history: keys that
// transactions tie together), each absent at first or holding a value, and operations that are
// all transactions: if every guard holds (a key holds a value, or is absent), the writes take
// effect at once; the reads report what keys held just before. set, get and del are
// transactions of one key: a write; a read; a write of "absent" that reads whether the key was
// present. An operation with an unknown outcome is not checked (its branch and reads are not
// known); its writes take effect if its guards hold where it is placed.
//
// The search: Wing & Gong's, as improved by Lowe ("Testing for linearizability", 2017) and
// used by Knossos and Porcupine: a depth-first search over the order in which operations take
// effect, pruned by remembering every (set of operations already in effect, state) pair
// visited.

#include "support/history.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace kv::test::lin_detail {

using time_point = history_clock::time_point;

// Value numbers: values are numbered from 0 per component; these are the others.
constexpr int absent = -1;
constexpr int present = -2;  // only in reads: the key holds some value (a del that found it)

// The registers' state: a value number (or absent) per key of the component. The first keys'
// values are kept inline: the search makes a state at every write it tries, to look up its
// number.
class state {
 public:
  state() = default;
  state(std::size_t keys, int value) : size_(keys), more_(keys > inline_keys ? keys - inline_keys : 0, value) {
    inline_.fill(value);
  }
  std::size_t size() const { return size_; }
  int operator[](std::size_t k) const { return k < inline_keys ? inline_[k] : more_[k - inline_keys]; }
  int& operator[](std::size_t k) { return k < inline_keys ? inline_[k] : more_[k - inline_keys]; }
  friend bool operator==(const state&, const state&) = default;

 private:
  static constexpr std::size_t inline_keys = 4;
  std::size_t size_ = 0;
  std::array<int, inline_keys> inline_{};  // unused entries stay equal, so == compares them freely
  std::vector<int> more_;
};

// A key of the component (its index) and a value number.
struct key_value_ref {
  std::uint32_t key = 0;
  int value = absent;
};

// A few key_value_refs, inline up to two (most operations touch one key or two): the search
// reads them for every operation it tries.
class key_value_refs {
 public:
  void push_back(key_value_ref r) {
    if (size_ == inline_.size()) more_.assign(inline_.begin(), inline_.end());
    if (size_ < inline_.size()) {
      inline_[size_] = r;
    } else {
      more_.push_back(r);
    }
    ++size_;
  }
  const key_value_ref* begin() const { return size_ <= inline_.size() ? inline_.data() : more_.data(); }
  const key_value_ref* end() const { return begin() + size_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  std::uint32_t size_ = 0;
  std::array<key_value_ref, 2> inline_{};
  std::vector<key_value_ref> more_;  // all of them, beyond two
};

// One operation, with keys and values replaced by small integers.
struct model_op {
  key_value_refs guards;
  key_value_refs writes;
  key_value_refs reads;
  bool known = true;      // outcome ok: `succeeded` and `reads` are checked
  bool succeeded = true;  // known: whether the guards held
  // A del with an unknown outcome on a component of one key: pending to the end, and
  // interchangeable with the others (see register_search::run).
  bool interchangeable = false;
  time_point invoked;
  time_point completed;  // max: unknown outcome
  std::size_t origin;    // index in the history
};

inline bool guards_hold(const state& s, const model_op& o) {
  return std::all_of(o.guards.begin(), o.guards.end(), [&](key_value_ref g) { return s[g.key] == g.value; });
}

inline bool read_matches(int held, int read) { return read == present ? held != absent : held == read; }

// Whether `o` can take effect in `s`: an answered operation's branch and reads must match.
inline bool allowed(const state& s, const model_op& o) {
  if (!o.known) return true;
  if (guards_hold(s, o) != o.succeeded) return false;
  return std::all_of(o.reads.begin(), o.reads.end(), [&](key_value_ref r) { return read_matches(s[r.key], r.value); });
}

// Whether `o` may write anything: it has writes, and did not answer that its guards failed.
inline bool may_write(const model_op& o) { return !o.writes.empty() && (!o.known || o.succeeded); }

// Whether `o` taking effect in `s` changes it.
inline bool writes_in(const state& s, const model_op& o) { return !o.writes.empty() && guards_hold(s, o); }

// The state after `o`, which is allowed in `s`.
inline state after(const state& s, const model_op& o) {
  state out = s;
  if (writes_in(s, o)) {
    for (auto w : o.writes) out[w.key] = w.value;
  }
  return out;
}

struct state_hash {
  std::size_t operator()(const state& s) const {
    std::uint64_t h = 0x6c696e;
    for (std::size_t k = 0; k < s.size(); ++k) h = (h ^ static_cast<std::uint64_t>(s[k] + 3)) * 0x9e3779b97f4a7c15ull;
    return static_cast<std::size_t>(h);
  }
};

// Why the search stopped at its deepest point.
struct dead_end {
  std::size_t depth = 0;
  std::vector<std::size_t> prefix;  // model_op indexes in the order they took effect
  state at;                         // the state after them
  std::size_t blocking = 0;         // the op that had to take effect next
  std::vector<std::pair<std::size_t, bool>> candidates;  // op, whether the model allowed it
};

// Wing & Gong / Lowe search over one component's operations (in the order of their
// invocations), from `initial`. run() returns nullopt if they are linearizable, else the
// deepest dead end found. States are numbered as the search meets them (about one per write),
// so that a configuration holds a number, not a tuple.
class register_search {
 public:
  register_search(const std::vector<model_op>& ops, const state& initial) : ops_(ops) {
    intern(initial);
    std::mt19937_64 rng(0x6c696e);
    for (std::size_t i = 0; i < ops.size(); ++i) zobrist_.push_back(rng());
    for (std::size_t i = 0; i < ops.size(); ++i) {
      pending_del_.push_back(ops[i].interchangeable ? 1 : 0);
      if (ops[i].interchangeable) pending_dels_.push_back(i);
    }
    std::stable_sort(pending_dels_.begin(), pending_dels_.end(),
                     [&](std::size_t a, std::size_t b) { return ops[a].invoked < ops[b].invoked; });
    build_list();
  }

  // The candidates for the next operation to take effect are the calls before the first
  // return in the list, tried in the order of their invocations. Dels with an unknown outcome
  // (on one key) stay candidates to the end and are interchangeable (same effect, nothing to
  // check, the earlier invoked is available whenever a later one is), so they take effect only
  // in the order of their invocations: k of them cost k + 1 choices instead of 2^k.
  std::optional<dead_end> run() {
    // The operations in effect: a bit per operation, except for the pending dels, which
    // `dels_used` tells (their bits stay clear, and do not hold `prefix` back).
    const std::size_t words = (ops_.size() + 63) / 64;
    std::vector<std::uint64_t> linearized(words, 0);
    std::uint64_t hash = 0;  // of the operations in effect
    std::uint32_t current = 0;  // the state, numbered
    struct frame {
      std::size_t entry;
      std::uint32_t before;  // the state before the operation took effect
    };
    std::vector<frame> calls;
    std::optional<dead_end> deepest;
    std::size_t prefix = 0;     // the first operation not in effect, pending dels aside
    std::size_t dels_used = 0;  // pending_dels_ in effect: always a prefix
    auto bit_set = [&](std::size_t op) { return ((linearized[op / 64] >> (op % 64)) & 1) != 0; };
    auto flip = [&](std::size_t op) { linearized[op / 64] ^= 1ull << (op % 64); };
    std::size_t e = next_[head_];
    while (next_[head_] != head_) {
      const std::size_t op = op_of(e);
      if (is_call(e)) {
        const bool pending_del = pending_del_[op] != 0;
        if (pending_del && pending_dels_[dels_used] != op) {
          e = next_[e];
          continue;
        }
        if (allowed(states_[current], ops_[op])) {
          const auto next = writes_in(states_[current], ops_[op]) ? intern(after(states_[current], ops_[op])) : current;
          std::uint64_t h = hash ^ zobrist_[op] ^ ((next + 2ull) * 0x9e3779b97f4a7c15ull);
          if (!pending_del) flip(op);
          std::size_t first_out = prefix;
          while (first_out < ops_.size() && (bit_set(first_out) || pending_del_[first_out] != 0)) ++first_out;
          auto used = dels_used + (pending_del ? 1 : 0);
          if (seen_.insert(make_config(linearized, first_out, used, next, h)).second) {
            prefix = first_out;
            dels_used = used;
            calls.push_back({e, current});
            hash ^= zobrist_[op];
            current = next;
            lift(e);
            e = next_[head_];
            continue;
          }
          if (!pending_del) flip(op);
        }
        e = next_[e];
        continue;
      }
      // A return: the operation it ends must have taken effect by now; none could. Back up.
      if (!deepest || calls.size() > deepest->depth) deepest = describe_dead_end(calls, states_[current], e);
      if (calls.empty()) return deepest;
      auto top = calls.back();
      calls.pop_back();
      const std::size_t undone = op_of(top.entry);
      if (pending_del_[undone] != 0) {
        --dels_used;
      } else {
        flip(undone);
        prefix = std::min(prefix, undone);
      }
      hash ^= zobrist_[undone];
      current = top.before;
      unlift(top.entry);
      e = next_[top.entry];
    }
    return std::nullopt;
  }

  std::size_t configurations() const { return seen_.size(); }

 private:
  // A visited configuration: the operations in effect (every one before `prefix`, those set in
  // `rest`, a bitset from word prefix / 64 to its last non-zero word, and the first `dels_used`
  // pending dels) and the state's number. Compact because operations mostly take effect in the
  // order of their invocations.
  struct config {
    std::uint32_t prefix;
    std::uint32_t dels_used;
    std::vector<std::uint64_t> rest;
    std::uint32_t at;
    std::uint64_t hash;
    bool operator==(const config& o) const {
      return prefix == o.prefix && dels_used == o.dels_used && at == o.at && rest == o.rest;
    }
  };
  static config make_config(const std::vector<std::uint64_t>& bits, std::size_t prefix, std::size_t dels_used,
                            std::uint32_t at, std::uint64_t hash) {
    std::size_t end = bits.size();
    while (end > prefix / 64 && bits[end - 1] == 0) --end;
    config c{static_cast<std::uint32_t>(prefix), static_cast<std::uint32_t>(dels_used), {}, at, hash};
    if (end > prefix / 64) {
      c.rest.assign(bits.begin() + static_cast<std::ptrdiff_t>(prefix / 64), bits.begin() + static_cast<std::ptrdiff_t>(end));
      c.rest.front() &= ~((1ull << (prefix % 64)) - 1);
    }
    return c;
  }
  struct config_hash {
    std::size_t operator()(const config& c) const { return static_cast<std::size_t>(c.hash); }
  };

  // Entries 0 .. 2n-1: op i's call is 2i, its return 2i+1; head_ = 2n. A doubly linked list
  // in time order (calls before returns at equal times: such operations overlap).
  void build_list() {
    const std::size_t n = ops_.size();
    head_ = 2 * n;
    next_.assign(2 * n + 1, head_);
    prev_.assign(2 * n + 1, head_);
    std::vector<std::size_t> order(2 * n);
    for (std::size_t i = 0; i < 2 * n; ++i) order[i] = i;
    auto time_of = [&](std::size_t entry) {
      return is_call(entry) ? ops_[entry / 2].invoked : ops_[entry / 2].completed;
    };
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if (time_of(a) != time_of(b)) return time_of(a) < time_of(b);
      return is_call(a) && !is_call(b);
    });
    std::size_t last = head_;
    for (auto entry : order) {
      next_[last] = entry;
      prev_[entry] = last;
      last = entry;
    }
    next_[last] = head_;
    prev_[head_] = last;
  }

  std::uint32_t intern(const state& s) {
    auto [it, added] = state_numbers_.emplace(s, static_cast<std::uint32_t>(states_.size()));
    if (added) states_.push_back(s);
    return it->second;
  }

  static bool is_call(std::size_t entry) { return entry % 2 == 0; }
  static std::size_t op_of(std::size_t entry) { return entry / 2; }

  // Removes a call and its return from the list; unlift() undoes the latest lift().
  void lift(std::size_t call) {
    for (auto x : {call, call + 1}) {
      next_[prev_[x]] = next_[x];
      prev_[next_[x]] = prev_[x];
    }
  }
  void unlift(std::size_t call) {
    for (auto x : {call + 1, call}) {
      next_[prev_[x]] = x;
      prev_[next_[x]] = x;
    }
  }

  template <typename Frames>
  dead_end describe_dead_end(const Frames& calls, const state& at, std::size_t blocking_return) const {
    dead_end d;
    d.depth = calls.size();
    for (const auto& f : calls) d.prefix.push_back(op_of(f.entry));
    d.at = at;
    d.blocking = op_of(blocking_return);
    for (auto e = next_[head_]; e != blocking_return; e = next_[e]) {
      if (is_call(e)) d.candidates.emplace_back(op_of(e), allowed(at, ops_[op_of(e)]));
    }
    return d;
  }

  const std::vector<model_op>& ops_;
  std::vector<state> states_;  // by number
  std::unordered_map<state, std::uint32_t, state_hash> state_numbers_;
  std::vector<char> pending_del_;          // by op: whether it is interchangeable
  std::vector<std::size_t> pending_dels_;  // interchangeable dels, by invocation
  std::vector<std::uint64_t> zobrist_;
  std::vector<std::size_t> next_;
  std::vector<std::size_t> prev_;
  std::size_t head_ = 0;
  std::unordered_set<config, config_hash> seen_;
};

}  // namespace kv::test::lin_detail
