#pragma once
// The leader's half of leases (etcd's lessor): when each lease expires. The lease table itself is
// replicated state (core/state/leases.hpp); deadlines are not: only the leader keeps them, on its
// own steady clock, and it revokes an expired lease through the log, so every member deletes the
// lease's keys at the same revision and apply never reads a clock.
//
// Safety across failovers (etcd's rule): a member that becomes the leader gives every lease a
// full TTL from that moment, or the TTL its last checkpoint recorded as left. A lease therefore
// never expires before its TTL has run out since the last keepalive any leader acknowledged:
//  - a keepalive is acknowledged only after a read barrier confirmed leadership, and renews from
//    the moment the barrier started; a later leader was elected after that moment (a majority
//    acknowledged the old leader's term then), and starts its full TTL later still;
//  - a checkpoint records the TTL left at some moment; a keepalive while a lease has a recorded
//    remainder, or a checkpoint of it on its way through the log, clears the record through the
//    log before it is acknowledged, so a recorded remainder is never shorter than what the last
//    acknowledged keepalive promised.
// Checkpoints keep a lease with a long TTL from living forever when leaders change more often
// than its TTL.
//
// Pure: the caller passes the time. Threading: the store's executor.

#include "core/model/command.hpp"
#include "core/state/leases.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace kv {

class lessor {
 public:
  using clock = std::chrono::steady_clock;

  // This member became the leader at `now`: every lease of `table` expires a full TTL from now,
  // or what its checkpoint left.
  void promote(const lease_table& table, clock::time_point now);
  // It is no longer the leader: it keeps no deadline.
  void demote();
  bool primary() const noexcept { return primary_; }

  // A grant applied while leading: the lease expires a full TTL from `now`.
  void granted(std::uint64_t id, std::int64_t ttl_seconds, clock::time_point now);
  // The lease was revoked (expired or asked for).
  void revoked(std::uint64_t id);

  enum class renewal : std::uint8_t { renewed, unknown, expired };
  // A keepalive confirmed by a read barrier that began at `from`: the lease expires a full TTL
  // from then. `expired` if its deadline passed already (its revoke is due or under way: the
  // keepalive must not be acknowledged); `unknown` if not primary or no such lease.
  renewal renew(std::uint64_t id, std::int64_t ttl_seconds, clock::time_point from);

  // Leases whose deadline is at or before `now` and that were not handed out already, at most
  // `max`, soonest first: the caller proposes their revokes.
  std::vector<std::uint64_t> expired(clock::time_point now, std::size_t max);
  // A revoke handed out by expired() did not commit (leadership lost, a full disk): hand the
  // lease out again.
  void revoke_failed(std::uint64_t id);

  // The time lease `id` has left; nullopt if not primary or no such lease.
  std::optional<std::chrono::milliseconds> remaining(std::uint64_t id, clock::time_point now) const;
  // The time left of every lease whose TTL exceeds `min_ttl`, at most `max` of them, for a
  // checkpoint entry; leases expiring sooner need none.
  std::vector<lease_remaining> checkpoints(clock::time_point now, std::chrono::milliseconds min_ttl,
                                           std::size_t max) const;
  // Checkpoints of `ids` were proposed / one of lease `id` applied (or failed to).
  void checkpoints_proposed(const std::vector<lease_remaining>& ids);
  void checkpoint_done(std::uint64_t id);
  // A checkpoint of lease `id` is on its way through the log.
  bool checkpoint_pending(std::uint64_t id) const { return pending_checkpoints_.contains(id); }
  std::size_t size() const noexcept { return deadlines_.size(); }

 private:
  struct entry {
    clock::time_point deadline;
    std::int64_t ttl_seconds = 0;
    bool revoking = false;  // handed out by expired()
  };
  void set_deadline(std::uint64_t id, entry e);

  bool primary_ = false;
  std::map<std::uint64_t, entry> deadlines_;
  std::set<std::pair<clock::time_point, std::uint64_t>> by_deadline_;  // leases not revoking
  std::map<std::uint64_t, int> pending_checkpoints_;                   // proposed, not yet applied
};

}  // namespace kv
