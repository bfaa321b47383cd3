#pragma once
// Client histories of a real 3-node cluster under faults, checked for linearizability
// (support/linearizability.hpp); shared by linearizability_test.cpp and
// linearizability_partition_test.cpp. Several clients (fault/linearizability_workloads.hpp)
// work on a handful of keys with unique values while a nemesis kills -9 and restarts, pauses
// (SIGSTOP) and resumes the leader or a random node, or crashes every node at once, and with
// network_faults::partitions also cuts the network around them (nftables). Half the clients
// write in exactly-once sessions, which resend a write whose answer was lost: applied twice, its
// value would take effect twice, which the checker flags. The schedule is seeded: KV_LIN_SEED=N
// replays it roughly (process timing is not reproducible); KV_LIN_DURATION_S makes the run
// longer.

#include <cstdint>

namespace kv::test {

// The faults the nemesis may inject besides kills and pauses.
enum class network_faults : std::uint8_t {
  none,
  partitions,  // isolations and one-way cuts (harness/partitions.hpp): needs root and nft
};

// What the clients do (see fault/linearizability_workloads.hpp).
enum class workload_kind : std::uint8_t {
  registers,     // set, get and del
  transactions,  // half the clients compare-and-set keys of their own, half transfer between accounts
};

// Runs the workload on a fresh cluster under the nemesis, then reads every key on every node,
// and checks with Boost.Test assertions that the history is linearizable and made progress.
void check_histories_under_faults(network_faults network, workload_kind workload = workload_kind::registers);

}  // namespace kv::test
