#pragma once
// The checks of watch_fault_test.cpp, on what a run recorded: the cluster's history (a replay of
// every key from revision 1) checked in itself, against the final keyspace and against every
// write the writers sent; and what each watcher should have been sent of it, compared event by
// event with what it was sent. Pure functions: no I/O.

#include "fault/watch_workload.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kv::test {

// The cluster's history, as a replay of every key from revision 1 shows it.
struct history {
  std::vector<protocol::watch_event> events;
  std::map<std::uint64_t, std::pair<std::size_t, std::size_t>> revisions;  // revision -> [first, last) event
  std::map<std::pair<std::string, std::string>, std::size_t> puts;         // (key, value) -> event
};

// What the checks found wrong: the first 20 in full, then a count.
class problems {
 public:
  void add(std::string p);
  bool empty() const { return count_ == 0; }
  std::string text() const;

 private:
  int count_ = 0;
  std::string text_;
};

// "put k=v@12 (created 3, version 4) [was u@9]" or "del k@13 [was v@12]".
std::string describe(const protocol::watch_event& e);

// The history of `events` (a replay's, in order); a revision whose events are not together, or
// a value put twice (each write puts values of its own), is a problem.
history index_history(std::vector<protocol::watch_event> events, problems& found);

// The history replayed from an empty keyspace: every revision from 2 (the first write's) to
// `last` makes changes, each key at most once per revision, each version's create revision and
// version follow from the key's previous state, each delete removes a key that exists, each
// prev_kv is the version replaced; and the result is `final_keys`, the keyspace the cluster
// answered at `last`.
void check_replay(const history& h, std::uint64_t last, const std::vector<kv_version>& final_keys, problems& found);

// Every acknowledged write is in the history, whole, in a revision of its own, after the
// revisions its writer had been answered with before, and at the revision it was answered with
// (or before it, for an answer that may be a duplicate's); and every put and delete in the
// history was sent by a writer.
void check_writes(const history& h, const std::vector<write_attempt>& writes, problems& found);

// What `w` should have been sent of the history: the events of its range its filters let
// through, after `w.after`, up to `last`, with the version replaced only if it asked for it.
std::vector<protocol::watch_event> expected_for(const history& h, const watcher& w, std::uint64_t last);

// Where `w`'s events first differ from `want`, with the events there and when the one sent
// arrived; nothing if they are the same.
std::optional<std::string> first_difference(const std::vector<protocol::watch_event>& want, const watcher& w);

}  // namespace kv::test
