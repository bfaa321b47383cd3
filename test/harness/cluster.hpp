#pragma once
// A cluster of kvnode processes on loopback: member ids run 1..size, each member has its own
// directory, client port and peer port, and every member's [cluster] lists all of them. The
// constructor writes the configurations and starts the members one after the other, waiting
// for each to listen; members can then be killed, paused, resumed and started again on their
// data (see kvnode_process).
//
// Addresses: with member_addresses::distinct each member is on a loopback address of its own
// (127.x.y.zN for member N, unique to this process and cluster), for its client port, its peer
// port and the connections it opens to its peers (kvnode binds those to its peer address), so
// that firewall rules can tell members apart (harness/partitions.hpp). Clients connect from
// 127.0.0.1.
//
// Ownership: one thread drives a cluster (see kvnode_process).

#include "harness/kvnode_process.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace kv::harness {

// Where the members of a cluster listen.
enum class member_addresses : std::uint8_t {
  shared,    // all on 127.0.0.1 (the default)
  distinct,  // each member on an address of its own, so that firewall rules can tell them apart
};

struct cluster_options {
  int size = 3;
  // Appended to every member's configuration after its [cluster] keys: sections of their own
  // ("[storage]\nsnapshot-entries = 500\n").
  std::string extra_toml;
  // More keys of the [cluster] section ("election-timeout = \"300ms\"\n").
  std::string cluster_keys;
  member_addresses addresses = member_addresses::shared;
  std::string log_level = "debug";
  log_sink log = log_sink::standard_error;
};

class cluster_member : public kvnode_process {
 public:
  cluster_member(std::uint64_t id, std::string host, log_sink sink) : kvnode_process(std::move(host), sink), id_(id) {}

  std::uint64_t id() const { return id_; }
  unsigned short peer_port() const { return peer_port_; }
  std::string peer_endpoint() const { return fmt::format("{}:{}", host(), peer_port_); }

 private:
  std::uint64_t id_;
  unsigned short peer_port_ = free_port();
};

class cluster {
 public:
  explicit cluster(const cluster_options& o) {
    if (o.addresses == member_addresses::distinct && o.size > 9) {
      throw std::invalid_argument("member_addresses::distinct supports at most 9 members");
    }
    const auto base = o.addresses == member_addresses::distinct ? next_loopback_base() : std::string();
    for (int i = 1; i <= o.size; ++i) {
      auto host = base.empty() ? std::string("127.0.0.1") : fmt::format("{}{}", base, i);
      members_.push_back(std::make_unique<cluster_member>(static_cast<std::uint64_t>(i), host, o.log));
    }
    std::string list;
    for (const auto& m : members_) {
      list += fmt::format("  {{ id = {}, peer = \"{}\", client = \"{}\" }},\n", m->id(), m->peer_endpoint(),
                          m->endpoint());
    }
    for (const auto& m : members_) {
      std::ofstream(m->config_path()) << fmt::format(
          "[node]\nid = {}\ndata-dir = \"{}\"\n[server]\nlisten = \"{}\"\n[cluster]\nmembers = [\n{}]\n{}\n{}\n"
          "{}[log]\nlevel = \"{}\"\n{}",
          m->id(), m->data_dir().string(), m->endpoint(), list, o.cluster_keys, o.extra_toml, m->resp_toml(),
          o.log_level, m->log_destination_toml());
    }
    for (auto& m : members_) m->start();
  }
  // The tests' shorthand: cluster_options' fields in order, the log on standard error.
  explicit cluster(int size = 3, std::string extra_toml = {}, std::string cluster_keys = {},
                   member_addresses addresses = member_addresses::shared)
      : cluster(options(size, std::move(extra_toml), std::move(cluster_keys), addresses)) {}

  cluster_member& member(std::uint64_t id) { return *members_.at(id - 1); }
  const cluster_member& member(std::uint64_t id) const { return *members_.at(id - 1); }
  std::size_t size() const { return members_.size(); }
  // The client addresses of every member, in id order.
  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (const auto& m : members_) out.push_back(m->endpoint());
    return out;
  }
  // The client addresses of every member, member `first`'s first (a client that prefers it).
  std::vector<std::string> endpoints_from(std::uint64_t first) const {
    std::vector<std::string> out{member(first).endpoint()};
    for (const auto& m : members_) {
      if (m->id() != first) out.push_back(m->endpoint());
    }
    return out;
  }
  // The ids of every member, 1 .. size().
  std::vector<std::uint64_t> ids() const {
    std::vector<std::uint64_t> out;
    for (const auto& m : members_) out.push_back(m->id());
    return out;
  }
  // Every member's log, for failure messages.
  std::string logs() const {
    std::string out;
    for (const auto& m : members_) out += fmt::format("---- node {} ----\n{}\n", m->id(), m->log());
    return out;
  }

 private:
  static cluster_options options(int size, std::string extra_toml, std::string cluster_keys,
                                 member_addresses addresses) {
    cluster_options o;
    o.size = size;
    o.extra_toml = std::move(extra_toml);
    o.cluster_keys = std::move(cluster_keys);
    o.addresses = addresses;
    return o;
  }

  // For a new cluster with distinct addresses, "127.x.y.z" without its last digit: member N
  // is 127.x.y.zN. x.y come from this process's id, z from a count of the clusters it made, so
  // that concurrent processes (and clusters) share neither addresses nor firewall rules. At
  // most 9 members.
  static std::string next_loopback_base() {
    static std::atomic<unsigned> made{0};
    const auto slot = static_cast<unsigned>(::getpid()) % 32000;
    return fmt::format("127.{}.{}.{}", 1 + slot / 256, slot % 256, made++ % 24 + 1);
  }

  std::vector<std::unique_ptr<cluster_member>> members_;
};

}  // namespace kv::harness
