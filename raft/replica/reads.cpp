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
  reads_.add(std::move(done));
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
  if (auto context = reads_.start_round(ticks_); context != 0) node_->read_index(context);
}

void store::handle_reads(std::vector<raft::read_state>& reads) {
  for (const auto& r : reads) {
    auto refused = reads_.answer(r);
    if (refused.empty()) continue;
    auto why = not_leader_error();
    for (auto& d : refused) d(why);
  }
  release_reads();
}

void store::release_reads() { reads_.release(sm_.applied_index()); }

void store::expire_reads() {
  // A read index request or its answer may be lost; after two election timeouts give up.
  const auto limit = static_cast<std::uint64_t>(2 * repl_.election_ticks);
  reads_.expire(ticks_, limit,
                error_info{make_error_code(errc::unavailable),
                           "no leader confirmed a read index within two election timeouts; retry", {}});
}

}  // namespace kv
