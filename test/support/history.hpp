#pragma once
// Client histories of a key-value store, recorded for a linearizability check
// (support/linearizability.hpp).
//
// An operation is set(k, v), get(k) or del(k), with the times it was invoked and completed
// (steady_clock, as seen by the client) and an outcome:
//   ok      - it took effect once, between invocation and completion; a get's value (or
//             not-found) and a del's found / not-found are what it observed;
//   failed  - refused and not applied (bad_request, too_large, not_leader): no effect at all;
//   unknown - no answer (timed out, connection lost, errc::unavailable): a write may take
//             effect at any time after its invocation, or never; its completion is +infinity.
//
// Threading: a history_recorder is used from one thread (the test's io_context).

#include "core/base/error.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace kv::test {

using history_clock = std::chrono::steady_clock;

enum class op_kind : std::uint8_t { set, get, del };
enum class op_outcome : std::uint8_t { ok, failed, unknown };

struct operation {
  op_kind kind = op_kind::get;
  std::string key;
  std::string value;   // set: the value written; get (ok, found): the value read
  bool found = false;  // get / del with outcome ok: whether the key existed
  op_outcome outcome = op_outcome::unknown;
  history_clock::time_point invoked{};
  history_clock::time_point completed = history_clock::time_point::max();  // max: not answered
  int client = 0;
  std::string note;  // for people: the error, the node asked

  bool is_write() const { return kind != op_kind::get; }
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

// "set(k1, "v") -> ok", "get(k1) -> "v"", "del(k1) -> not found", with a trailing
// "[unknown: <note>]" or "[failed: <note>]".
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
  }
  switch (o.outcome) {
    case op_outcome::ok:
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

  const history& ops() const { return ops_; }
  history take() { return std::move(ops_); }

 private:
  history ops_;
};

}  // namespace kv::test
