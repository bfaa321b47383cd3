#pragma once
// A linearizability checker for client histories of a key-value store (support/history.hpp):
// set, get, del, and transactions (compare-and-set, multi-key reads and writes).
//
// The model is a map of registers that all start absent (support/linearizability_search.hpp).
// Linearizability is local, so the history is split into components: keys that no operation
// touches together are checked apart, each as one register; keys tied by transactions (a
// transfer between two accounts, an mget) are checked together, the state being the tuple of
// their values. A compare-and-set touches one key, so a key under compare-and-set stays a
// component of its own.
//
// Before searching, operations without an effect are dropped: failed ones, reads without an
// answer, and writes with an unknown outcome that nothing observed: none of the values they
// write was read (by a get, a transaction's reads, or a guard that held), no not-found was
// reported after they began on a key they delete, and no transaction that failed without
// reading a key they write (whose failure they might explain) was answered. Such a write can be
// taken as never applied, except that a del reporting a deletion might have seen it: on a key
// where such a write was dropped, dels are not checked for having found the key (only for
// leaving it absent). A write with an unknown outcome that is the only writer of a value
// observed must take effect before the first observation completes; a kept del with an unknown
// outcome may take effect at any point after its invocation.
//
// Cost: about linear in the number of operations when few are concurrent (100,000 on three
// keys check in about half a second and tens of MiB). It grows exponentially with the number
// of operations pending at once; a history that is not linearizable, where every order up to
// the violation must be tried, is the expensive case.

#include "support/history.hpp"
#include "support/linearizability_search.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kv::test {

struct linearizability_result {
  bool linearizable = true;
  std::string explanation;  // why not, for people: the keys and the operations involved
  std::size_t keys = 0;
  std::size_t components = 0;  // groups of keys checked together
  std::size_t operations = 0;  // operations searched (after dropping those without effect)
  std::size_t dropped = 0;     // operations without an effect
  std::size_t configurations = 0;  // (operations in effect, state) pairs the search visited
  std::chrono::microseconds took{0};
};

namespace lin_detail {

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

// What the answered operations of a component observed, per key: the values read (by gets,
// transactions' reads and guards that held), when not-found was last reported, and whether a
// transaction failed without reading it (a failure any write to it may explain).
struct observations {
  std::vector<std::set<std::string>> values;
  std::vector<time_point> last_absent;
  std::vector<bool> blind;

  observations(const history& h, const std::vector<std::size_t>& indexes, const std::map<std::string, std::uint32_t>& key_of)
      : values(key_of.size()), last_absent(key_of.size(), time_point::min()), blind(key_of.size(), false) {
    auto seen = [&](const std::string& key, const std::optional<std::string>& value, time_point when) {
      auto k = key_of.at(key);
      if (value) {
        values[k].insert(*value);
      } else {
        last_absent[k] = std::max(last_absent[k], when);
      }
    };
    for (auto i : indexes) {
      const auto& o = h[i];
      if (o.outcome != op_outcome::ok) continue;
      switch (o.kind) {
        case op_kind::set:
          break;
        case op_kind::get:
          seen(o.key, o.found ? std::optional<std::string>(o.value) : std::nullopt, o.completed);
          break;
        case op_kind::del:
          if (!o.found) seen(o.key, std::nullopt, o.completed);
          break;
        case op_kind::txn:
          for (const auto& r : o.reads) seen(r.key, r.value, o.completed);
          for (const auto& g : o.guards) {
            if (o.succeeded) {
              seen(g.key, g.value, o.completed);
            } else if (std::none_of(o.reads.begin(), o.reads.end(), [&](const key_state& r) { return r.key == g.key; })) {
              blind[key_of.at(g.key)] = true;
            }
          }
          break;
      }
    }
  }

  // Whether a write of `value` to key `k`, begun at `invoked`, with an unknown outcome, could
  // have been observed.
  bool observable(std::uint32_t k, const std::optional<std::string>& value, time_point invoked) const {
    if (blind[k]) return true;
    return value ? values[k].contains(*value) : last_absent[k] > invoked;
  }
};

// The writes of a set, del or transaction, as key_states.
inline std::vector<key_state> writes_of(const operation& o) {
  switch (o.kind) {
    case op_kind::set: return {{o.key, o.value}};
    case op_kind::del: return {{o.key, std::nullopt}};
    case op_kind::get: return {};
    case op_kind::txn: return o.writes;
  }
  return {};
}

// One component's operations, ready for the search: keys and values numbered, operations
// without an effect dropped.
struct component_history {
  std::vector<std::string> keys;  // key number -> key
  std::vector<model_op> ops;
  std::vector<std::string> values;  // value number -> value
  std::size_t dropped = 0;
  std::string impossible;  // an observation no write can explain, if any

  component_history(const history& h, const std::vector<std::size_t>& indexes, std::vector<std::string> component_keys,
                    const clock_text& clock)
      : keys(std::move(component_keys)) {
    for (std::uint32_t k = 0; k < keys.size(); ++k) key_of_.emplace(keys[k], k);
    std::vector<bool> found_checked(keys.size(), true);
    for (auto i : with_effect(h, indexes, found_checked)) ops.push_back(model(h[i], i, found_checked));
    find_impossible(h, clock);
    bound_unknown_writes();
  }

  state initial() const { return state(keys.size(), absent); }

  std::string value_text(int v) const {
    if (v == absent) return "absent";
    if (v == present) return "present";
    return fmt::format("\"{}\"", values[static_cast<std::size_t>(v)]);
  }
  // "the register is "a"" (one key), "k1 is "a"" (several).
  std::string held_text(std::uint32_t k, int v) const {
    if (keys.size() == 1) return "the register is " + value_text(v);
    return fmt::format("{} is {}", keys[k], value_text(v));
  }
  // ""a"" (one key), "k1="a"" (several).
  std::string ref_text(key_value_ref r) const {
    if (keys.size() == 1) return value_text(r.value);
    return fmt::format("{}={}", keys[r.key], value_text(r.value));
  }
  std::string state_text(const state& s) const {
    if (keys.size() == 1) return "the register is " + value_text(s[0]);
    std::string out = "the keys hold";
    for (std::uint32_t k = 0; k < keys.size(); ++k) out += fmt::format(" {}={}", keys[k], value_text(s[k]));
    return out;
  }
  std::string name() const {
    if (keys.size() == 1) return "key " + keys[0];
    std::string out = "keys ";
    for (const auto& k : keys) out += (&k == &keys.front() ? "" : ", ") + k;
    return out;
  }

 private:
  // The operations of `indexes` with an effect (counting the others in `dropped`); clears
  // `found_checked` for the keys where a write of a value was dropped.
  std::vector<std::size_t> with_effect(const history& h, const std::vector<std::size_t>& indexes,
                                       std::vector<bool>& found_checked) {
    const observations seen(h, indexes, key_of_);
    std::vector<std::size_t> kept;
    for (auto i : indexes) {
      const auto& o = h[i];
      bool effect = o.outcome == op_outcome::ok;
      if (o.outcome == op_outcome::unknown) {
        auto writes = writes_of(o);
        effect = std::any_of(writes.begin(), writes.end(),
                             [&](const key_state& w) { return seen.observable(key_of_.at(w.key), w.value, o.invoked); });
        for (const auto& w : writes) {
          if (!effect && w.value) found_checked[key_of_.at(w.key)] = false;
        }
      }
      if (effect) {
        kept.push_back(i);
      } else {
        ++dropped;
      }
    }
    return kept;
  }

  int number(const std::string& v) {
    auto [it, added] = numbers_.emplace(v, static_cast<int>(values.size()));
    if (added) values.push_back(v);
    return it->second;
  }
  key_value_refs refs(const std::vector<key_state>& parts) {
    key_value_refs out;
    for (const auto& p : parts) out.push_back({key_of_.at(p.key), p.value ? number(*p.value) : absent});
    return out;
  }

  // Operation `o` (index `i` of the history) in the model's terms.
  model_op model(const operation& o, std::size_t i, const std::vector<bool>& found_checked) {
    model_op m;
    m.known = o.outcome == op_outcome::ok;
    m.invoked = o.invoked;
    m.completed = o.completed;
    m.origin = i;
    m.writes = refs(writes_of(o));
    switch (o.kind) {
      case op_kind::set:
        break;
      case op_kind::get:
        m.reads.push_back({key_of_.at(o.key), o.found ? number(o.value) : absent});
        break;
      case op_kind::del:
        if (m.known && (found_checked[key_of_.at(o.key)] || !o.found)) {
          m.reads.push_back({key_of_.at(o.key), o.found ? present : absent});
        }
        break;
      case op_kind::txn:
        m.guards = refs(o.guards);
        if (m.known) m.reads = refs(o.reads);
        m.succeeded = o.succeeded;
        break;
    }
    m.interchangeable = keys.size() == 1 && o.kind == op_kind::del && o.outcome == op_outcome::unknown;
    return m;
  }

  // Observations of a value no kept write wrote cannot be explained by any order: say so
  // plainly.
  void find_impossible(const history& h, const clock_text& clock) {
    std::set<std::pair<std::uint32_t, int>> written;
    for (const auto& m : ops) {
      if (!may_write(m)) continue;
      for (auto w : m.writes) written.emplace(w.key, w.value);
    }
    for (const auto& m : ops) {
      for (const auto* part : {&m.reads, &m.guards}) {
        if (part == &m.guards && !(m.known && m.succeeded)) continue;
        for (auto r : *part) {
          if (r.value < 0 || written.contains({r.key, r.value})) continue;
          impossible = fmt::format("{} {} a value that no applied write wrote", clock.line(h, m.origin),
                                   part == &m.reads ? "read" : "found by compare");
          for (std::size_t i = 0; i < h.size(); ++i) {
            auto writes = writes_of(h[i]);
            bool wrote = std::any_of(writes.begin(), writes.end(), [&](const key_state& w) {
              return w.key == keys[r.key] && w.value == values[static_cast<std::size_t>(r.value)];
            });
            if (wrote && h[i].outcome == op_outcome::failed) {
              impossible += fmt::format("; it was written only by {}, which failed (not applied)", clock.line(h, i));
            }
          }
          return;
        }
      }
    }
  }

  // A write with an unknown outcome that is the only writer of a value must take effect before
  // the first observation of that value completes: that observation is its completion. (Exact,
  // and it spares the search from trying such a write at every later point.)
  void bound_unknown_writes() {
    std::map<std::pair<std::uint32_t, int>, int> writers;
    std::map<std::pair<std::uint32_t, int>, time_point> first_seen;
    for (const auto& m : ops) {
      if (!may_write(m)) continue;
      for (auto w : m.writes) ++writers[{w.key, w.value}];
    }
    auto observe = [&](key_value_ref r, time_point when) {
      auto [it, added] = first_seen.emplace(std::make_pair(r.key, r.value), when);
      if (!added) it->second = std::min(it->second, when);
    };
    for (const auto& m : ops) {
      if (!m.known) continue;
      for (auto r : m.reads) observe(r, m.completed);
      if (m.succeeded) {
        for (auto g : m.guards) observe(g, m.completed);
      }
    }
    for (auto& m : ops) {
      if (m.completed != time_point::max()) continue;
      for (auto w : m.writes) {
        if (w.value < 0 || writers[{w.key, w.value}] != 1) continue;
        auto it = first_seen.find({w.key, w.value});
        if (it != first_seen.end()) m.completed = std::min(m.completed, std::max(m.invoked, it->second));
      }
    }
  }

  std::map<std::string, std::uint32_t> key_of_;
  std::map<std::string, int> numbers_;  // value -> its number
};

// Why `o` cannot take effect in `s`.
inline std::string why_not(const component_history& c, const history& h, const model_op& o, const state& s) {
  const auto kind = h[o.origin].kind;
  if (guards_hold(s, o) != o.succeeded) {
    if (o.succeeded) {
      for (auto g : o.guards) {
        if (s[g.key] != g.value) {
          return fmt::format("it found {} but {}", c.ref_text(g), c.held_text(g.key, s[g.key]));
        }
      }
    }
    std::string held;
    for (auto g : o.guards) held += (held.empty() ? "" : ", ") + c.held_text(g.key, s[g.key]);
    return fmt::format("it failed but its compares hold: {}", held);
  }
  for (auto r : o.reads) {
    if (read_matches(s[r.key], r.value)) continue;
    if (kind == op_kind::del) {
      return fmt::format("it reported {} but {}", r.value == present ? "a deletion" : "not found",
                         c.held_text(r.key, s[r.key]));
    }
    return fmt::format("it read {} but {}", c.ref_text(r), c.held_text(r.key, s[r.key]));
  }
  return "possible";
}

// The value `o` found that `s` does not hold (a read, or a guard of an op that succeeded).
inline std::optional<key_value_ref> mismatch(const model_op& o, const state& s) {
  if (o.succeeded && o.known) {
    for (auto g : o.guards) {
      if (s[g.key] != g.value) return g;
    }
  }
  for (auto r : o.reads) {
    if (!read_matches(s[r.key], r.value)) return r;
  }
  return std::nullopt;
}

inline std::string explain(const history& h, const component_history& c, const dead_end& d, const clock_text& clock) {
  const auto& ops = c.ops;
  std::string out = fmt::format(
      "{}: not linearizable ({} operations with an effect). The longest order found in which the first "
      "operations can take effect has {}; after it {}",
      c.name(), ops.size(), d.depth, c.state_text(d.at));
  // The last operation of that order whose writes took effect.
  std::optional<std::size_t> last_write;
  state s = c.initial();
  for (auto i : d.prefix) {
    if (guards_hold(s, ops[i]) && !ops[i].writes.empty()) last_write = i;
    s = after(s, ops[i]);
  }
  if (last_write) out += fmt::format(" (last write: {})", clock.line(h, ops[*last_write].origin));
  out += fmt::format(".\nThen {} must take effect before it completes, but no operation can come next:\n",
                     clock.line(h, ops[d.blocking].origin));
  for (auto [op, allowed] : d.candidates) {
    const auto& o = ops[op];
    const auto why = allowed ? std::string("possible, but every order continuing with it was already tried")
                             : why_not(c, h, o, d.at);
    out += fmt::format("  {}: {}\n", clock.line(h, o.origin), why);
    auto wrong = allowed ? std::nullopt : mismatch(o, d.at);
    if (!wrong || wrong->value < 0) continue;
    for (const auto& w : ops) {
      bool wrote = may_write(w) && std::any_of(w.writes.begin(), w.writes.end(),
                               [&](key_value_ref x) { return x.key == wrong->key && x.value == wrong->value; });
      if (wrote) out += fmt::format("      written by {}\n", clock.line(h, w.origin));
    }
  }
  const std::size_t shown = std::min<std::size_t>(d.prefix.size(), 8);
  out += fmt::format("The last {} operations of that order:\n", shown);
  for (std::size_t i = d.prefix.size() - shown; i < d.prefix.size(); ++i) {
    out += fmt::format("  {}\n", clock.line(h, ops[d.prefix[i]].origin));
  }
  return out;
}

// The components of `h`: keys tied by the operations that touch them together, each with the
// indexes of its operations (by invocation).
inline std::map<std::vector<std::string>, std::vector<std::size_t>> components(const history& h) {
  std::map<std::string, std::size_t> id;
  std::vector<std::size_t> parent;
  auto find = [&](std::size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  std::vector<std::vector<std::string>> keys(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) {
    keys[i] = h[i].keys();
    for (const auto& k : keys[i]) {
      if (id.emplace(k, parent.size()).second) parent.push_back(parent.size());
      parent[find(id[k])] = find(id[keys[i].front()]);
    }
  }
  std::map<std::size_t, std::vector<std::string>> keys_of_root;
  for (const auto& [k, x] : id) keys_of_root[find(x)].push_back(k);
  std::map<std::vector<std::string>, std::vector<std::size_t>> out;
  std::map<std::size_t, std::vector<std::size_t>> ops_of_root;
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (!keys[i].empty()) ops_of_root[find(id[keys[i].front()])].push_back(i);
  }
  for (auto& [root, ks] : keys_of_root) out.emplace(std::move(ks), std::move(ops_of_root[root]));
  for (auto& [ks, indexes] : out) {
    // By invocation: the search's configurations are compact when operations take effect
    // roughly in the order of their indexes.
    std::stable_sort(indexes.begin(), indexes.end(), [&](auto a, auto b) { return h[a].invoked < h[b].invoked; });
  }
  return out;
}

}  // namespace lin_detail

// Checks that `h` is linearizable for a map of registers that all start absent. On failure the
// explanation names the first component (key, or keys) found not linearizable and the
// operations involved.
inline linearizability_result check_linearizable(const history& h) {
  using namespace lin_detail;
  const auto start = std::chrono::steady_clock::now();
  linearizability_result out;
  clock_text clock{time_point::max()};
  for (const auto& o : h) clock.t0 = std::min(clock.t0, o.invoked);
  for (const auto& o : h) out.dropped += o.keys().empty() ? 1 : 0;
  for (auto& [keys, indexes] : components(h)) {
    component_history c(h, indexes, keys, clock);
    out.keys += keys.size();
    ++out.components;
    out.operations += c.ops.size();
    out.dropped += c.dropped;
    if (!c.impossible.empty()) {
      out.linearizable = false;
      out.explanation = fmt::format("{}: not linearizable: {}", c.name(), c.impossible);
      break;
    }
    register_search search(c.ops, c.initial());
    auto dead = search.run();
    out.configurations += search.configurations();
    if (dead) {
      out.linearizable = false;
      out.explanation = explain(h, c, *dead, clock);
      break;
    }
  }
  out.took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  return out;
}

}  // namespace kv::test
