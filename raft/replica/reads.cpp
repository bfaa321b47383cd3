// Linearizable reads by ReadIndex (thesis §6.4): a reader waits for the next round, the round
// for the Raft core's answer (or its expiry on the tick), and the confirmed reader for the apply
// coroutine to reach the read index.

#include "raft/replica/store.hpp"

#include "raft/replica/await_callback.hpp"

#include <asio/use_awaitable.hpp>

namespace kv {

using replica_detail::await_callback;

bool store::reads_are_local() const noexcept {
  return repl_.voters.size() == 1 && role() == raft::role::leader;
}

void store::read_barrier(read_done done) {
  if (stopping_) return done(errc::unavailable);
  if (reads_are_local()) return done(sm_.applied_index());
  reads_to_start_.push_back(std::move(done));
  raft_wake_.notify();
}

asio::awaitable<result<std::uint64_t>> store::read_barrier() {
  co_return co_await await_callback([&](read_done done) { read_barrier(std::move(done)); });
}

result<std::string> store::get(std::string_view key) const {
  auto v = sm_.get(key);
  if (!v) return errc::not_found;
  return std::string(*v);
}

void store::start_read_round() {
  if (reads_to_start_.empty()) return;
  auto context = next_read_context_++;
  read_rounds_[context] = read_round{ticks_, std::move(reads_to_start_)};
  reads_to_start_.clear();
  node_->read_index(context);
}

void store::handle_reads(std::vector<raft::read_state>& reads) {
  for (const auto& r : reads) {
    auto it = read_rounds_.find(r.context);
    if (it == read_rounds_.end()) continue;  // expired
    auto readers = std::move(it->second.readers);
    read_rounds_.erase(it);
    if (!r.ok) {
      auto why = not_leader_error();
      for (auto& d : readers) d(why);
      continue;
    }
    for (auto& d : readers) reads_waiting_apply_.emplace(r.index, std::move(d));
  }
  release_reads();
}

void store::release_reads() {
  while (!reads_waiting_apply_.empty() && reads_waiting_apply_.begin()->first <= sm_.applied_index()) {
    auto node = reads_waiting_apply_.extract(reads_waiting_apply_.begin());
    node.mapped()(node.key());
  }
}

void store::expire_reads() {
  // A read index request or its answer may be lost; after two election timeouts give up.
  const auto limit = static_cast<std::uint64_t>(2 * repl_.election_ticks);
  for (auto it = read_rounds_.begin(); it != read_rounds_.end();) {
    if (ticks_ - it->second.started_tick < limit) {
      ++it;
      continue;
    }
    for (auto& d : it->second.readers) {
      d(error_info{make_error_code(errc::unavailable),
                   "no leader confirmed a read index within two election timeouts; retry", {}});
    }
    it = read_rounds_.erase(it);
  }
}

void store::fail_reads(errc why) {
  for (auto& d : reads_to_start_) d(why);
  reads_to_start_.clear();
  for (auto& [ctx, round] : read_rounds_)
    for (auto& d : round.readers) d(why);
  read_rounds_.clear();
}

}  // namespace kv
