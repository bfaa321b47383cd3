#pragma once
// Keeps a lease alive from the client's side (etcd's KeepAlive stream): renews it every third of
// its TTL, sending again after a failure (a lost connection, a failover) until the lease's TTL has
// run out since the last renewal that was acknowledged.
//
//   kv::lease_keeper keeper(c, lease->lease, lease->ttl_seconds);
//   while (auto ttl = co_await keeper.next()) { /* renewed; keeper.guaranteed_until() moved */ }
//   // errc::not_found: the lease is gone (expired or revoked); its keys were deleted
//
// The guarantee it tracks: the node counts a renewal from when it received it, so the lease lives
// at least until the send time of the last acknowledged renewal plus the TTL (guaranteed_until()),
// whatever leader changes happen.
//
// Threading: the client's executor. The client must outlive it.

#include "core/base/error.hpp"
#include "io/client/client.hpp"

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>

namespace kv {

class lease_keeper {
 public:
  using clock = std::chrono::steady_clock;

  // `ttl_seconds` as the grant answered; the lease counts as renewed now (call right after the
  // grant, or after a renewal of one's own).
  lease_keeper(client& c, std::uint64_t lease, std::int64_t ttl_seconds);

  // Waits until a third of the TTL has passed since the last renewal, then renews; the TTL the
  // node answered. errc::not_found once the lease is gone; after a failure that leaves its fate
  // unknown (no node answered) it sends again, and fails only once guaranteed_until() has passed
  // (the lease may be gone), with the last error. operation_canceled after stop().
  asio::awaitable<result<std::int64_t>> next();
  // Ends next() at once, with operation_canceled.
  void stop();

  std::uint64_t lease() const noexcept { return lease_; }
  // The lease lives at least until then.
  clock::time_point guaranteed_until() const noexcept { return guaranteed_until_; }

 private:
  client& client_;
  std::uint64_t lease_;
  std::chrono::milliseconds ttl_;
  clock::time_point guaranteed_until_;
  clock::time_point next_at_;
  asio::steady_timer timer_;
  bool stopped_ = false;
};

}  // namespace kv
