#pragma once
// How kvctl prints each command's answer, as etcdctl's printers do: `simple` (the default: lines
// for people and shell scripts) or `json` (-w json: one JSON object a line). A printer formats;
// it does no I/O and decides no exit status: each call returns the text for standard output.
//
// JSON, after etcdctl's: keys and values are base64 (standard, padded), so that any bytes
// survive; an answer carries the revision it reflects as {"header":{"revision":R}} (set and
// bulk-set also the write's log index, {"header":{"revision":R,"index":N}}; compact its log
// index alone, {"header":{"index":N}}); a key's version is
// {"key","create_revision","mod_revision","version","value"}. Unlike etcdctl, "count" and "more"
// are always there, and empty lists are [] rather than left out. A watch prints a line per batch,
// {"header":{"revision":R},"events":[{"type":"PUT"|"DELETE","kv":{...},"prev_kv":{...}}]},
// with "progress_notify":true on a progress notification (no events).

#include "apps/kvctl/notation.hpp"
#include "apps/kvctl/op_args.hpp"
#include "io/client/client.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kv::kvctl {

enum class output_format : std::uint8_t {
  simple,  // -w simple, the default
  json,    // -w json
};

// One node's answer to `status` with several endpoints.
struct endpoint_status {
  std::string endpoint;
  result<node_status> status;
};

// A ttl op's answer (milliseconds) in seconds as Redis's TTL gives it: rounded to the nearest
// second; -1 (no TTL) and -2 (no such key) as they are.
constexpr std::int64_t ttl_seconds(std::int64_t ms) { return ms < 0 ? ms : (ms + 500) / 1000; }

class printer {
 public:
  virtual ~printer() = default;

  // set: the write's revision (and log index).
  virtual std::string written(const write_ack& ack) const = 0;
  virtual std::string bulk_written(const write_ack& ack, std::size_t pairs) const = 0;
  // get: `g` says how (one key or a range, keys or values only...).
  virtual std::string range(const get_args& g, const client::range_reply& r) const = 0;
  virtual std::string deleted(const client::delete_reply& d) const = 0;
  // txn: `t` is the transaction sent (its ops say how to print their results).
  virtual std::string txn(const kv::txn& t, const txn_reply& r) const = 0;
  // cas: a transaction whose then branch is one put and whose else branch reads the key.
  virtual std::string cas(const txn_reply& r) const = 0;
  // incr: a transaction of one incr op.
  virtual std::string incr(const txn_reply& r) const = 0;
  // expire, persist: a transaction of one expire op; 1 if it changed the key, else 0, as Redis's
  // EXPIRE prints (JSON: "changed", as txn's response_expire).
  virtual std::string expired(const txn_reply& r) const = 0;
  // ttl: a transaction of one ttl op; what the key has left in `unit`, -1 for a key without a TTL,
  // -2 for no such key, as Redis's TTL and PTTL (JSON: "ttl" in seconds and "ttl_ms", both always).
  virtual std::string ttl_left(const txn_reply& r, ttl_unit unit) const = 0;
  // mget: one range result (of one key) per key asked.
  virtual std::string mget(const txn_reply& r) const = 0;
  virtual std::string compacted(std::uint64_t revision, std::uint64_t index) const = 0;
  virtual std::string pong(std::string_view endpoint, std::chrono::microseconds took) const = 0;
  virtual std::string status(const node_status& s) const = 0;
  // status with several endpoints: a row per node (simple), or the nodes' fields (json).
  virtual std::string cluster_status(const std::vector<endpoint_status>& nodes) const = 0;
  // search and similar.
  virtual std::string hits(const search::search_answer& a) const = 0;
  // leases: ids in hexadecimal as etcdctl prints them (JSON: decimal "ID", as etcd's).
  virtual std::string lease_granted(const protocol::lease_granted& g) const = 0;
  virtual std::string lease_revoked(std::uint64_t id, const write_ack& ack) const = 0;
  virtual std::string lease_kept_alive(std::uint64_t id, std::int64_t ttl) const = 0;
  virtual std::string lease_time_to_live(std::uint64_t id, const protocol::lease_time_left& t, bool keys) const = 0;
  virtual std::string lease_list(const std::vector<std::uint64_t>& ids) const = 0;
  // watch: one batch of events, or a progress notification (no events; printed by JSON only).
  virtual std::string watched(const watch_batch& b) const = 0;
};

std::unique_ptr<printer> make_simple_printer(byte_notation notation);
std::unique_ptr<printer> make_json_printer();

}  // namespace kv::kvctl
