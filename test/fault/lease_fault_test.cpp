// Leases on a real 3-node cluster under faults (docs/protocol.md, "Leases"). Several leases of 2
// to 4 s, each with keys attached, are kept alive by keepers (a keepalive every TTL/4, each
// acknowledged one recorded with the time it was sent); some keepers stop at a random moment so
// that their leases expire during the faults, one lease is revoked, the others are kept alive to
// the end. A watcher on every node and a poller (linearizable gets) note when each lease's keys
// disappear, while a nemesis kills -9 and restarts the leader or any node and pauses (SIGSTOP)
// the leader or a follower. A second case (lease_partition_fault_tests, needing root and nft)
// also cuts the leader or a follower off from the others, both ways: an isolated leader must
// neither acknowledge a keepalive nor expire a lease, and the majority's new leader must give
// every lease a full TTL before expiring it, though the old one still runs.
//
// The guarantee checked: no key is deleted before its lease's TTL has run out since the last
// acknowledged keepalive was sent (or the grant, before any). Every time is this process's
// steady clock. A watcher's or poller's receive time is an upper bound of when the delete
// happened, so the check is sound (no false alarm) but sees an early delete only if it happened
// at least the observation's latency early. Then, faults over: kept leases hold all their keys
// and the leader knows them; expired and revoked ones are gone from every node's keyspace and
// lease list, each lease's keys were deleted at one revision, the same on every node (a replay
// from revision 1 on each node alone), and expiry came within a generous bound of the deadline.
//
// KV_LEASE_FAULT_SEED=N picks the schedules (process timing is not reproducible: a seed replays
// a run only roughly); KV_LEASE_FAULT_DURATION_S sets how long the faults last (14 s).

#include "core/model/key_range.hpp"
#include "fault/nemesis.hpp"
#include "fault/run_support.hpp"
#include "harness/cluster.hpp"
#include "harness/cluster_status.hpp"
#include "harness/partitions.hpp"
#include "io/client/watch_stream.hpp"
#include "support/async.hpp"
#include "support/client_util.hpp"
#include "support/seeds.hpp"
#include "support/skip.hpp"

#include <asio/co_spawn.hpp>
#include <boost/test/unit_test.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

// Short, so that keepers and pollers move off a paused node well within a TTL.
constexpr auto request_timeout = 500ms;
// Longer than any fault lasts.
constexpr auto leader_wait = 10s;
const std::string prefix = "lease/";
// An expired lease's keys must be gone this long after its deadline at the latest, given a
// leader: an election, the revoke's commit and the watchers' catching up fit many times over.
constexpr auto expiry_bound = 10s;

long long ms(steady::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

enum class network_faults : std::uint8_t { none, partitions };

// One fault at a time. Without `net`: the leader or any node killed -9 and started again, the
// leader or a follower paused (SIGSTOP) for up to longer than the shortest TTL; failovers (the
// leader killed or paused) twice as often as the others. With `net`, mostly isolations for as
// long (the leader three times as often as a follower), some kills and pauses among them.
nemesis_options lease_nemesis(partitions* net) {
  nemesis_options o;
  if (net) {
    o.draws = {fault_kind::isolate_leader, fault_kind::isolate_leader, fault_kind::isolate_leader,
               fault_kind::isolate_follower, fault_kind::kill_leader, fault_kind::pause_follower};
  } else {
    o.draws = {fault_kind::kill_leader, fault_kind::kill_leader, fault_kind::pause_leader, fault_kind::pause_leader,
               fault_kind::kill_any,    fault_kind::pause_follower};
  }
  o.paused_for = ms_range{1000, 3000};
  o.isolated_for = ms_range{1000, 3000};
  o.net = net;
  return o;
}

// ---- leases, keepers, watchers and pollers --------------------------------------------------

// What becomes of a lease: kept alive to the end, left to expire once its keeper stops, or
// revoked by its keeper.
enum class fate : std::uint8_t { kept, abandoned, revoked };

const char* name_of(fate f) {
  switch (f) {
    case fate::kept: return "kept";
    case fate::abandoned: return "abandoned";
    case fate::revoked: return "revoked";
  }
  return "?";
}

// One lease and everything observed about it. Touched only on the test's io_context thread.
struct lease_record {
  int index = 0;
  fate end = fate::kept;
  std::int64_t ttl_seconds = 0;
  std::chrono::milliseconds stop_after{0};  // abandoned, revoked: when the keeper stops / revokes
  std::uint64_t id = 0;
  std::vector<std::string> keys;

  // The send time of the last acknowledged keepalive (the grant's, before any), and the longest
  // time between two acknowledged sends (to the keeper's last attempt): a kept lease may expire
  // only if that reached the TTL.
  steady::time_point last_acked_send;
  steady::duration longest_gap{0};
  int acked = 0;
  std::map<std::string, int> failed;  // keepalives that failed otherwise, by message
  std::optional<steady::time_point> lost_at;  // a keepalive sent then was answered not_found
  std::optional<steady::time_point> revoke_sent;
  std::uint64_t revoke_revision = 0;
  bool keeper_done = false;

  // When its keys were first seen gone: by any watcher, by the poller.
  std::optional<steady::time_point> watched_gone;
  std::optional<steady::time_point> polled_gone;

  steady::duration ttl() const { return std::chrono::seconds(ttl_seconds); }
  // No key may be gone before this.
  steady::time_point earliest_delete() const { return last_acked_send + ttl(); }
  std::string name() const { return fmt::format("lease {} ({} s, {})", index, ttl_seconds, name_of(end)); }
};

using leases = std::vector<std::unique_ptr<lease_record>>;

// The plan: TTLs, fates and the keepers' stop times, from the seed.
leases plan(std::uint64_t seed, std::chrono::seconds duration) {
  std::mt19937_64 rng(seed);
  const auto at = [&](double lo, double hi) {
    const auto total = static_cast<double>(std::chrono::milliseconds(duration).count());
    return std::chrono::milliseconds(
        static_cast<long long>(std::uniform_real_distribution<double>(lo * total, hi * total)(rng)));
  };
  const std::vector<std::pair<std::int64_t, fate>> shapes{{3, fate::kept},      {4, fate::kept},
                                                         {2, fate::abandoned}, {3, fate::abandoned},
                                                         {2, fate::abandoned}, {4, fate::revoked}};
  leases out;
  for (const auto& [ttl, f] : shapes) {
    auto l = std::make_unique<lease_record>();
    l->index = static_cast<int>(out.size());
    l->ttl_seconds = ttl;
    l->end = f;
    if (f != fate::kept) l->stop_after = at(0.1, 0.8);
    for (int k = 0; k < 3; ++k) l->keys.push_back(fmt::format("{}{}/{}", prefix, l->index, k));
    out.push_back(std::move(l));
  }
  return out;
}

client::options options_for(std::vector<std::string> endpoints) {
  return fault_client_options(std::move(endpoints), request_timeout, leader_wait);
}


// The lease a key of ours belongs to ("lease/<index>/<k>").
int lease_of(const std::string& key) { return std::stoi(key.substr(prefix.size())); }

txn attach(const lease_record& l) {
  txn t;
  for (const auto& k : l.keys) t.then_ops.push_back(make_put(k, "v", false, l.id));
  return t;
}

// Grants `l` and attaches its keys (before any fault).
asio::awaitable<void> grant(client& c, lease_record* l) {
  l->last_acked_send = steady::now();
  auto g = co_await c.grant_lease(l->ttl_seconds);
  BOOST_REQUIRE_MESSAGE(g.ok(), g.message());
  l->id = g->lease;
  auto t = co_await c.txn(attach(*l));
  BOOST_REQUIRE_MESSAGE(t.ok(), l->name() << ": attaching its keys: " << t.message());
}

// Keeps `l` alive every TTL/4 until `stop` (kept leases) or its stop time (the others: a revoked
// lease is revoked then). A keepalive that times out or finds no leader counts for nothing; one
// answered not_found means the lease is gone, and the keeper stops.
asio::awaitable<void> keep(client& c, lease_record* l, steady::time_point t0, const bool& stop, fault_log& log) {
  const auto every = std::chrono::duration_cast<steady::duration>(l->ttl()) / 4;
  while (!stop && (l->end == fate::kept || steady::now() < t0 + l->stop_after)) {
    co_await sleep_for(every);
    const auto sent = steady::now();
    auto k = co_await c.keep_alive(l->id);
    l->longest_gap = std::max(l->longest_gap, sent - l->last_acked_send);
    if (k.ok()) {
      l->last_acked_send = sent;
      ++l->acked;
    } else if (k.is(errc::not_found)) {
      l->lost_at = sent;
      log.add(fmt::format("{}: a keepalive found it gone", l->name()));
      break;
    } else {
      ++l->failed[k.message()];
    }
  }
  if (l->end == fate::revoked && !l->lost_at) {
    l->revoke_sent = steady::now();
    log.add(fmt::format("{}: revoke", l->name()));
    for (;;) {
      auto r = co_await c.revoke_lease(l->id);
      if (r.ok()) l->revoke_revision = r->revision;
      if (r.ok() || r.is(errc::not_found)) break;  // not_found: a resent revoke that took effect
    }
  } else if (l->end == fate::abandoned) {
    log.add(fmt::format("{}: left to expire", l->name()));
  }
  l->keeper_done = true;
}

// Gets each lease's first key linearizably every 50 ms until `stop`, noting when it is first
// found gone (the answer's receive time).
asio::awaitable<void> poll(client& c, lease_record* l, const bool& stop) {
  while (!stop && !l->polled_gone) {
    auto v = co_await c.get(l->keys.front());
    if (v.is(errc::not_found)) l->polled_gone = steady::now();
    co_await sleep_for(50ms);
  }
}

// The delete events one stream delivered: key -> revision.
using deletes = std::map<std::string, std::uint64_t>;

// Follows `w` until it is cancelled, noting each delete (and, in `ls`, the first time any
// watcher saw a lease's key go).
asio::awaitable<void> follow(watch_stream* w, leases* ls, deletes* seen, std::string* failure) {
  for (;;) {
    auto b = co_await w->next();
    if (b.is(errc::unavailable)) continue;  // no node within leader_wait: next() tries again
    if (!b) {
      if (b.error() != std::make_error_code(std::errc::operation_canceled)) *failure = b.message();
      co_return;
    }
    const auto now = steady::now();
    for (const auto& e : b->events) {
      if (!e.deleted) continue;
      (*seen)[e.kv.key] = e.kv.mod_revision;
      auto& l = *ls->at(static_cast<std::size_t>(lease_of(e.kv.key)));
      if (!l.watched_gone) l.watched_gone = now;
    }
  }
}


// The end state one node holds alone: its leases, which leased keys it has, and the deletes a
// replay of the leased keys from revision 1 on it shows.
struct node_view {
  std::uint64_t id = 0;
  std::set<std::uint64_t> leases;
  std::set<std::string> keys;
  deletes replayed;
  std::string failure;
};

asio::awaitable<void> read_node(const cluster& cl, std::uint64_t last, node_view* out, const leases* ls) {
  client c(co_await asio::this_coro::executor, options_for(std::vector<std::string>(1, cl.member(out->id).endpoint())));
  auto l = co_await c.leases();
  if (l) out->leases.insert(l->begin(), l->end());
  else out->failure += "leases(): " + l.message() + "; ";
  for (const auto& lease : *ls) {
    for (const auto& k : lease->keys) {
      auto v = co_await c.get(k, read_mode::stale);
      if (v) out->keys.insert(k);
      else if (!v.is(errc::not_found)) out->failure += k + ": " + v.message() + "; ";
    }
  }
  out->failure += co_await replay_deletes(c, prefix, last, [out](std::string_view key, std::uint64_t revision) {
    out->replayed[std::string(key)] = revision;
  });
  c.close();
}

struct run_results {
  leases ls;
  std::vector<deletes> watched;  // per live watcher
  std::vector<std::string> watcher_failures;
  std::vector<node_view> nodes;
  std::map<int, std::int64_t> kept_ttl_keys;  // kept lease -> keys time_to_live listed (-1: failed)
  std::uint64_t last = 0;
};

// The run on `cl`: grants, watchers, keepers, pollers and the nemesis for `duration`; then,
// faults over, waits for the abandoned leases to expire and reads every node's end state.
void run_workload(cluster& cl, partitions* net, std::uint64_t seed, std::chrono::seconds duration,
                  run_results& out, fault_log& log) {
  run_async(
      [&](asio::io_context& ctx) -> asio::awaitable<void> {
        task_group following(ctx.get_executor());
        task_group working(ctx.get_executor());
        bool stop = false;
        std::vector<std::unique_ptr<client>> clients;
        std::vector<std::unique_ptr<watch_stream>> streams;
        std::optional<nemesis> faults;
        std::exception_ptr failure;
        const auto make_client = [&](std::vector<std::string> eps) -> client& {
          clients.push_back(std::make_unique<client>(ctx.get_executor(), options_for(std::move(eps))));
          return *clients.back();
        };
        try {
          co_await wait_for_leader(cl);
          auto& keeper = make_client(cl.endpoints());
          auto& poller = make_client(cl.endpoints());
          for (auto& l : out.ls) co_await grant(keeper, l.get());
          out.watched.resize(cl.size());
          out.watcher_failures.resize(cl.size());
          for (auto id : cl.ids()) {
            auto& c = make_client(cl.endpoints_from(id));
            streams.push_back(co_await open_replay(c, prefix));
            following.spawn(follow(streams.back().get(), &out.ls, &out.watched[id - 1], &out.watcher_failures[id - 1]),
                            fmt::format("the watcher on node {}", id));
          }
          const auto t0 = steady::now();
          faults.emplace(cl, lease_nemesis(net), seed, log);
          for (auto& l : out.ls) {
            working.spawn(keep(keeper, l.get(), t0, stop, log), l->name() + "'s keeper");
            working.spawn(poll(poller, l.get(), stop), l->name() + "'s poller");
          }
          co_await sleep_for(duration);

          faults->stop();
          const auto nemesis_deadline = steady::now() + 30s;
          while (!faults->done() && steady::now() < nemesis_deadline) co_await sleep_for(50ms);
          BOOST_REQUIRE_MESSAGE(faults->done(), "the nemesis did not stop within 30 s");
          faults->finish();
          log.add("faults over");
          co_await wait_for_leader(cl, cl.ids(), 20s);

          // Every lease not kept must go: wait until the watchers and the poller saw each go, or
          // its bound passed.
          const auto settled = [&log](const lease_record& l) {
            const auto now = steady::now();
            const auto due = std::max(l.earliest_delete(), log.last_fault_before(now) + l.ttl());
            return l.end == fate::kept || (l.keeper_done && ((l.watched_gone && l.polled_gone) || now > due + expiry_bound));
          };
          for (auto& l : out.ls) {
            while (!settled(*l)) co_await sleep_for(50ms);
          }
          for (auto& l : out.ls) {
            if (l->end != fate::kept) continue;
            auto ttl = co_await keeper.time_to_live(l->id, true);
            out.kept_ttl_keys[l->index] = ttl ? static_cast<std::int64_t>(ttl->keys.size()) : -1;
          }
          stop = true;
          co_await working.wait_all();
          log.add("keepers and pollers stopped");

          co_await wait_converged(cl, 20s);
          auto everything = co_await poller.range(make_range(prefix, prefix_end(prefix)));
          BOOST_REQUIRE_MESSAGE(everything.ok(), everything.message());
          out.last = everything->revision;
          for (auto id : cl.ids()) {
            out.nodes.emplace_back();
            out.nodes.back().id = id;
          }
          for (auto& n : out.nodes) co_await read_node(cl, out.last, &n, &out.ls);
        } catch (...) {
          failure = std::current_exception();
        }
        if (faults) faults->stop();
        while (faults && !faults->done()) co_await sleep_for(50ms);
        stop = true;
        co_await working.wait_all();
        for (auto& s : streams) s->cancel();
        co_await following.wait_all();
        streams.clear();
        for (auto& c : clients) c->close();
        if (failure) std::rethrow_exception(failure);
      },
      duration + 180s);
}

// The run and its checks, with or without partitions among the faults.
void check_leases_under_faults(network_faults network) {
  const auto seed = env_number("KV_LEASE_FAULT_SEED", 1);
  const auto duration = std::chrono::seconds(env_number("KV_LEASE_FAULT_DURATION_S", 14));
  BOOST_TEST_MESSAGE("KV_LEASE_FAULT_SEED=" << seed);
  cluster_options o;
  o.extra_toml = "[index]\nenabled = false\n";
  o.log_level = "info";
  o.addresses = network == network_faults::partitions ? member_addresses::distinct : member_addresses::shared;
  cluster cl(o);
  std::optional<partitions> net;
  if (network == network_faults::partitions) net.emplace(cl);
  run_results out;
  out.ls = plan(seed, duration);
  const auto started = steady::now();
  fault_log log(started);
  run_workload(cl, net ? &*net : nullptr, seed, duration, out, log);
  const auto took = ms(steady::now() - started);
  const auto context = fmt::format("KV_LEASE_FAULT_SEED={}; faults:\n{}", seed, log.text());

  for (std::size_t i = 0; i < out.watcher_failures.size(); ++i) {
    BOOST_TEST(out.watcher_failures[i].empty(), "the watcher on node " << i + 1 << " ended: " << out.watcher_failures[i]);
  }
  std::string summary;
  for (const auto& lp : out.ls) {
    const auto& l = *lp;
    const auto due = l.earliest_delete();
    const auto seen = [&](const std::optional<steady::time_point>& t) {
      return t ? fmt::format("+{} ms ({:+} ms after the deadline)", log.at(*t), ms(*t - due)) : std::string("never");
    };
    const auto what = fmt::format(
        "{} (id {}): {} keepalives acknowledged, the last sent at +{} ms, so no delete before +{} ms; longest "
        "time without one {} ms (failed: {}); keys seen gone by a watcher {}, by the poller {}{}",
        l.name(), l.id, l.acked, log.at(l.last_acked_send), log.at(due), ms(l.longest_gap), l.failed,
        seen(l.watched_gone), seen(l.polled_gone),
        l.revoke_sent ? fmt::format("; revoke sent at +{} ms", log.at(*l.revoke_sent)) : std::string());
    summary += "  " + what + "\n";

    // 1. Never before the TTL since the last acknowledged keepalive's send (for a revoked
    //    lease: before its revoke was sent).
    const auto allowed = l.revoke_sent ? std::min(due, *l.revoke_sent) : due;
    if (l.watched_gone) BOOST_TEST(ms(*l.watched_gone - allowed) >= 0, "deleted early: " << what << "\n" << context);
    if (l.polled_gone) BOOST_TEST(ms(*l.polled_gone - allowed) >= 0, "deleted early: " << what << "\n" << context);

    // A kept lease may have expired rightly if the faults kept its keeper from every leader for a
    // whole TTL (check 1 showed it did not go early): then it is checked as an expired one.
    const bool gone = l.lost_at || l.watched_gone || l.polled_gone;
    if (l.end == fate::kept && gone && l.longest_gap >= l.ttl()) {
      BOOST_TEST_MESSAGE("a kept lease expired, its keeper having found no leader for a TTL: " << what);
    } else if (l.end == fate::kept) {
      // 2. Kept to the end: every key still there, on every node, and the leader knows it.
      BOOST_TEST(!gone, "a kept lease was lost: " << what << "\n" << context);
      BOOST_TEST(out.kept_ttl_keys[l.index] == static_cast<std::int64_t>(l.keys.size()),
                 "time_to_live listed " << out.kept_ttl_keys[l.index] << " keys (-1: failed): " << what);
      for (const auto& n : out.nodes) {
        BOOST_TEST(n.leases.contains(l.id), "node " << n.id << " does not list " << l.name());
        for (const auto& k : l.keys) BOOST_TEST(n.keys.contains(k), "node " << n.id << " lost " << k);
      }
      continue;
    }
    // 3. Expired or revoked: gone from every node, its keys deleted at one revision, the same on
    //    every node and in every live watcher's stream.
    BOOST_TEST(l.watched_gone.has_value(), "never seen gone: " << what << "\n" << context);
    std::set<std::uint64_t> revisions;
    for (const auto& n : out.nodes) {
      BOOST_TEST(!n.leases.contains(l.id), "node " << n.id << " still lists " << l.name());
      for (const auto& k : l.keys) {
        BOOST_TEST(!n.keys.contains(k), "node " << n.id << " still has " << k);
        auto it = n.replayed.find(k);
        BOOST_TEST((it != n.replayed.end()), "node " << n.id << "'s replay has no delete of " << k);
        if (it != n.replayed.end()) revisions.insert(it->second);
      }
    }
    for (const auto& w : out.watched) {
      for (const auto& k : l.keys) {
        if (auto it = w.find(k); it != w.end()) revisions.insert(it->second);
      }
    }
    BOOST_TEST(revisions.size() == 1u, l.name() << "'s keys were deleted at " << revisions.size()
                                                << " revisions: " << fmt::format("{}", fmt::join(revisions, ", ")));
    if (l.revoke_revision != 0 && revisions.size() == 1u) BOOST_TEST(*revisions.begin() == l.revoke_revision);
    // 4. An expired lease goes soon after its deadline, or after a full TTL from the last
    //    failover (a new leader gives every lease a full TTL) if that came later.
    if (l.end != fate::revoked && l.watched_gone) {
      const auto base = std::max(due, log.last_fault_before(*l.watched_gone) + l.ttl());
      BOOST_TEST(ms(*l.watched_gone - base) < ms(expiry_bound),
                 "expired late: more than " << ms(expiry_bound) << " ms after +" << log.at(base) << " ms: " << what
                                            << "\n"
                                            << context);
    }
  }
  for (const auto& n : out.nodes) BOOST_TEST(n.failure.empty(), "node " << n.id << ": " << n.failure);
  BOOST_TEST(log.faults() >= 5, "too few faults:\n" << context);
  BOOST_TEST_MESSAGE("KV_LEASE_FAULT_SEED=" << seed << ": " << log.faults() << " faults, up to revision " << out.last
                                            << ", " << took << " ms\n"
                                            << summary << log.text());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lease_faults)

BOOST_AUTO_TEST_CASE(no_key_goes_before_its_ttl_and_all_go_together) {
  check_leases_under_faults(network_faults::none);
}

BOOST_AUTO_TEST_CASE(under_partitions_too, *boost::unit_test::precondition(nft_usable)) {
  check_leases_under_faults(network_faults::partitions);
}

BOOST_AUTO_TEST_SUITE_END()
