#pragma once
// Asking a cluster's members about themselves, for benchmarks: who leads, and whether every
// member has caught up. Each question goes to one node directly (no redirects), through the
// status operation (docs/protocol.md: role, leader_id, leader_address, commit_index,
// applied_index).
//
// The coroutines run on the caller's executor and own their arguments (taken by value).

#include "io/client/client.hpp"

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kv::bench {

inline asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

// The status of the node at `endpoint`, asked on a connection of its own.
inline asio::awaitable<result<node_status>> status_of(std::string endpoint) {
  client::options o;
  o.endpoints.assign(1, std::move(endpoint));
  o.connect_timeout = std::chrono::milliseconds(500);
  o.request_timeout = std::chrono::milliseconds(2000);
  client c(co_await asio::this_coro::executor, o);
  auto s = co_await c.status();
  c.close();
  co_return s;
}

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

// Polls until the nodes agree on a leader; nothing after `limit`.
inline asio::awaitable<std::optional<leader_info>> await_leader(std::vector<std::string> endpoints,
                                                                std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (auto l = co_await agreed_leader(endpoints)) co_return l;
    if (std::chrono::steady_clock::now() > deadline) co_return std::nullopt;
    co_await sleep_for(std::chrono::milliseconds(20));
  }
}

// Polls until every endpoint answers with applied_index == commit_index, the same on all (no
// writes in flight, every member caught up). False after `limit`.
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

}  // namespace kv::bench
