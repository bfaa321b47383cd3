#pragma once
// read_queue: the linearizable reads of one replica between the call and the answer (ReadIndex,
// thesis §6.4). A read waits for the next round; a round waits for the Raft core's answer under
// its context; a confirmed read waits until the applied index reaches its read index. Each read
// is answered exactly once: with its read index, or with an error.
//
// Bookkeeping only: no I/O and no clock of its own (the caller gives the tick count), so it is
// tested without a store. Threading: used only on the store's executor. A reader may call back
// into the queue (add()); it is removed before it is called.

#include "core/base/callback.hpp"
#include "core/base/error.hpp"
#include "raft/node.hpp"

#include <cstdint>
#include <map>
#include <vector>

namespace kv {

class read_queue {
 public:
  using read_done = callback<void(result<std::uint64_t>)>;

  // A read to start with the next round.
  void add(read_done done) { to_start_.push_back(std::move(done)); }
  // Starts a round at tick `now` for the reads added since the last one. Yields its context
  // (never 0; increasing), to pass to raft::node::read_index, or 0 if no read waits for a round.
  std::uint64_t start_round(std::uint64_t now);
  // The core's answer for a round. Confirmed (r.ok): its reads wait for the applied index to
  // reach r.index. Refused: yields its readers, to be answered with the refusal. A round that
  // has expired (or is unknown) yields nothing.
  std::vector<read_done> answer(const raft::read_state& r);
  // Answers, in read index order, the confirmed reads whose read index is at most `applied`.
  void release(std::uint64_t applied);
  // Answers with `why` the reads of each round started `limit` ticks or more before `now`.
  void expire(std::uint64_t now, std::uint64_t limit, const error_info& why);
  // Answers with `why` the reads waiting for a round or in one; confirmed reads keep waiting.
  void fail_unconfirmed(errc why);

 private:
  struct round {
    std::uint64_t started_tick;
    std::vector<read_done> readers;
  };
  std::vector<read_done> to_start_;
  std::map<std::uint64_t, round> rounds_;  // by context
  std::uint64_t next_context_ = 1;
  std::multimap<std::uint64_t, read_done> waiting_apply_;  // by read index
};

}  // namespace kv
