#pragma once
// The workload of watch_fault_test.cpp: writers that send a seeded mix of writes to keys under and
// around the watched prefix "w/", recording each write and its answer, and watchers that keep
// every batch their stream yields, checked against watch_stream's contract as it arrives.
//
// Threading: a writer's coroutine and a watcher's client and stream run on the workload's one
// executor; the records are read once the coroutines have ended.

#include "io/client/client.hpp"
#include "io/client/watch_stream.hpp"

#include <asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace kv::test {

using key_values = std::vector<std::pair<std::string, std::string>>;

enum class write_kind : std::uint8_t { set, del, bulk_set, txn, delete_range };
enum class write_outcome : std::uint8_t {
  acknowledged,
  not_found,  // a del of a key that did not exist: nothing changed
  unknown,    // unavailable or timed out: it may or may not have been applied
  refused,    // any other error: the test built a bad request, or the node misbehaved
};

const char* to_string(write_kind k);

// One write a writer sent, and what the cluster answered. Every put carries a value of its own
// ("c<writer>-<seq>-<n>"), so the history shows which write made each version.
struct write_attempt {
  int writer = 0;
  std::uint64_t seq = 0;  // the writer's writes in order, from 1
  write_kind kind = write_kind::set;
  key_values puts;         // set, bulk_set: its pairs; txn: the then branch's puts
  key_values else_puts;    // txn: the else branch's puts
  std::string delete_key;  // del: the key; delete_range and a txn's then branch: the range's start
  std::string delete_end;  // the range's end (empty for del)
  kv::txn t;               // txn: the request
  write_outcome outcome = write_outcome::unknown;
  std::string error;           // why, unless acknowledged
  std::uint64_t revision = 0;  // acknowledged: the answer's revision
  // The answer's revision is the write's own (a txn's reply, recorded with its outcome), not
  // the node's revision when it answered a resent write as a duplicate (set, del, bulk_set).
  bool exact_revision = false;
  bool then_ran = true;       // txn: the compares held
  std::uint64_t deleted = 0;  // delete_range and txn: the keys deleted, as answered

  const key_values& applied_puts() const { return kind == write_kind::txn && !then_ran ? else_puts : puts; }
  // "writer 1 write 17 (txn w/b/0=c1-17-0 else w/hot=c1-17-1 delete [w/a/, w/a0))", for messages.
  std::string text() const;
};

// Writer `writer`'s write number `seq`, drawn from `rng`: a set, del, bulk_set, txn (a compare
// on w/hot, puts in both branches, sometimes a delete of w/a/ beside the then branch's puts) or
// delete_range of a prefix. 85% of the keys are under "w/", the others next to it ("w.x",
// "w0") or farther.
write_attempt plan_write(std::mt19937_64& rng, int writer, std::uint64_t seq);

// Sends `a` through `c`; `a` with the outcome.
asio::awaitable<write_attempt> send(client& c, write_attempt a);

// Sends writer `writer`'s writes (seeded by `seed`) one after the other until `stop`, appending
// each to `out` once answered; raises `highest` to each acknowledged write's revision. The
// referenced objects must outlive the coroutine.
asio::awaitable<void> write_until(client& c, int writer, std::uint64_t seed, const bool& stop,
                                  std::vector<write_attempt>& out, std::uint64_t& highest);

// One watcher: what it watches, through which node first, and every batch it was sent.
struct watcher {
  std::string name;  // for messages: "watcher 4 (node 2: w/ from now)"
  std::uint64_t home = 0;
  watch_spec spec;
  // It must be sent every change of its range after this revision: its start revision - 1, or
  // for a watch from now the revision of the node that took it (watch_stream::created_revision).
  std::uint64_t after = 0;
  bool from_now = false;
  // A watch from now: its stream's revision() right after it was created was past `after`
  // (events came with the node's answer).
  bool queued_at_creation = false;
  std::unique_ptr<client> c;  // lists `home` first
  std::unique_ptr<watch_stream> stream;

  std::vector<protocol::watch_event> events;
  std::vector<long long> received_ms;  // when each event arrived
  std::uint64_t delivered = 0;         // the revision of the last batch taken
  std::uint64_t batches = 0;
  int unavailable = 0;  // next() found no node within leader_wait (and was called again)
  std::string broken;   // the first batch that broke the stream's contract
  std::string failure;  // next() ended with an error other than the final cancel
  bool finished = false;

  // Checks a batch against watch_stream's contract (events in revision order, each after the
  // previous batch's revision, the batch's revision at least its last event's and after the
  // previous batch's) and keeps it; `ms`: when it arrived.
  void take(const watch_batch& b, long long ms);
};

using watchers = std::vector<std::unique_ptr<watcher>>;

// Every key from `start`, with prev_kv.
watch_spec every_key_spec(std::uint64_t start);
// Whether `key` is in the watch's range, as core/model/key_range.hpp defines ranges.
bool in_range(const watch_spec& s, const std::string& key);

// Watcher number `number`, through member `home` first; `what` describes it in messages.
std::unique_ptr<watcher> make_watcher(std::size_t number, std::uint64_t home, std::string what, watch_spec spec);

// The watchers made before the writers start, on each of `members`: replays of w/ and of the one
// key w/hot, and one with filters or every key (member 1: puts of w/; member 2: deletes of w/ with
// the versions they replaced; member 3: every key, with prev_kv).
watchers first_watchers(const std::vector<std::uint64_t>& members);

// The watchers made while the writers write and the nemesis works, on each of `members`: w/
// from now, and w/a/ with prev_kv from the past revision `past`. Numbered from `numbered_from`.
watchers later_watchers(const std::vector<std::uint64_t>& members, std::size_t numbered_from, std::uint64_t past);

}  // namespace kv::test
