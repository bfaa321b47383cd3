#pragma once
// The requests kvbench sends and how it judges their answers, one shape at a time, on the raw
// protocol (io/protocol/protocol.hpp) and without a socket: a load connection asks a shape for
// each slot's next request and hands it each answer.
//
// Shapes (--op):
// - point:   SET or GET (a fraction `reads` of GETs) of a random key among `keys`.
// - range:   a read-only transaction with one range: the `range_keys` keys under a random one of
//            `prefixes` prefixes (the keyspace holds prefixes x range_keys keys, prefilled). An
//            answer counts only if it holds exactly those keys, all under the prefix asked for.
// - txn_put: a transaction of one put (etcd's `benchmark txn-put`), of a random key among `keys`.
// - cas:     compare-and-set on `hot_keys` keys, as etcd's `benchmark stm --isolation r` does: read
//            a random hot key (a linearizable range: value and mod_revision), then send
//            `if mod_revision(k) == r then put(k, v)`; when the compare fails (another client
//            wrote k in between) read again and retry. One operation is one successful CAS,
//            timed from its first read; each failed compare is counted as a conflict.
// - lease_keepalive: a keepalive of a random one of `leases` leases (ids 1..leases, granted with
//            a long TTL before the load), as etcd's `benchmark lease-keepalive` renews leases.
// Reads (GET, range, the CAS read) carry flag_stale_read when `stale`.
//
// A shape keeps scratch buffers and pre-encoded requests, and belongs to one connection (one
// thread).

#include "core/model/txn.hpp"
#include "io/protocol/protocol.hpp"

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace kv::bench {

enum class load_op : std::uint8_t { point, range, txn_put, cas, lease_keepalive };

struct shape_options {
  load_op op = load_op::point;
  double reads = 0;  // point: the fraction of GETs, 0 to 1
  bool stale = false;
  std::uint64_t keys = 1'000'000;  // point, txn_put
  std::size_t value_size = 100;
  std::uint64_t prefixes = 10'000;  // range
  std::uint32_t range_keys = 100;   // range: keys under each prefix
  std::uint64_t hot_keys = 100;     // cas
  std::uint64_t leases = 100;       // lease_keepalive
};

// The keys each shape works on. Range keys sort by prefix, then by their number.
std::string point_key(std::uint64_t k);
std::string range_prefix(std::uint64_t prefix);
std::string range_key(std::uint64_t prefix, std::uint32_t i);
std::string cas_key(std::uint64_t k);

// One client's operation in progress on a connection's slot.
struct slot {
  enum class step : std::uint8_t { single, cas_read, cas_write };
  std::chrono::steady_clock::time_point started;  // when the operation's first request was made
  step at = step::single;
  bool read = false;           // point: a GET
  std::uint64_t target = 0;    // the key, prefix or hot key
  std::uint64_t revision = 0;  // cas: the mod_revision read
};

enum class answer_outcome : std::uint8_t {
  done,      // the operation finished: count it
  not_found, // point: a GET of a key that does not exist (counted, as before)
  next,      // cas: the read came back; the write follows
  conflict,  // cas: the compare failed; the operation reads again
  failed,    // an error status, or an answer that is not what was asked for
};

struct answer_result {
  answer_outcome outcome = answer_outcome::done;
  std::string kind;     // failed: a status name, or "bad_answer"
  std::string message;  // failed: what was wrong
};

class load_shape {
 public:
  explicit load_shape(shape_options o);

  // Starts a new operation on `s` at `now` and appends its first request, with id `id`.
  void begin(slot& s, std::string& out, std::uint64_t id, std::mt19937_64& rng,
             std::chrono::steady_clock::time_point now);
  // Appends the next request of the operation on `s` (after next or conflict).
  void follow(slot& s, std::string& out, std::uint64_t id);
  // Judges the answer to the request last sent on `s`; updates `s` for follow().
  answer_result on_answer(slot& s, protocol::status st, std::string_view body) const;

  // The shape's name in reports: set, get, mixed, range, txn-put, cas, lease-keepalive ("-stale" appended to
  // stale reads).
  std::string name() const;
  // Whether every request is a read (such load may go to any node).
  bool read_only() const;

 private:
  answer_result check_range(const slot& s, std::string_view body) const;
  answer_result check_cas_read(slot& s, std::string_view body) const;

  shape_options o_;
  std::uint16_t read_flags_ = 0;
  std::string value_;
  std::string key_;  // scratch
  std::string end_;  // scratch
  txn_view one_op_;  // scratch: one range or one put, its views pointing at key_, end_, value_
  std::string body_;  // scratch: an encoded transaction
  // cas: per hot key, its read, and its write with the compared revision at cas_revision_at_.
  std::vector<std::string> cas_reads_;
  std::vector<std::string> cas_writes_;
  std::size_t cas_revision_at_ = 0;
};

}  // namespace kv::bench
