// Watches on a real 3-node cluster under faults. Watchers on every node, each on a client of its
// own that lists that node first (replays from revision 1, watches from now and from a past
// revision, one key, prev_kv, put-only and delete-only filters, every key), follow three writers'
// sets, deletes, bulk sets, transactions and range deletes (fault/watch_workload.hpp) while a
// nemesis kills -9 and restarts the leader or any node, pauses nodes (SIGSTOP) for longer than
// the clients' request timeout, drops watchers' connections and, in the second test, isolates a
// node (nftables: skipped where nft cannot be used). At the end every watcher must have been sent
// exactly its range's part of the cluster's history: the same events in the same order, none
// missing, none twice, none that was not committed. That history is a replay of every key from
// revision 1 on each node (the three must agree), checked against every write the writers sent
// and the final keyspace (fault/watch_history.hpp).
//
// KV_WATCH_FAULT_SEED=N picks the schedules (process timing is not reproducible: a seed replays
// a run only roughly); KV_WATCH_FAULT_DURATION_S sets how long the writers write (15 s).

#include "fault/nemesis.hpp"
#include "fault/run_support.hpp"
#include "fault/watch_history.hpp"
#include "fault/watch_workload.hpp"
#include "harness/cluster.hpp"
#include "harness/cluster_status.hpp"
#include "harness/partitions.hpp"
#include "io/client/watch_stream.hpp"
#include "io/sys/event.hpp"
#include "support/client_util.hpp"
#include "support/seeds.hpp"
#include "support/skip.hpp"

#include <asio/co_spawn.hpp>
#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <random>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

// Short, so that a watcher on a paused node moves on after about a second (watch_stream's
// liveness check), and writers resend soon.
constexpr auto request_timeout = 1000ms;
// Longer than any fault lasts: a client keeps looking for a node that serves it through one.
constexpr auto leader_wait = 10s;
// How long watchers have, once the faults are over, to catch up with the last revision.
constexpr auto catch_up_limit = 30s;

enum class network_faults : std::uint8_t { none, partitions };

// One fault at a time: the leader, any node or every node killed -9 and started again, the
// leader or a follower paused (SIGSTOP) for longer than request_timeout and, given `net`, the
// leader or a follower isolated. Each kind once first, in a seeded order; then failovers (the
// leader killed or cut off) and watchers moved off a paused node twice as often as the others.
nemesis_options watch_nemesis(partitions* net) {
  nemesis_options o;
  o.draws = {fault_kind::kill_leader, fault_kind::kill_any, fault_kind::kill_all, fault_kind::pause_leader,
             fault_kind::pause_follower};
  if (net) {
    o.draws.push_back(fault_kind::isolate_leader);
    o.draws.push_back(fault_kind::isolate_follower);
  }
  o.draws.push_back(fault_kind::kill_leader);
  o.draws.push_back(fault_kind::pause_follower);
  if (net) o.draws.push_back(fault_kind::isolate_leader);
  o.opening = first_round::each_kind_once;
  o.paused_for = ms_range{1200, 2500};
  o.isolated_for = ms_range{1000, 3000};
  o.net = net;
  return o;
}

// ---- the run -----------------------------------------------------------------------------------

client::options options_for(std::vector<std::string> endpoints) {
  return fault_client_options(std::move(endpoints), request_timeout, leader_wait);
}

// Member `id`'s endpoint alone.
std::vector<std::string> only(const cluster& cl, std::uint64_t id) {
  return {cl.member(id).endpoint()};
}


// Follows `w` until its stream is cancelled, keeping every batch.
asio::awaitable<void> follow(watcher& w, const fault_log& log) {
  for (;;) {
    auto b = co_await w.stream->next();
    if (b) {
      w.take(*b, log.now_ms());
      continue;
    }
    if (b.is(errc::unavailable)) {  // no node within leader_wait: next() tries again
      ++w.unavailable;
      continue;
    }
    if (b.error() != std::make_error_code(std::errc::operation_canceled)) w.failure = b.message();
    co_return;
  }
}

// Creates `w`'s client and stream, trying again while no node takes the watch, for up to 30 s.
asio::awaitable<void> open(watcher& w, std::vector<std::string> endpoints) {
  w.c = std::make_unique<client>(co_await asio::this_coro::executor, options_for(std::move(endpoints)));
  const auto deadline = steady::now() + 30s;
  for (;;) {
    auto s = co_await w.c->watch(w.spec);
    if (s) {
      w.stream = std::move(*s);
      break;
    }
    BOOST_REQUIRE_MESSAGE(s.is(errc::unavailable) && steady::now() < deadline, w.name << ": " << s.message());
  }
  if (w.from_now) {
    w.after = w.stream->created_revision();
    w.queued_at_creation = w.stream->revision() > w.after;
  }
}

// Opens each of `ws` through `endpoints(w)` in turn and starts following it on `t`.
template <typename Endpoints>
asio::awaitable<void> open_all(watchers& ws, Endpoints endpoints, task_group& t, const fault_log& log) {
  for (auto& w : ws) {
    co_await open(*w, endpoints(*w));
    t.spawn(follow(*w, log), [w = w.get()](std::exception_ptr e) {
      if (e) w->failure = "follow threw: " + what_threw(e);
      w->finished = true;
    });
  }
}

// Asks for progress until every watcher of `ws` has taken a batch at `last` or later; the ones
// that did not within catch_up_limit.
asio::awaitable<std::string> wait_caught_up(const watchers& ws, std::uint64_t last) {
  const auto deadline = steady::now() + catch_up_limit;
  for (;;) {
    std::string behind;
    for (const auto& w : ws) {
      if (w->delivered >= last) continue;
      behind += fmt::format("  {}: delivered through revision {}, its stream is at {}, on {}; {}\n", w->name,
                            w->delivered, w->stream->revision(), w->c->endpoint(),
                            w->failure.empty() ? std::string("still following") : "ended: " + w->failure);
      if (!w->finished) w->stream->request_progress();
    }
    if (behind.empty() || steady::now() > deadline) co_return behind;
    co_await sleep_for(200ms);
  }
}

// Cancels the watchers' streams, waits for their followers to end, and releases their clients.
asio::awaitable<void> close_all(watchers& ws, task_group& t) {
  for (auto& w : ws) {
    if (w->stream) w->stream->cancel();
  }
  co_await t.wait_all();
  for (auto& w : ws) {
    w->stream.reset();
    if (w->c) w->c->close();
    w->c.reset();
  }
}

// Drops a random watcher's connection now and then, until `stop`: its stream resumes.
asio::awaitable<void> drop_connections(watchers& ws, std::uint64_t seed, const bool& stop, fault_log& log) {
  std::mt19937_64 rng(seed);
  while (!stop) {
    co_await sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 1000)(rng)));
    auto& w = *ws[std::uniform_int_distribution<std::size_t>(0, ws.size() - 1)(rng)];
    if (stop || !w.c) continue;
    log.add(fmt::format("drop the connection of {} to {}", w.name, w.c->endpoint()));
    w.c->close();
  }
}

struct run_results {
  std::uint64_t seed = 0;
  std::vector<write_attempt> writes;
  watchers watched;
  watchers references;     // one replay of every key per node, after the faults
  std::uint64_t last = 0;  // the keyspace's revision at the end
  std::vector<kv_version> final_keys;
  std::string not_caught_up;
};

// A last write, outside the watched prefix, so that the replays of every key end at the final
// revision; then the final revision and keyspace.
asio::awaitable<void> read_final_state(const cluster& cl, run_results& out) {
  client last(co_await asio::this_coro::executor, options_for(cl.endpoints()));
  write_attempt marker;
  marker.writer = 3;
  marker.puts.emplace_back("x/end", "end");
  marker = co_await send(last, std::move(marker));
  BOOST_REQUIRE_MESSAGE(marker.outcome == write_outcome::acknowledged, marker.error);
  out.writes.push_back(marker);
  auto everything = co_await last.range(make_range(std::string(1, '\0'), std::string(1, '\0')));
  last.close();
  BOOST_REQUIRE_MESSAGE(everything.ok(), everything.message());
  out.last = everything->revision;
  out.final_keys = everything->kvs;
  BOOST_REQUIRE(out.last >= marker.revision);
}

// The workload on `cl`: watchers, writers, the nemesis and the connection dropper; then, faults
// over, the final revision, every watcher caught up with it, and the references: a replay of
// every key from revision 1 on each node alone.
void run_workload(cluster& cl, partitions* net, std::chrono::seconds duration, run_results& out, fault_log& log) {
  run_async(
      [&](asio::io_context& ctx) -> asio::awaitable<void> {
        task_group background(ctx.get_executor());
        task_group following(ctx.get_executor());
        bool stop = false;
        std::vector<std::unique_ptr<client>> writer_clients;
        std::optional<nemesis> running_faults;
        std::exception_ptr failure;
        try {
          co_await wait_for_leader(cl);
          auto through_home = [&cl](const watcher& w) { return cl.endpoints_from(w.home); };
          out.watched = first_watchers(cl.ids());
          co_await open_all(out.watched, through_home, following, log);
          running_faults.emplace(cl, watch_nemesis(net), out.seed, log);
          std::uint64_t highest = 0;  // the highest revision a write was acknowledged at
          for (int i = 0; i < 3; ++i) {
            writer_clients.push_back(std::make_unique<client>(
                ctx.get_executor(), options_for(cl.endpoints_from(static_cast<std::uint64_t>(i + 1)))));
            background.spawn(write_until(*writer_clients.back(), i, out.seed * 100 + static_cast<std::uint64_t>(i),
                                         stop, out.writes, highest),
                             [i](std::exception_ptr e) {
                               if (e) BOOST_ERROR("writer " << i << " threw: " << what_threw(e));
                             });
          }
          background.spawn(drop_connections(out.watched, out.seed * 100 + 99, stop, log), [](std::exception_ptr e) {
            if (e) BOOST_ERROR("the connection dropper threw: " << what_threw(e));
          });

          co_await sleep_for(duration / 3);
          auto later = later_watchers(cl.ids(), out.watched.size(), std::max<std::uint64_t>(2, highest / 2));
          co_await open_all(later, through_home, following, log);
          for (auto& w : later) out.watched.push_back(std::move(w));
          co_await sleep_for(duration - duration / 3);

          // The nemesis undoes its last fault, then the writers finish their last write.
          running_faults->stop();
          const auto deadline = steady::now() + 30s;
          while (!running_faults->done() && steady::now() < deadline) co_await sleep_for(50ms);
          BOOST_REQUIRE_MESSAGE(running_faults->done(), "the nemesis did not stop within 30 s");
          running_faults->finish();
          stop = true;
          co_await background.wait_all();
          for (auto& c : writer_clients) c->close();
          log.add("faults and writes over");

          co_await wait_for_leader(cl, cl.ids(), 20s);
          co_await wait_converged(cl, 20s);
          co_await read_final_state(cl, out);

          out.not_caught_up = co_await wait_caught_up(out.watched, out.last);
          log.add("watchers caught up");
          co_await close_all(out.watched, following);

          for (auto id : cl.ids()) {
            out.references.push_back(make_watcher(id, id, "every key from revision 1", every_key_spec(1)));
            out.references.back()->name = fmt::format("the reference on node {}", id);
          }
          auto alone = [&cl](const watcher& w) { return only(cl, w.home); };
          co_await open_all(out.references, alone, following, log);
          out.not_caught_up += co_await wait_caught_up(out.references, out.last);
          co_await close_all(out.references, following);
        } catch (...) {
          failure = std::current_exception();
        }
        if (running_faults) running_faults->stop();
        while (running_faults && !running_faults->done()) co_await sleep_for(50ms);
        stop = true;
        co_await background.wait_all();
        for (auto& c : writer_clients) c->close();
        co_await close_all(out.watched, following);
        co_await close_all(out.references, following);
        if (failure) std::rethrow_exception(failure);
      },
      duration + 240s);
}

void check_watches_under_faults(network_faults network) {
  run_results out;
  out.seed = env_number("KV_WATCH_FAULT_SEED", 1);
  const auto duration = std::chrono::seconds(env_number("KV_WATCH_FAULT_DURATION_S", 15));
  BOOST_TEST_MESSAGE("KV_WATCH_FAULT_SEED=" << out.seed);
  cluster_options o;
  o.extra_toml = "[storage]\nauto-compaction-mode = \"off\"\nsnapshot-entries = 1000\n[index]\nenabled = false\n";
  o.cluster_keys = "snapshot-catch-up-entries = 200\n";
  o.addresses = network == network_faults::partitions ? member_addresses::distinct : member_addresses::shared;
  o.log_level = "info";
  cluster cl(o);
  std::optional<partitions> net;
  if (network == network_faults::partitions) net.emplace(cl);
  fault_log log(steady::now());
  const auto started = steady::now();
  run_workload(cl, net ? &*net : nullptr, duration, out, log);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started).count();
  const auto context = fmt::format("KV_WATCH_FAULT_SEED={}; faults:\n{}", out.seed, log.text());

  BOOST_TEST(out.not_caught_up.empty(), "watchers not caught up with revision " << out.last << " within "
                                                                                << catch_up_limit.count()
                                                                                << " s of the faults' end:\n"
                                                                                << out.not_caught_up << context);
  for (const auto& w : out.watched) {
    BOOST_TEST(w->broken.empty(), w->name << ": " << w->broken << "\n" << context);
    BOOST_TEST(w->failure.empty(), w->name << " ended: " << w->failure << "\n" << context);
  }
  for (const auto& r : out.references) BOOST_TEST(r->broken.empty(), r->name << ": " << r->broken);

  // The history: the replay on the first node, the same on the others, consistent in itself and
  // with every acknowledged write.
  BOOST_REQUIRE_EQUAL(out.references.size(), cl.size());
  for (std::size_t i = 1; i < out.references.size(); ++i) {
    auto d = first_difference(out.references[0]->events, *out.references[i]);
    BOOST_TEST(!d, "the nodes' histories differ (node 1's expected): " << d.value_or(""));
  }
  problems found;
  auto h = index_history(out.references[0]->events, found);
  check_replay(h, out.last, out.final_keys, found);
  check_writes(h, out.writes, found);
  BOOST_TEST(found.empty(), "the history (" << h.events.size() << " events up to revision " << out.last
                                            << ") is wrong:\n"
                                            << found.text() << context);

  // Each watcher: exactly its part of the history.
  std::size_t events = 0;
  int queued_at_creation = 0;
  int unavailable = 0;
  for (const auto& w : out.watched) {
    auto d = first_difference(expected_for(h, *w, out.last), *w);
    BOOST_TEST(!d, d.value_or("") << "\n" << context);
    events += w->events.size();
    unavailable += w->unavailable;
    queued_at_creation += w->queued_at_creation;
  }

  int acknowledged = 0;
  int unknown = 0;
  int refused = 0;
  std::string first_refused;
  for (const auto& a : out.writes) {
    acknowledged += a.outcome == write_outcome::acknowledged;
    unknown += a.outcome == write_outcome::unknown;
    if (a.outcome == write_outcome::refused && refused++ == 0) first_refused = a.text() + ": " + a.error;
  }
  BOOST_TEST(refused == 0, refused << " writes refused, the first: " << first_refused);
  BOOST_TEST(acknowledged > 200, "too little progress: " << acknowledged << " writes acknowledged\n" << context);
  BOOST_TEST(log.faults() >= 5, "too few faults:\n" << context);
  BOOST_TEST_MESSAGE("KV_WATCH_FAULT_SEED=" << out.seed << ": " << out.writes.size() << " writes (" << acknowledged
                                            << " acknowledged, " << unknown << " unknown) up to revision " << out.last
                                            << "; " << out.watched.size() << " watchers took " << events << " events ("
                                            << queued_at_creation
                                            << " watches from now got events with their answer), found no node "
                                            << unavailable << " times; " << took << " ms\n"
                                            << log.text());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(watch_faults)

BOOST_AUTO_TEST_CASE(under_kills_pauses_and_dropped_connections) {
  check_watches_under_faults(network_faults::none);
}

BOOST_AUTO_TEST_CASE(under_partitions_too, *boost::unit_test::precondition(nft_usable)) {
  check_watches_under_faults(network_faults::partitions);
}

BOOST_AUTO_TEST_SUITE_END()
