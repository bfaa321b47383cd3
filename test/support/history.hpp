#pragma once
// Client histories of a key-value store, recorded for a linearizability check
// (support/linearizability.hpp).
//
// An operation is set(k, v), get(k), del(k) or a transaction, with the times it was invoked and
// completed (steady_clock, as seen by the client) and an outcome:
//   ok      - it took effect once, between invocation and completion; a get's value (or
//             not-found), a del's found / not-found and a transaction's branch and reads are
//             what it observed;
//   failed  - refused and not applied (bad_request, too_large, not_leader): no effect at all;
//   unknown - no answer (timed out, connection lost, errc::unavailable): a write may take
//             effect at any time after its invocation, or never; its completion is +infinity.
//
// A transaction (op_kind::txn) is etcd's `if (guards) then (writes) else (reads)` restricted to
// what a model of registers can follow: each guard says a key holds a value (or is absent:
// version == 0); the writes put values (or delete); the reads are the values of keys the
// answer reported, as they were before the writes: a read-only transaction's ranges (an mget),
// or a failed one's else branch. A compare-and-set is the transaction with one guard and one
// write on the same key, and reads that key when it fails.
//
// Threading: a history_recorder is used from one thread (the test's io_context).

#include "core/base/error.hpp"
#include "core/model/txn.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kv::test {

using history_clock = std::chrono::steady_clock;

enum class op_kind : std::uint8_t { set, get, del, txn };
enum class op_outcome : std::uint8_t { ok, failed, unknown };

// A key and a value it holds, is compared with or is given; nullopt: absent.
struct key_state {
  std::string key;
  std::optional<std::string> value;
  friend bool operator==(const key_state&, const key_state&) = default;
};

struct operation {
  op_kind kind = op_kind::get;
  std::string key;     // set, get, del: the key; txn: its first key, for people
  std::string value;   // set: the value written; get (ok, found): the value read
  bool found = false;  // get / del with outcome ok: whether the key existed
  // txn: if every guard holds, the writes take effect at one point; `succeeded` (outcome ok)
  // says whether they did; `reads` (outcome ok) are what the keys held just before (otherwise
  // the keys it asked for, without values).
  std::vector<key_state> guards;
  std::vector<key_state> writes;
  std::vector<key_state> reads;
  bool succeeded = false;
  op_outcome outcome = op_outcome::unknown;
  history_clock::time_point invoked{};
  history_clock::time_point completed = history_clock::time_point::max();  // max: not answered
  int client = 0;
  std::string note;  // for people: the error, the node asked

  bool is_write() const { return kind == op_kind::set || kind == op_kind::del || !writes.empty(); }
  // The keys the operation touches.
  std::vector<std::string> keys() const {
    if (kind != op_kind::txn) return {key};
    std::vector<std::string> out;
    for (const auto* part : {&guards, &writes, &reads}) {
      for (const auto& k : *part) {
        if (std::find(out.begin(), out.end(), k.key) == out.end()) out.push_back(k.key);
      }
    }
    return out;
  }
  // A compare-and-set: one guard and one write, on the same key.
  bool is_cas() const {
    return kind == op_kind::txn && guards.size() == 1 && writes.size() == 1 && guards[0].key == writes[0].key;
  }
};

using history = std::vector<operation>;

// How a failed request ended, from the client's point of view: errc::not_found is an answer
// (ok), requests the node refused before applying them failed, everything else (timeouts, lost
// connections, unavailable, internal) is unknown.
inline op_outcome outcome_of(std::error_code e) {
  if (!e || e == make_error_code(errc::not_found)) return op_outcome::ok;
  if (e == make_error_code(errc::bad_request) || e == make_error_code(errc::too_large) ||
      e == make_error_code(errc::not_leader)) {
    return op_outcome::failed;
  }
  return op_outcome::unknown;
}

inline std::string describe(const std::optional<std::string>& value) {
  return value ? fmt::format("\"{}\"", *value) : std::string("absent");
}

// "a=\"1\" b=absent"
inline std::string describe(const std::vector<key_state>& keys) {
  std::string out;
  for (const auto& k : keys) out += fmt::format("{}{}={}", out.empty() ? "" : " ", k.key, describe(k.value));
  return out;
}

namespace history_detail {

// "cas(k, "a" -> "b")", "mget(a, b)", "txn(if a="1" b="2" then a="0" b="3")", "txn(a="0")"
inline std::string describe_txn_call(const operation& o) {
  if (o.is_cas()) return fmt::format("cas({}, {} -> {})", o.key, describe(o.guards[0].value), describe(o.writes[0].value));
  if (o.guards.empty() && o.writes.empty()) {
    std::string keys;
    for (const auto& r : o.reads) keys += (keys.empty() ? "" : ", ") + r.key;
    return fmt::format("mget({})", keys);
  }
  if (o.guards.empty()) return fmt::format("txn({})", describe(o.writes));
  return fmt::format("txn(if {} then {})", describe(o.guards), describe(o.writes));
}

// " -> ok", " -> failed, saw "c"", " -> a="1" b=absent"
inline std::string describe_txn_answer(const operation& o) {
  if (o.guards.empty() && o.writes.empty()) return " -> " + describe(o.reads);
  if (o.succeeded) return " -> ok";
  if (o.reads.empty()) return " -> failed";
  if (o.is_cas() && o.reads.size() == 1 && o.reads[0].key == o.key) return " -> failed, saw " + describe(o.reads[0].value);
  return " -> failed, saw " + describe(o.reads);
}

}  // namespace history_detail

// "set(k1, "v") -> ok", "get(k1) -> "v"", "del(k1) -> not found", "cas(k1, "v" -> "w") -> ok",
// with a trailing "[unknown: <note>]" or "[failed: <note>]".
inline std::string describe(const operation& o) {
  std::string call;
  switch (o.kind) {
    case op_kind::set:
      call = fmt::format("set({}, \"{}\")", o.key, o.value);
      break;
    case op_kind::get:
      call = fmt::format("get({})", o.key);
      break;
    case op_kind::del:
      call = fmt::format("del({})", o.key);
      break;
    case op_kind::txn:
      call = history_detail::describe_txn_call(o);
      break;
  }
  switch (o.outcome) {
    case op_outcome::ok:
      if (o.kind == op_kind::txn) return call + history_detail::describe_txn_answer(o);
      if (o.kind == op_kind::get) return call + (o.found ? fmt::format(" -> \"{}\"", o.value) : " -> not found");
      if (o.kind == op_kind::del) return call + (o.found ? " -> deleted" : " -> not found");
      return call + " -> ok";
    case op_outcome::failed:
      return call + " [failed: " + o.note + "]";
    case op_outcome::unknown:
      return call + " [unknown: " + o.note + "]";
  }
  return call;
}

// Records operations as they are invoked and completed. Ids index the history.
class history_recorder {
 public:
  std::size_t invoke(int client, op_kind kind, std::string key, std::string value = {}) {
    operation o;
    o.kind = kind;
    o.key = std::move(key);
    o.value = std::move(value);
    o.client = client;
    o.invoked = history_clock::now();
    ops_.push_back(std::move(o));
    return ops_.size() - 1;
  }

  // Completes a set or del with the client's answer.
  template <typename T>
  void complete_write(std::size_t id, const result<T>& r) {
    auto& o = ops_[id];
    auto now = history_clock::now();
    o.outcome = outcome_of(r.error());
    o.note = r.ok() ? std::string() : r.message();
    o.found = o.kind == op_kind::del && r.ok();
    if (o.outcome != op_outcome::unknown) o.completed = now;
  }

  // Completes a get with the client's answer.
  void complete_get(std::size_t id, const result<std::string>& r) {
    auto& o = ops_[id];
    auto now = history_clock::now();
    o.outcome = outcome_of(r.error());
    o.note = r.ok() ? std::string() : r.message();
    o.found = r.ok();
    if (r.ok()) o.value = *r;
    if (o.outcome != op_outcome::unknown) o.completed = now;
  }

  // A transaction: `guards` and `writes` as in operation; `read_keys` the keys its range ops
  // read, in order (in the branch that reads: a read-only transaction's, or the else branch).
  std::size_t invoke_txn(int client, std::vector<key_state> guards, std::vector<key_state> writes,
                         std::vector<std::string> read_keys = {}) {
    operation o;
    o.kind = op_kind::txn;
    o.guards = std::move(guards);
    o.writes = std::move(writes);
    for (auto& k : read_keys) o.reads.push_back({std::move(k), std::nullopt});
    auto keys = o.keys();
    if (!keys.empty()) o.key = keys.front();
    o.client = client;
    o.invoked = history_clock::now();
    ops_.push_back(std::move(o));
    return ops_.size() - 1;
  }

  // Completes a transaction with the client's answer: its branch, and the range results of that
  // branch as the reads (none: the branch did not read). Throws std::runtime_error if the
  // answer's ranges do not match the keys given to invoke_txn.
  void complete_txn(std::size_t id, const result<txn_reply>& r) {
    auto& o = ops_[id];
    auto now = history_clock::now();
    o.outcome = outcome_of(r.error());
    o.note = r.ok() ? std::string() : r.message();
    if (o.outcome != op_outcome::unknown) o.completed = now;
    if (!r.ok()) return;
    auto keys = std::move(o.reads);
    o.reads.clear();
    o.succeeded = r->succeeded;
    std::size_t n = 0;
    for (const auto& result : r->results) {
      if (result.type != txn_op_type::range) continue;
      if (n == keys.size() || result.kvs.size() > 1 || (result.kvs.size() == 1 && result.kvs[0].key != keys[n].key)) {
        throw std::runtime_error(fmt::format("the answer to {} does not match the keys it reads", describe(o)));
      }
      if (o.succeeded && !o.writes.empty()) {
        throw std::runtime_error(fmt::format("{} reads after its writes, which is not modelled", describe(o)));
      }
      std::optional<std::string> value;
      if (!result.kvs.empty()) value = result.kvs[0].value;
      o.reads.push_back({keys[n].key, std::move(value)});
      ++n;
    }
    if (n != 0 && n != keys.size()) {
      throw std::runtime_error(fmt::format("the answer to {} reads {} of its {} keys", describe(o), n, keys.size()));
    }
  }

  const history& ops() const { return ops_; }
  history take() { return std::move(ops_); }

 private:
  history ops_;
};

}  // namespace kv::test
