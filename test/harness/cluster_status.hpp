#pragma once
// Asking kvnode nodes about themselves: who leads, and whether every member has caught up. Each
// question goes to one node directly (no redirects, no waiting for a leader), through the
// status operation (docs/protocol.md: role, term, leader_id, leader_address, commit_index,
// applied_index).
//
// Two flavours: on a list of endpoints (await_leader, await_converged: nothing or false when
// the limit passes, for benchmarks that may run against nodes they did not start), and on a
// harness cluster, its running members only (wait_for_leader, wait_converged: they throw with
// what the members said and their logs, for tests).
//
// The coroutines run on the caller's executor. Those taking a cluster keep a reference to it:
// it must outlive them.

#include "harness/cluster.hpp"
#include "io/client/client.hpp"

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace kv::harness {

inline asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

// Options for a client that asks one node directly and gives up quickly.
inline client::options direct_options(std::string endpoint) {
  client::options o;
  o.endpoints.assign(1, std::move(endpoint));
  o.request_timeout = std::chrono::milliseconds(1000);
  o.connect_timeout = std::chrono::milliseconds(500);
  o.leader_wait = std::chrono::milliseconds(0);
  return o;
}

// The status of the node at `endpoint`, asked on a connection of its own.
inline asio::awaitable<result<node_status>> status_of(std::string endpoint) {
  client c(co_await asio::this_coro::executor, direct_options(std::move(endpoint)));
  auto s = co_await c.status();
  c.close();
  co_return s;
}

// The status of one member of a cluster (see status_of).
inline asio::awaitable<result<node_status>> member_status(const cluster_member& m) { return status_of(m.endpoint()); }

// One agreed leader: the node every answering node names as leader.
struct leader_info {
  std::uint64_t id = 0;
  std::string address;  // its client address, as the members' configurations list it
  std::uint64_t term = 0;
};

// Asks every endpoint once; the leader if a majority of them answered and all that answered name
// the same one, otherwise nothing (an election, a node still starting, a leader not heard of yet).
// The endpoints need not include the leader: a follower names its address.
inline asio::awaitable<std::optional<leader_info>> agreed_leader(std::vector<std::string> endpoints) {
  leader_info leader;
  std::set<std::uint64_t> named;
  int answered = 0;
  for (const auto& ep : endpoints) {
    auto s = co_await status_of(ep);
    if (!s) continue;
    ++answered;
    named.insert(s->number("leader_id"));
    bool leads = s->text("role") == "leader";
    if (leads || leader.address.empty()) {
      leader.id = s->number("leader_id");
      leader.address = s->text("leader_address");
      leader.term = s->number("term");
      // A node alone (no [cluster]) leads without a listed address: it is where we asked.
      if (leads && leader.address.empty()) leader.address = ep;
    }
  }
  if (answered * 2 <= static_cast<int>(endpoints.size()) || named.size() != 1 || leader.id == 0 ||
      *named.begin() != leader.id || leader.address.empty()) {
    co_return std::nullopt;
  }
  co_return leader;
}

// Polls until the nodes agree on a leader (every 20 ms); nothing after `limit`.
inline asio::awaitable<std::optional<leader_info>> await_leader(std::vector<std::string> endpoints,
                                                                std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (auto l = co_await agreed_leader(endpoints)) co_return l;
    if (std::chrono::steady_clock::now() > deadline) co_return std::nullopt;
    co_await sleep_for(std::chrono::milliseconds(20));
  }
}

// Polls (every 50 ms) until every endpoint answers with applied_index == commit_index, the same
// on all (no writes in flight, every member caught up). False after `limit`.
inline asio::awaitable<bool> await_converged(std::vector<std::string> endpoints, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    std::set<std::uint64_t> applied;
    bool all = true;
    for (const auto& ep : endpoints) {
      auto s = co_await status_of(ep);
      if (!s || s->number("applied_index") != s->number("commit_index")) {
        all = false;
        break;
      }
      applied.insert(s->number("applied_index"));
    }
    if (all && applied.size() == 1) co_return true;
    if (std::chrono::steady_clock::now() > deadline) co_return false;
    co_await sleep_for(std::chrono::milliseconds(50));
  }
}

// Waits until one of `among` (running ones) says it leads and the other running ones of `among`
// follow it; returns its id. Throws after `limit`, with what each member said last.
inline asio::awaitable<std::uint64_t> wait_for_leader(cluster& cl, std::vector<std::uint64_t> among,
                                                      std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::string last_seen;  // what each member said in the last round, for the failure message
  while (std::chrono::steady_clock::now() < deadline) {
    std::uint64_t leader = 0;
    bool agreed = true;
    last_seen.clear();
    for (auto id : among) {
      auto& m = cl.member(id);
      if (!m.running()) continue;
      auto s = co_await member_status(m);
      if (!s) {
        agreed = false;
        last_seen += fmt::format("node {}: {}\n", id, s.message());
        continue;
      }
      last_seen += fmt::format("node {}: {} in term {}, leader {}\n", id, s->text("role"), s->number("term"),
                               s->number("leader_id"));
      if (s->text("role") == "leader") {
        if (leader != 0) agreed = false;
        leader = id;
      }
      if (s->number("leader_id") == 0) agreed = false;
      if (leader != 0 && s->number("leader_id") != leader) agreed = false;
    }
    if (leader != 0 && agreed) co_return leader;
    co_await sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("no leader agreed on within the limit; last seen:\n" + last_seen + cl.logs());
}

// The same among every member, within 10 s.
inline asio::awaitable<std::uint64_t> wait_for_leader(cluster& cl) {
  co_return co_await wait_for_leader(cl, cl.ids(), std::chrono::seconds(10));
}

// Waits until every running member has applied the same index as it has committed (see
// await_converged); throws after `limit`, with the members' logs.
inline asio::awaitable<void> wait_converged(cluster& cl, std::chrono::milliseconds limit) {
  std::vector<std::string> running;
  for (auto id : cl.ids()) {
    if (cl.member(id).running()) running.push_back(cl.member(id).endpoint());
  }
  if (!co_await await_converged(std::move(running), limit)) {
    throw std::runtime_error(std::string("the cluster did not converge:\n") + cl.logs());
  }
}

}  // namespace kv::harness
