#include "raft/replica/lessor.hpp"

namespace kv {

namespace {
std::chrono::milliseconds full(std::int64_t ttl_seconds) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::seconds(ttl_seconds));
}
}  // namespace

void lessor::promote(const lease_table& table, clock::time_point now) {
  demote();
  primary_ = true;
  for (const auto& [id, l] : table.leases()) {
    entry e;
    e.ttl_seconds = l.ttl_seconds;
    e.deadline = now + (l.remaining_ms > 0 ? std::chrono::milliseconds(l.remaining_ms) : full(l.ttl_seconds));
    set_deadline(id, e);
  }
}

void lessor::demote() {
  primary_ = false;
  deadlines_.clear();
  by_deadline_.clear();
  pending_checkpoints_.clear();
}

void lessor::checkpoints_proposed(const std::vector<lease_remaining>& ids) {
  for (const auto& c : ids) ++pending_checkpoints_[c.id];
}

void lessor::checkpoint_done(std::uint64_t id) {
  auto it = pending_checkpoints_.find(id);
  if (it != pending_checkpoints_.end() && --it->second == 0) pending_checkpoints_.erase(it);
}

void lessor::set_deadline(std::uint64_t id, entry e) {
  if (auto it = deadlines_.find(id); it != deadlines_.end()) {
    if (!it->second.revoking) by_deadline_.erase({it->second.deadline, id});
    it->second = e;
  } else {
    deadlines_.emplace(id, e);
  }
  if (!e.revoking) by_deadline_.emplace(e.deadline, id);
}

void lessor::granted(std::uint64_t id, std::int64_t ttl_seconds, clock::time_point now) {
  if (!primary_) return;
  entry e;
  e.ttl_seconds = ttl_seconds;
  e.deadline = now + full(ttl_seconds);
  set_deadline(id, e);
}

void lessor::revoked(std::uint64_t id) {
  auto it = deadlines_.find(id);
  if (it == deadlines_.end()) return;
  if (!it->second.revoking) by_deadline_.erase({it->second.deadline, id});
  deadlines_.erase(it);
}

lessor::renewal lessor::renew(std::uint64_t id, std::int64_t ttl_seconds, clock::time_point from) {
  auto it = deadlines_.find(id);
  if (!primary_ || it == deadlines_.end()) return renewal::unknown;
  if (it->second.revoking || it->second.deadline <= from) return renewal::expired;
  entry e;
  e.ttl_seconds = ttl_seconds;
  e.deadline = std::max(it->second.deadline, from + full(ttl_seconds));
  set_deadline(id, e);
  return renewal::renewed;
}

std::vector<std::uint64_t> lessor::expired(clock::time_point now, std::size_t max) {
  std::vector<std::uint64_t> out;
  while (!by_deadline_.empty() && out.size() < max && by_deadline_.begin()->first <= now) {
    auto id = by_deadline_.begin()->second;
    by_deadline_.erase(by_deadline_.begin());
    deadlines_.at(id).revoking = true;
    out.push_back(id);
  }
  return out;
}

void lessor::revoke_failed(std::uint64_t id) {
  auto it = deadlines_.find(id);
  if (it == deadlines_.end() || !it->second.revoking) return;
  it->second.revoking = false;
  by_deadline_.emplace(it->second.deadline, id);
}

std::optional<std::chrono::milliseconds> lessor::remaining(std::uint64_t id, clock::time_point now) const {
  auto it = deadlines_.find(id);
  if (!primary_ || it == deadlines_.end()) return std::nullopt;
  if (it->second.deadline <= now) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(it->second.deadline - now);
}

std::vector<lease_remaining> lessor::checkpoints(clock::time_point now, std::chrono::milliseconds min_ttl,
                                                 std::size_t max) const {
  std::vector<lease_remaining> out;
  for (const auto& [id, e] : deadlines_) {
    if (out.size() >= max) break;
    if (e.revoking || full(e.ttl_seconds) <= min_ttl || e.deadline <= now) continue;
    lease_remaining r;
    r.id = id;
    r.remaining_ms = std::chrono::duration_cast<std::chrono::milliseconds>(e.deadline - now).count();
    out.push_back(r);
  }
  return out;
}

}  // namespace kv
