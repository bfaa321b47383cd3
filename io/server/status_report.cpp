#include "io/server/status_report.hpp"

#include "core/base/version.hpp"
#include "index/node/node_index.hpp"
#include "raft/replica/store.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <string>

namespace kv {

std::vector<protocol::status_field> status_report(const store& st, const search::node_index* index,
                                                  const server_facts& server) {
  const auto& addresses = st.replication().client_addresses;
  auto leader_address = addresses.find(st.leader());
  std::vector<protocol::status_field> fields{
      {"node_id", st.replication().id},
      {"role", std::string(raft::to_string(st.role()))},
      {"term", st.term()},
      {"leader_id", st.leader()},
      {"leader_address", leader_address == addresses.end() ? std::string() : leader_address->second},
      {"voters", static_cast<std::uint64_t>(st.replication().voters.size())},
      {"commit_index", st.commit_index()},
      {"applied_index", st.applied_index()},
      {"last_index", st.log().last_index()},
      {"snapshot_index", st.snapshot_index()},
      {"wal_batches", st.log().written().batches},
      {"wal_records", st.log().written().records},
      {"wal_direct_batches", st.log().written().direct_batches},
      {"wal_io_fallbacks", st.log().io_fallbacks()},
      {"revision", st.state().revision()},
      {"compacted_revision", st.state().compacted_revision()},
      {"keys", st.state().key_count()},
      {"data_bytes", st.state().data_bytes()},
      {"uptime_ms", static_cast<std::uint64_t>(server.uptime.count())},
      {"connections", server.connections},
      {"watches", static_cast<std::uint64_t>(st.watches().watchers())},
      {"watch_events", server.watch_events},
      {"leases", static_cast<std::uint64_t>(st.state().leases().size())},
      {"keys_with_ttl", static_cast<std::uint64_t>(st.state().keys().expiring_keys())},
      {"cluster_clock_ms", st.cluster_time()},
      {"version", std::string(kv::version)},
      {"pid", static_cast<std::uint64_t>(::getpid())},
      {"max_key_size", static_cast<std::uint64_t>(st.storage().max_key_bytes)},
      {"max_value_size", static_cast<std::uint64_t>(st.storage().max_value_bytes)},
      {"max_batch_size", static_cast<std::uint64_t>(st.storage().max_batch_bytes)},
      {"max_frame_size", server.max_frame_bytes},
      {"alarm", std::string(st.out_of_space() ? "no_space" : "none")},
  };
  if (!st.space_problem().empty()) fields.push_back({"space_problem", st.space_problem()});
  if (index != nullptr) {
    // How far the index has applied the log, and how far behind the store it is.
    auto p = index->progress();
    fields.push_back({"index_applied", p.applied_index});
    fields.push_back({"index_lag", st.applied_index() - std::min(p.applied_index, st.applied_index())});
    fields.push_back({"index_documents", p.documents});
    fields.push_back({"index_skipped_non_utf8", p.skipped_non_utf8});
    fields.push_back({"index_digest", p.digest});
    fields.push_back({"index_rebuilds", p.rebuilds});
    fields.push_back({"index_loads", p.loads});
    fields.push_back({"index_saves", p.saves});
  }
  // The leader's view of each follower: how far its log matches, and how far behind it is.
  for (auto peer : st.replication().voters) {
    const auto* pr = st.consensus().progress_of(peer);
    if (pr == nullptr) continue;
    fields.push_back({fmt::format("peer_{}_match", peer), pr->match});
    fields.push_back({fmt::format("peer_{}_lag", peer), st.last_index() - std::min(pr->match, st.last_index())});
  }
  return fields;
}

}  // namespace kv
