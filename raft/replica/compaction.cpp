// Automatic compaction (storage_config::compaction, etcd's --auto-compaction-mode): on every
// tick the leader decides whether the keyspace's history is due for a compaction and proposes
// one; every member applies it at the same log entry, so all drop the same history.
//
// - revision: keeps the last retention_revisions revisions readable, compacting in steps of a
//   tenth of that (at least one revision), so that a busy store proposes one compaction per
//   many writes rather than one per write.
// - periodic: every member samples its revision every tenth of retention_period; the leader
//   compacts to the newest sample at least retention_period old. A new leader thus compacts on
//   the samples it took as a follower.

#include "raft/replica/store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace kv {

void store::auto_compact() {
  const auto& o = cfg_.compaction;
  if (o.mode == compaction_mode::off) return;
  const auto revision = sm_.revision();
  std::uint64_t target = 0;
  if (o.mode == compaction_mode::revision) {
    if (revision <= o.retention_revisions) return;
    target = revision - o.retention_revisions;
    const auto step = std::max<std::uint64_t>(1, o.retention_revisions / 10);
    if (target < sm_.compacted_revision() + step) return;
  } else {
    const auto now = std::chrono::steady_clock::now();
    if (revision_samples_.empty() || now - revision_samples_.back().first >= o.retention_period / 10) {
      revision_samples_.emplace_back(now, revision);
    }
    while (revision_samples_.size() >= 2 && now - revision_samples_[1].first >= o.retention_period) {
      revision_samples_.pop_front();
    }
    if (now - revision_samples_.front().first < o.retention_period) return;
    target = revision_samples_.front().second;
    if (target <= sm_.compacted_revision()) return;
  }
  if (role() != raft::role::leader || stopping_ || compaction_in_flight_) return;
  compaction_in_flight_ = true;
  propose(encode_compact(target), [this, target](result<std::uint64_t> r) {
    compaction_in_flight_ = false;
    if (r) {
      spdlog::debug("node {}: compacted the history below revision {}", repl_.id, target);
    } else if (!r.is(errc::not_leader) && !r.is(errc::unavailable)) {
      spdlog::warn("node {}: automatic compaction to revision {} failed: {}", repl_.id, target, r.message());
    }
  });
}

}  // namespace kv
