// The leader's side of leases: grants and revokes through the log, keepalives confirmed by a
// read barrier, expiry and checkpoints on every tick (see raft/replica/lessor.hpp for why this
// is safe across failovers).

#include "raft/replica/store.hpp"

#include "core/base/bytes.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace kv {

namespace {
using clock = std::chrono::steady_clock;

error_info lease_not_found(std::uint64_t id) {
  return error_info{make_error_code(errc::not_found),
                    fmt::format("lease {} not found (it expired, was revoked, or never existed)", id), {}};
}
}  // namespace

void store::submit_lease_grant(std::int64_t ttl_seconds, std::uint64_t id, write_done done,
                               const session_ref& session) {
  if (ttl_seconds < lease_table::min_ttl_seconds || ttl_seconds > lease_table::max_ttl_seconds) {
    return done(error_info{make_error_code(errc::bad_request),
                           fmt::format("a lease's TTL is {} to {} seconds, not {}", lease_table::min_ttl_seconds,
                                       lease_table::max_ttl_seconds, ttl_seconds),
                           {}});
  }
  propose(encode_lease_grant(id, ttl_seconds), std::move(done), session);
}

void store::submit_lease_revoke(std::uint64_t id, write_done done, const session_ref& session) {
  if (id == 0) return done(error_info{make_error_code(errc::bad_request), "lease 0 is no lease", {}});
  propose(encode_lease_revoke(id), std::move(done), session);
}

void store::renew_lease(std::uint64_t id, renew_done done) {
  if (role() != raft::role::leader) return done(not_leader_error());
  const auto from = clock::now();
  read_barrier([this, id, from, done = std::move(done)](result<std::uint64_t> r) mutable {
    if (!r) return done(r.failure());
    finish_renewal(id, from, std::move(done));
  });
}

void store::finish_renewal(std::uint64_t id, clock::time_point from, renew_done done) {
  if (!lessor_.primary()) return done(not_leader_error());
  const auto* lease = sm_.leases().find(id);
  if (lease == nullptr) return done(lease_not_found(id));
  const auto ttl = lease->ttl_seconds;
  if (lessor_.renew(id, ttl, from) != lessor::renewal::renewed) return done(lease_not_found(id));
  if (lease->remaining_ms == 0 && !lessor_.checkpoint_pending(id)) return done(ttl);
  // A recorded remainder would outlive this renewal's promise at the next leader: clear it
  // through the log before answering.
  lease_remaining clear;
  clear.id = id;
  propose(encode_lease_checkpoint(std::span(&clear, 1)),
          [ttl, done = std::move(done)](result<std::uint64_t> r) mutable {
            if (!r) return done(r.failure());
            done(ttl);
          });
}

result<store::lease_status> store::lease_time_to_live(std::uint64_t id) const {
  if (role() != raft::role::leader) return not_leader_error();
  const auto* lease = sm_.leases().find(id);
  auto left = lessor_.remaining(id, clock::now());
  if (lease == nullptr || !left) return lease_not_found(id);
  lease_status s;
  s.ttl_seconds = lease->ttl_seconds;
  s.remaining_ms = left->count();
  s.keys.assign(lease->keys.begin(), lease->keys.end());
  return s;
}

void store::lease_applied(const command_view& cmd, errc code) {
  if (code != errc::ok) return;
  switch (cmd.type) {
    case command_type::lease_grant:
      lessor_.granted(get_fixed<std::uint64_t>(reply_.data()), cmd.ttl, clock::now());
      return;
    case command_type::lease_revoke:
      lessor_.revoked(cmd.lease);
      return;
    case command_type::lease_checkpoint:
      cmd.for_each_checkpoint([this](std::uint64_t id, std::int64_t remaining) {
        if (remaining > 0) lessor_.checkpoint_done(id);  // a clear (0) was never counted
      });
      return;
    default:
      return;
  }
}

void store::follow_leadership_for_leases() {
  const bool leading = role() == raft::role::leader && !stopping_;
  if (leading != lessor_.primary()) {
    if (leading) {
      lessor_.promote(sm_.leases(), clock::now());
      next_lease_checkpoint_ = clock::now() + repl_.lease_checkpoint_interval;
      if (lessor_.size() != 0) {
        spdlog::info("node {}: leading {} lease(s): each expires a full TTL from now, or what its checkpoint left",
                     repl_.id, lessor_.size());
      }
    } else {
      lessor_.demote();
    }
  }
}

void store::tick_leases() {
  follow_leadership_for_leases();
  if (!lessor_.primary()) return;
  const auto now = clock::now();
  for (auto id : lessor_.expired(now, repl_.lease_revokes_per_tick)) {
    propose(encode_lease_revoke(id), [this, id](result<std::uint64_t> r) {
      if (!r && !r.is(errc::not_found)) lessor_.revoke_failed(id);
    });
  }
  if (now >= next_lease_checkpoint_) {
    next_lease_checkpoint_ = now + repl_.lease_checkpoint_interval;
    constexpr std::size_t per_entry = 1000;
    auto cps = lessor_.checkpoints(now, repl_.lease_checkpoint_interval, per_entry);
    if (!cps.empty()) {
      lessor_.checkpoints_proposed(cps);
      propose(encode_lease_checkpoint(cps), [](result<std::uint64_t>) {});
    }
  }
}

}  // namespace kv
