#pragma once
// A linearizability checker for client histories of a key-value store (support/history.hpp).
//
// A map of registers is linearizable iff each register is (linearizability is local), so the
// history is split by key and each key checked on its own, with the search of Wing & Gong as
// improved by Lowe ("Testing for linearizability", 2017) and used by Knossos and Porcupine:
// a depth-first search over the order in which operations take effect, pruned by remembering
// every (set of operations already in effect, register value) pair visited.
//
// The model: a register that starts absent. set(v) makes it v; del makes it absent and
// reports whether it was present; get reports its value or not-found.
//
// Before searching, operations without an effect are dropped: failed ones, gets without an
// answer, sets with an unknown outcome whose value no get returned, and dels with an unknown
// outcome begun after the last not-found was reported. Such a write can be taken as never
// applied, except that a del reporting a deletion might have seen a dropped set: on a key where
// a set was dropped, dels are not checked for having found the key (only for leaving it
// absent). A set with an unknown outcome that a get saw must take effect before the first such
// get completes; a kept del with an unknown outcome may take effect at any point after its
// invocation.
//
// Cost: about linear in the number of operations when few are concurrent (100,000 on three
// keys check in about half a second and tens of MiB). It grows exponentially with the number
// of operations pending at once; a history that is not linearizable, where every order up to
// the violation must be tried, is the expensive case.

#include "support/history.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

namespace kv::test {

struct linearizability_result {
  bool linearizable = true;
  std::string explanation;  // why not, for people: the key and the operations involved
  std::size_t keys = 0;
  std::size_t operations = 0;  // operations searched (after dropping those without effect)
  std::size_t dropped = 0;     // operations without an effect
  std::size_t configurations = 0;  // (operations in effect, value) pairs the search visited
  std::chrono::microseconds took{0};
};

namespace lin_detail {

using time_point = history_clock::time_point;

// One operation on one register, with values replaced by small integers.
struct reg_op {
  op_kind kind;
  int value;           // set: the value written; get: the value read (absent: not found)
  bool known = true;   // del: whether its found / not-found is known
  bool found = false;  // del: found
  time_point invoked;
  time_point completed;  // max: unknown outcome
  std::size_t origin;    // index in the history
};

constexpr int absent = -1;

// The register: the state after `o` when it can take effect in `state`.
inline std::optional<int> step(int state, const reg_op& o) {
  switch (o.kind) {
    case op_kind::set:
      return o.value;
    case op_kind::get:
      if (state != o.value) return std::nullopt;
      return state;
    case op_kind::del:
      if (o.known && o.found != (state != absent)) return std::nullopt;
      return absent;
  }
  return std::nullopt;
}

// Relative times for messages: milliseconds since the first invocation.
struct clock_text {
  time_point t0;
  std::string at(time_point t) const {
    if (t == time_point::max()) return "?";
    return fmt::format("{:.1f}", std::chrono::duration<double, std::milli>(t - t0).count());
  }
  std::string line(const history& h, std::size_t i) const {
    const auto& o = h[i];
    return fmt::format("#{} client {} {}  [{} .. {} ms]", i, o.client, describe(o), at(o.invoked), at(o.completed));
  }
};

// Why the search stopped at its deepest point.
struct dead_end {
  std::size_t depth = 0;
  std::vector<std::size_t> prefix;  // reg_op indexes in the order they took effect
  int state = absent;
  std::size_t blocking = 0;  // the op that had to take effect next
  std::vector<std::pair<std::size_t, bool>> candidates;  // op, whether the register allowed it
};

// Wing & Gong / Lowe search over one register's operations (in the order of their
// invocations). run() returns nullopt if they are linearizable, else the deepest dead end found.
class register_search {
 public:
  explicit register_search(const std::vector<reg_op>& ops) : ops_(ops) {
    std::mt19937_64 rng(0x6c696e);
    for (std::size_t i = 0; i < ops.size(); ++i) zobrist_.push_back(rng());
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (is_pending_del(i)) pending_dels_.push_back(i);
    }
    std::stable_sort(pending_dels_.begin(), pending_dels_.end(),
                     [&](std::size_t a, std::size_t b) { return ops[a].invoked < ops[b].invoked; });
    build_list();
  }

  // The candidates for the next operation to take effect are the calls before the first
  // return in the list, tried in the order of their invocations. Dels with an unknown outcome
  // stay candidates to the end and are interchangeable (same effect, nothing to check, the
  // earlier invoked is available whenever a later one is), so they take effect only in the
  // order of their invocations: k of them cost k + 1 choices instead of 2^k.
  std::optional<dead_end> run() {
    // The operations in effect: a bit per operation, except for the pending dels, which
    // `dels_used` tells (their bits stay clear, and do not hold `prefix` back).
    const std::size_t words = (ops_.size() + 63) / 64;
    std::vector<std::uint64_t> linearized(words, 0);
    std::uint64_t hash = 0;  // of the operations in effect
    int state = absent;
    struct frame {
      std::size_t entry;
      int state;  // before the operation took effect
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
        const bool pending_del = is_pending_del(op);
        if (pending_del && pending_dels_[dels_used] != op) {
          e = next_[e];
          continue;
        }
        if (auto after = step(state, ops_[op])) {
          std::uint64_t h = hash ^ zobrist_[op] ^ (static_cast<std::uint64_t>(*after + 2) * 0x9e3779b97f4a7c15ull);
          if (!pending_del) flip(op);
          std::size_t first_out = prefix;
          while (first_out < ops_.size() && (bit_set(first_out) || is_pending_del(first_out))) ++first_out;
          auto used = dels_used + (pending_del ? 1 : 0);
          if (seen_.insert(make_config(linearized, first_out, used, *after, h)).second) {
            prefix = first_out;
            dels_used = used;
            calls.push_back({e, state});
            hash ^= zobrist_[op];
            state = *after;
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
      if (!deepest || calls.size() > deepest->depth) deepest = describe_dead_end(calls, state, e);
      if (calls.empty()) return deepest;
      auto top = calls.back();
      calls.pop_back();
      const std::size_t undone = op_of(top.entry);
      if (is_pending_del(undone)) {
        --dels_used;
      } else {
        flip(undone);
        prefix = std::min(prefix, undone);
      }
      hash ^= zobrist_[undone];
      state = top.state;
      unlift(top.entry);
      e = next_[top.entry];
    }
    return std::nullopt;
  }

  std::size_t configurations() const { return seen_.size(); }

 private:
  // A visited configuration: the operations in effect (every one before `prefix`, those set in
  // `rest`, a bitset from word prefix / 64 to its last non-zero word, and the first `dels_used`
  // pending dels) and the register's value. Compact because operations mostly take effect in
  // the order of their invocations.
  struct config {
    std::uint32_t prefix;
    std::uint32_t dels_used;
    std::vector<std::uint64_t> rest;
    int state;
    std::uint64_t hash;
    bool operator==(const config& o) const {
      return state == o.state && prefix == o.prefix && dels_used == o.dels_used && rest == o.rest;
    }
  };
  static config make_config(const std::vector<std::uint64_t>& bits, std::size_t prefix, std::size_t dels_used,
                            int state, std::uint64_t hash) {
    std::size_t end = bits.size();
    while (end > prefix / 64 && bits[end - 1] == 0) --end;
    config c{static_cast<std::uint32_t>(prefix), static_cast<std::uint32_t>(dels_used), {}, state, hash};
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

  static bool is_call(std::size_t entry) { return entry % 2 == 0; }
  // A del with an unknown outcome, kept: pending to the end, interchangeable with the others.
  bool is_pending_del(std::size_t op) const {
    return ops_[op].kind == op_kind::del && !ops_[op].known && ops_[op].completed == time_point::max();
  }
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
  dead_end describe_dead_end(const Frames& calls, int state, std::size_t blocking_return) const {
    dead_end d;
    d.depth = calls.size();
    for (const auto& f : calls) d.prefix.push_back(op_of(f.entry));
    d.state = state;
    d.blocking = op_of(blocking_return);
    for (auto e = next_[head_]; e != blocking_return; e = next_[e]) {
      if (is_call(e)) d.candidates.emplace_back(op_of(e), step(state, ops_[op_of(e)]).has_value());
    }
    return d;
  }

  const std::vector<reg_op>& ops_;
  std::vector<std::size_t> pending_dels_;  // dels with an unknown outcome, by invocation
  std::vector<std::uint64_t> zobrist_;
  std::vector<std::size_t> next_;
  std::vector<std::size_t> prev_;
  std::size_t head_ = 0;
  std::unordered_set<config, config_hash> seen_;
};

// One key's operations, ready for the search: values numbered, effect-free operations dropped.
struct register_history {
  std::vector<reg_op> ops;
  std::vector<std::string> values;  // value number -> value
  std::size_t dropped = 0;
  bool found_checked = true;  // whether dels that reported a deletion are checked for it
  std::string impossible;     // a read no write can explain, if any

  register_history(const history& h, const std::vector<std::size_t>& indexes, const clock_text& clock) {
    std::map<std::string, int> numbers;
    auto number = [&](const std::string& v) {
      auto [it, added] = numbers.emplace(v, static_cast<int>(values.size()));
      if (added) values.push_back(v);
      return it->second;
    };
    // What was observed: the values gets returned, and the latest time a get or del that
    // reported not-found completed.
    std::set<std::string> read_values;
    auto last_absent = time_point::min();
    for (auto i : indexes) {
      const auto& o = h[i];
      if (o.outcome != op_outcome::ok) continue;
      if (o.kind == op_kind::get && o.found) read_values.insert(o.value);
      if (o.kind != op_kind::set && !o.found) last_absent = std::max(last_absent, o.completed);
    }
    // A set with an unknown outcome whose value no get returned is dropped (never applied). A
    // del that reported a deletion could have seen it, so on such a key those reports are not
    // checked (`found_checked`): only that the del left the key absent.
    found_checked = true;
    for (auto i : indexes) {
      const auto& o = h[i];
      if (o.kind == op_kind::set && o.outcome == op_outcome::unknown && !read_values.contains(o.value)) {
        found_checked = false;
      }
    }
    for (auto i : indexes) {
      const auto& o = h[i];
      bool effect = o.outcome == op_outcome::ok;
      if (o.outcome == op_outcome::unknown && o.kind == op_kind::set) effect = read_values.contains(o.value);
      // A del with an unknown outcome matters only to a not-found reported after it began.
      if (o.outcome == op_outcome::unknown && o.kind == op_kind::del) effect = last_absent > o.invoked;
      if (!effect) {
        ++dropped;
        continue;
      }
      reg_op r{o.kind, absent, true, o.found, o.invoked, o.completed, i};
      if (o.kind == op_kind::set) r.value = number(o.value);
      if (o.kind == op_kind::del) r.known = o.outcome == op_outcome::ok && (found_checked || !o.found);
      ops.push_back(r);
    }
    // Reads of a value no kept set wrote cannot be explained by any order: say so plainly.
    for (auto& r : ops) {
      if (r.kind != op_kind::get) continue;
      const auto& o = h[r.origin];
      if (!o.found) continue;
      auto it = numbers.find(o.value);
      if (it != numbers.end()) {
        r.value = it->second;
        continue;
      }
      if (!impossible.empty()) continue;
      impossible = fmt::format("{} read a value that no applied set wrote", clock.line(h, r.origin));
      for (auto i : indexes) {
        if (h[i].kind == op_kind::set && h[i].value == o.value) {
          impossible += fmt::format("; it was written only by {}, which failed (not applied)", clock.line(h, i));
        }
      }
    }
    bound_unknown_sets();
  }

  std::string value_text(int v) const { return v == absent ? "absent" : fmt::format("\"{}\"", values[v]); }

  // A set with an unknown outcome whose value no other set wrote must take effect before the
  // first read of that value completes: that read is its completion. (Exact, and it spares the
  // search from trying such a set at every later point.)
  void bound_unknown_sets() {
    std::vector<int> writers(values.size(), 0);
    std::vector<time_point> first_read(values.size(), time_point::max());
    for (const auto& r : ops) {
      if (r.kind == op_kind::set) ++writers[static_cast<std::size_t>(r.value)];
    }
    for (const auto& r : ops) {
      if (r.kind != op_kind::get || r.value == absent) continue;
      auto& t = first_read[static_cast<std::size_t>(r.value)];
      t = std::min(t, r.completed);
    }
    for (auto& r : ops) {
      if (r.kind == op_kind::set && r.completed == time_point::max() && writers[static_cast<std::size_t>(r.value)] == 1) {
        r.completed = std::max(r.invoked, first_read[static_cast<std::size_t>(r.value)]);
      }
    }
  }
};

inline std::string explain(const std::string& key, const history& h, const register_history& reg, const dead_end& d,
                           const clock_text& clock) {
  const auto& ops = reg.ops;
  std::string out = fmt::format(
      "key {}: not linearizable ({} operations with an effect). The longest order found in which the first "
      "operations can take effect has {}; after it the register is {}",
      key, ops.size(), d.depth, reg.value_text(d.state));
  for (auto it = d.prefix.rbegin(); it != d.prefix.rend(); ++it) {
    if (ops[*it].kind == op_kind::get) continue;
    out += fmt::format(" (last write: {})", clock.line(h, ops[*it].origin));
    break;
  }
  out += fmt::format(".\nThen {} must take effect before it completes, but no operation can come next:\n",
                     clock.line(h, ops[d.blocking].origin));
  for (auto [op, allowed] : d.candidates) {
    const auto& o = ops[op];
    std::string why;
    if (allowed) {
      why = "possible, but every order continuing with it was already tried";
    } else if (o.kind == op_kind::get) {
      why = fmt::format("it read {} but the register is {}", reg.value_text(o.value), reg.value_text(d.state));
    } else {
      why = fmt::format("it reported {} but the register is {}", o.found ? "a deletion" : "not found",
                        reg.value_text(d.state));
    }
    out += fmt::format("  {}: {}\n", clock.line(h, o.origin), why);
    if (!allowed && o.kind == op_kind::get && o.value != absent) {
      for (const auto& w : ops) {
        if (w.kind == op_kind::set && w.value == o.value) out += fmt::format("      written by {}\n", clock.line(h, w.origin));
      }
    }
  }
  const std::size_t shown = std::min<std::size_t>(d.prefix.size(), 8);
  out += fmt::format("The last {} operations of that order:\n", shown);
  for (std::size_t i = d.prefix.size() - shown; i < d.prefix.size(); ++i) {
    out += fmt::format("  {}\n", clock.line(h, ops[d.prefix[i]].origin));
  }
  return out;
}

}  // namespace lin_detail

// Checks that `h` is linearizable for a map of registers that all start absent. On failure the
// explanation names the first key found not linearizable and the operations involved.
inline linearizability_result check_linearizable(const history& h) {
  using namespace lin_detail;
  const auto start = std::chrono::steady_clock::now();
  linearizability_result out;
  clock_text clock{time_point::max()};
  std::map<std::string, std::vector<std::size_t>> by_key;
  for (std::size_t i = 0; i < h.size(); ++i) {
    by_key[h[i].key].push_back(i);
    clock.t0 = std::min(clock.t0, h[i].invoked);
  }
  out.keys = by_key.size();
  for (auto& [key, indexes] : by_key) {
    // By invocation: the search's configurations are compact when operations take effect
    // roughly in the order of their indexes.
    std::stable_sort(indexes.begin(), indexes.end(), [&](auto a, auto b) { return h[a].invoked < h[b].invoked; });
    register_history reg(h, indexes, clock);
    out.operations += reg.ops.size();
    out.dropped += reg.dropped;
    if (!reg.impossible.empty()) {
      out.linearizable = false;
      out.explanation = fmt::format("key {}: not linearizable: {}", key, reg.impossible);
      break;
    }
    register_search search(reg.ops);
    auto dead = search.run();
    out.configurations += search.configurations();
    if (dead) {
      out.linearizable = false;
      out.explanation = explain(key, h, reg, *dead, clock);
      break;
    }
  }
  out.took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  return out;
}

}  // namespace kv::test
