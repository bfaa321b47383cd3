// Per-key expiry, the leader's side: the cluster clock it stamps TTL writes with, and the expire
// commands that delete due keys, a bounded batch per log entry (core/state/state_machine.hpp
// says why a key never expires early, whatever the failovers).
//
// The clock: a leader that has applied the first entry of its term holds every stamp any earlier
// leader could have committed, so it starts from the largest (sm_.clock()) and advances it by its
// own steady clock. Before that it has no reading, and writes that need one wait for it
// (clock_waiters_).

#include "raft/replica/store.hpp"

#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace kv {

namespace {
using clock = std::chrono::steady_clock;

std::uint64_t millis_since(clock::time_point from, clock::time_point now) {
  return now <= from ? 0 : static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now - from).count());
}
}  // namespace

std::optional<std::uint64_t> store::leader_clock() const noexcept {
  if (clock_term_ == 0 || clock_term_ != term() || role() != raft::role::leader) return std::nullopt;
  // Never 0, which means "no stamp".
  return std::max<std::uint64_t>(clock_base_ + millis_since(clock_base_at_, clock::now()), 1);
}

std::uint64_t store::cluster_time() const noexcept {
  if (auto now = leader_clock()) return *now;
  if (seen_clock_ == 0) return 0;
  return seen_clock_ + millis_since(seen_clock_at_, clock::now());
}

void store::follow_clock() {
  const auto now = clock::now();
  if (sm_.clock() != seen_clock_) {
    seen_clock_ = sm_.clock();
    seen_clock_at_ = now;
  }
  const bool leading = role() == raft::role::leader && !stopping_;
  const bool ready = leading && applied_term_ == term();
  if (!ready) {
    clock_term_ = 0;
    if (!leading) release_clock_waiters();  // they fail as writes to a follower do
    return;
  }
  if (clock_term_ == term()) return;
  clock_term_ = term();
  clock_base_ = sm_.clock();
  clock_base_at_ = now;
  release_clock_waiters();
  next_clock_checkpoint_ = now + repl_.clock_checkpoint_interval;
  if (sm_.keys().expiring_keys() != 0) {
    spdlog::info("node {}: leading with {} key(s) that have a TTL; the cluster clock resumes at {} ms", repl_.id,
                 sm_.keys().expiring_keys(), clock_base_);
  }
  expiry_wake_.notify();
}

void store::release_clock_waiters() {
  if (clock_waiters_.empty()) return;
  auto waiting = std::move(clock_waiters_);
  clock_waiters_.clear();
  for (auto& w : waiting) w();
}

void store::expire_due() {
  if (expiry_in_flight_ || stopping_ || clock::now() < expiry_retry_at_) return;
  auto now = leader_clock();
  if (!now) return;
  const auto& keys = sm_.keys();
  const bool due = keys.next_expiry() != 0 && keys.next_expiry() <= *now;
  const bool checkpoint = keys.expiring_keys() != 0 && clock::now() >= next_clock_checkpoint_;
  if (!due && !checkpoint) return;
  auto batch = due ? keys.due(*now, repl_.expiry_batch) : std::vector<std::string_view>{};
  if (batch.size() == repl_.expiry_batch && clock::now() >= next_expiry_log_) {
    // A backlog: many keys ran out together. Said once in a while, not per batch.
    next_expiry_log_ = clock::now() + std::chrono::seconds(10);
    spdlog::info("node {}: many keys' TTLs ran out together; deleting them {} per log entry ({} keys with a TTL left)",
                 repl_.id, repl_.expiry_batch, keys.expiring_keys());
  }
  next_clock_checkpoint_ = clock::now() + repl_.clock_checkpoint_interval;
  expiry_in_flight_ = true;
  propose(encode_expire(*now, batch), [this](result<std::uint64_t> r) {
    expiry_in_flight_ = false;
    if (!r) {
      expiry_retry_at_ = clock::now() + repl_.tick;
      if (!r.is(errc::unavailable) && !r.is(errc::not_leader)) {
        spdlog::warn("node {}: deleting expired keys failed: {}; retrying in {} ms", repl_.id, r.message(),
                     repl_.tick.count());
      }
    }
    expiry_wake_.notify();  // the next batch, if more are due
  });
}

void store::expiry_applied() {
  follow_clock();
  const auto next = sm_.keys().next_expiry();
  if (expiry_wake_at_ != 0 && next != 0 && next < expiry_wake_at_) expiry_wake_.notify();
}

asio::awaitable<void> store::expiry_loop() {
  while (!stopping_) {
    follow_clock();
    expire_due();
    // Sleep until the next key is due or a checkpoint, at most a tick: an earlier expiry applied
    // meanwhile, a finished batch or a new term wakes the loop sooner.
    const auto start = clock::now();
    auto wake = start + repl_.tick;
    expiry_wake_at_ = 0;
    if (auto now = leader_clock(); now && !expiry_in_flight_ && start >= expiry_retry_at_) {
      const auto next = sm_.keys().next_expiry();
      if (next != 0) wake = std::min(wake, start + std::chrono::milliseconds(next > *now ? next - *now : 0));
      if (sm_.keys().expiring_keys() != 0) wake = std::min(wake, next_clock_checkpoint_);
      expiry_wake_at_ = *now + millis_since(start, wake);
    }
    if (wake > start) co_await expiry_wake_.wait_until(wake);
  }
}

}  // namespace kv
