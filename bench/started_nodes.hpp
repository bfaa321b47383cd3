#pragma once
// The nodes a benchmark starts for itself (--start-node, --start-cluster N): one kvnode or a
// cluster of N on fresh directories and free ports, with `toml` added to each configuration,
// logging to files. They stop when this is destroyed.

#include "harness/cluster.hpp"
#include "harness/node_process.hpp"

#include <memory>
#include <string>
#include <vector>

namespace kv::bench {

struct started_nodes {
  std::unique_ptr<kv::harness::node_process> node;
  std::unique_ptr<kv::harness::cluster> cluster;
};

// Starts one node (`start_node`) or `cluster_size` (> 0) of them and replaces `endpoints` with
// theirs; starts nothing otherwise.
inline started_nodes start_nodes(bool start_node, int cluster_size, const std::string& toml,
                                 std::vector<std::string>& endpoints) {
  started_nodes s;
  if (start_node) {
    kv::harness::node_options no;
    no.extra_toml = toml;
    no.log_keys = "level = \"info\"\n";
    no.log = kv::harness::log_sink::file;
    s.node = std::make_unique<kv::harness::node_process>(no);
    endpoints.assign(1, s.node->endpoint());
  } else if (cluster_size > 0) {
    kv::harness::cluster_options co;
    co.size = cluster_size;
    co.extra_toml = toml;
    co.log_level = "warn";
    co.log = kv::harness::log_sink::file;
    s.cluster = std::make_unique<kv::harness::cluster>(co);
    endpoints = s.cluster->endpoints();
  }
  return s;
}

}  // namespace kv::bench
