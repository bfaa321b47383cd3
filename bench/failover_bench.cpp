// failover_bench: kills the leader of a local kvnode cluster under write load, round after round,
// and measures how long writes stop.
//
//   failover_bench [--rounds 20] [--writers 16] [--nodes 3] [--load-before 1] [--value-size 100]
//                  [--cluster-keys 'election-timeout = "300ms"']
//
// A fresh cluster (test/harness/cluster.hpp) runs with its default timeouts unless
// --cluster-keys adds lines to its [cluster] section. `writers` coroutines each write unique keys
// through a kv::client of their own that knows every endpoint (it follows redirects and waits out
// elections, as an application would). Each round:
//   1. waits until the nodes agree on a leader, then lets the load run `load-before` seconds;
//   2. sends SIGKILL to the leader; from that moment, measures
//      - elected: until a surviving node says it leads (status polled every 5 ms), and
//      - failover: until the first write acknowledged by a node other than the killed one;
//   3. restarts the killed node on its data and waits until it has caught up: its applied index
//      reaches the commit index the leader reported after the restart.
// At the end the load stops, every node must converge, and every acknowledged write is read back:
// through a linearizable GET (a client on all endpoints), and from every node's local state (a
// stale GET to each node), comparing values byte for byte. Writes that failed (the one in flight
// to the killed leader, say) may or may not have been applied and are not checked.
//
// Prints one line per round and p50/p99/max of each measure (nearest rank: with 20 rounds, p99
// is the largest). Exit status 1 if an acknowledged write is missing or a round had no failover.

#include "bench/args.hpp"
#include "harness/cluster.hpp"
#include "harness/cluster_status.hpp"
#include "io/client/client.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono;

namespace {

struct options {
  int rounds = 20;
  int writers = 16;
  int nodes = 3;
  double load_before_s = 1.0;
  std::size_t value_size = 100;
  std::string cluster_keys;
};

options parse(int argc, char** argv) {
  options o;
  kv::bench::flag_table flags("failover_bench",
                              "Kills the leader of a local kvnode cluster under write load, round after round, and\n"
                              "measures how long writes stop; the comment at the top of bench/failover_bench.cpp\n"
                              "describes a round.");
  flags.add("--rounds", "N", "leaders killed, one a round", o.rounds);
  flags.add("--writers", "N", "writing coroutines, each with a client of its own", o.writers);
  flags.add("--nodes", "N", "members of the cluster (at least 3)", o.nodes);
  flags.add("--load-before", "S", "seconds of load before each kill", o.load_before_s);
  flags.add("--value-size", "BYTES", "size of each value written", o.value_size);
  flags.add("--cluster-keys", "'KEY = VALUE'", "lines added to the nodes' [cluster] section", o.cluster_keys);
  flags.parse(argc, argv);
  if (o.rounds < 1 || o.writers < 1 || o.nodes < 3) flags.usage_error("needs at least 1 round, 1 writer and 3 nodes");
  return o;
}

std::string key_of(int writer, std::uint64_t n) { return fmt::format("fo:{}:{}", writer, n); }

// The value written under a key: the key, padded to `size` bytes, so a read checks both.
std::string value_of(const std::string& key, std::size_t size) {
  auto v = key;
  v.resize(std::max(size, key.size()), '.');
  return v;
}

using clock_point = steady_clock::time_point;

// What the writers and the round driver share; all on the one io_context thread.
struct load_state {
  bool stop = false;
  int running = 0;
  std::string killed_endpoint;           // the leader of this round once it was killed; "" before
  std::optional<clock_point> first_ack;  // the first write acknowledged elsewhere after the kill
  std::vector<std::vector<std::uint64_t>> acked;  // per writer: the n of every acknowledged key
  // Failed writes (outcome unknown), by error code: how many, and the first message.
  std::map<std::string, std::pair<std::uint64_t, std::string>> failed;
};

asio::awaitable<void> writer(std::shared_ptr<load_state> st, std::vector<std::string> endpoints, int w,
                             std::size_t value_size) {
  kv::client::options co;
  co.endpoints = std::move(endpoints);
  co.connect_timeout = milliseconds(500);
  kv::client c(co_await asio::this_coro::executor, co);
  for (std::uint64_t n = 0; !st->stop; ++n) {
    auto key = key_of(w, n);
    auto r = co_await c.set(key, value_of(key, value_size));
    if (r) {
      st->acked[static_cast<std::size_t>(w)].push_back(n);
      if (!st->killed_endpoint.empty() && !st->first_ack && c.endpoint() != st->killed_endpoint) {
        st->first_ack = steady_clock::now();
      }
    } else {
      auto& [count, example] = st->failed[r.error().message()];
      if (count++ == 0) example = r.message();
    }
  }
  c.close();
  --st->running;
}

struct round_result {
  double failover_ms = -1;  // -1: no write was acknowledged within the limit
  double elected_ms = -1;
  double catch_up_ms = -1;
  std::uint64_t killed = 0;
  std::uint64_t new_leader = 0;
};

// Polls the surviving nodes until one says it leads in a term after `old_term`; its id, or 0.
asio::awaitable<std::uint64_t> await_new_leader(std::vector<std::string> survivors, std::uint64_t old_term,
                                                clock_point deadline) {
  while (steady_clock::now() < deadline) {
    for (const auto& ep : survivors) {
      auto s = co_await kv::harness::status_of(ep);
      if (s && s->text("role") == "leader" && s->number("term") > old_term) co_return s->number("node_id");
    }
    co_await kv::harness::sleep_for(milliseconds(5));
  }
  co_return 0;
}

// Waits until node `id` serves and has applied what the leader had committed when it came back.
asio::awaitable<bool> await_caught_up(kv::harness::cluster& cl, std::uint64_t id, clock_point deadline) {
  std::uint64_t target = 0;
  while (steady_clock::now() < deadline) {
    if (target == 0) {
      auto l = co_await kv::harness::agreed_leader(cl.endpoints());
      if (l) {
        auto s = co_await kv::harness::status_of(l->address);
        if (s && s->text("role") == "leader") target = s->number("commit_index");
      }
    } else {
      auto s = co_await kv::harness::status_of(cl.member(id).endpoint());
      if (s && s->number("applied_index") >= target) co_return true;
    }
    co_await kv::harness::sleep_for(milliseconds(10));
  }
  co_return false;
}

asio::awaitable<round_result> run_round(kv::harness::cluster& cl, std::shared_ptr<load_state> st, options o) {
  round_result r;
  auto leader = co_await kv::harness::await_leader(cl.endpoints(), milliseconds(30000));
  if (!leader) throw std::runtime_error("no agreed leader within 30 s");
  co_await kv::harness::sleep_for(duration_cast<steady_clock::duration>(duration<double>(o.load_before_s)));
  r.killed = leader->id;
  std::vector<std::string> survivors;
  for (std::uint64_t id = 1; id <= cl.size(); ++id) {
    if (id != leader->id) survivors.push_back(cl.member(id).endpoint());
  }
  st->first_ack.reset();
  auto killed_at = steady_clock::now();
  cl.member(leader->id).send_kill();
  st->killed_endpoint = cl.member(leader->id).endpoint();
  auto limit = killed_at + seconds(30);
  r.new_leader = co_await await_new_leader(survivors, leader->term, limit);
  if (r.new_leader != 0) r.elected_ms = duration<double, std::milli>(steady_clock::now() - killed_at).count();
  while (!st->first_ack && steady_clock::now() < limit) co_await kv::harness::sleep_for(milliseconds(1));
  if (st->first_ack) r.failover_ms = duration<double, std::milli>(*st->first_ack - killed_at).count();
  st->killed_endpoint.clear();
  cl.member(leader->id).reap();
  auto restarted_at = steady_clock::now();
  cl.member(leader->id).launch();
  if (!co_await await_caught_up(cl, leader->id, restarted_at + seconds(60))) {
    throw std::runtime_error(fmt::format("node {} did not catch up within 60 s of its restart", leader->id));
  }
  r.catch_up_ms = duration<double, std::milli>(steady_clock::now() - restarted_at).count();
  co_return r;
}

struct check_result {
  std::uint64_t checked = 0;
  std::uint64_t missing = 0;  // not found, wrong value, or the read failed
  std::string example;
};

// Reads every acknowledged key from `endpoints` (64 reads in flight on one connection) in `mode`
// and compares each value with the one written.
asio::awaitable<check_result> read_back(std::shared_ptr<load_state> st, std::vector<std::string> endpoints,
                                        kv::read_mode mode, std::size_t value_size) {
  kv::client::options co;
  co.endpoints = std::move(endpoints);
  co.request_timeout = seconds(10);
  kv::client c(co_await asio::this_coro::executor, co);
  check_result out;
  const int parallel = 64;
  int running = parallel;
  std::size_t next_writer = 0;
  std::size_t next_n = 0;
  // Hands out (writer, n) pairs in order; false when all are taken.
  auto take = [&](int& w, std::uint64_t& n) {
    while (next_writer < st->acked.size() && next_n >= st->acked[next_writer].size()) {
      ++next_writer;
      next_n = 0;
    }
    if (next_writer >= st->acked.size()) return false;
    w = static_cast<int>(next_writer);
    n = st->acked[next_writer][next_n++];
    return true;
  };
  auto ex = co_await asio::this_coro::executor;
  for (int i = 0; i < parallel; ++i) {
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          int w = 0;
          std::uint64_t n = 0;
          while (take(w, n)) {
            auto key = key_of(w, n);
            auto got = co_await c.get(key, mode);
            ++out.checked;
            if (!got || *got != value_of(key, value_size)) {
              if (out.missing++ == 0) out.example = key + ": " + (got ? "wrong value" : got.message());
            }
          }
          --running;
        },
        asio::detached);
  }
  while (running > 0) co_await kv::harness::sleep_for(milliseconds(5));
  c.close();
  co_return out;
}

double nearest_rank(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

std::string summary(const char* what, const std::vector<double>& v) {
  return fmt::format("{:<40} p50 {:7.1f} ms   p99 {:7.1f} ms   max {:7.1f} ms   ({} rounds)", what,
                     nearest_rank(v, 0.5), nearest_rank(v, 0.99), nearest_rank(v, 1.0), v.size());
}

asio::awaitable<int> run(options o) {
  kv::harness::cluster_options co;
  co.size = o.nodes;
  co.cluster_keys = o.cluster_keys;
  co.log_level = "info";
  co.log = kv::harness::log_sink::file;
  kv::harness::cluster cl(co);
  auto st = std::make_shared<load_state>();
  st->acked.resize(static_cast<std::size_t>(o.writers));
  if (!co_await kv::harness::await_leader(cl.endpoints(), milliseconds(30000))) {
    throw std::runtime_error("the cluster elected no leader within 30 s");
  }
  auto started = steady_clock::now();
  auto ex = co_await asio::this_coro::executor;
  st->running = o.writers;
  for (int w = 0; w < o.writers; ++w) asio::co_spawn(ex, writer(st, cl.endpoints(), w, o.value_size), asio::detached);

  std::vector<double> failover, elected, catch_up;
  int no_failover = 0;
  for (int i = 1; i <= o.rounds; ++i) {
    auto r = co_await run_round(cl, st, o);
    fmt::print("round {:2}: killed node {} (leader); node {} elected after {:6.1f} ms; first acknowledged write after "
               "{:6.1f} ms; restarted node caught up in {:6.1f} ms\n",
               i, r.killed, r.new_leader, r.elected_ms, r.failover_ms, r.catch_up_ms);
    std::fflush(stdout);
    if (r.failover_ms < 0) {
      ++no_failover;
      continue;
    }
    failover.push_back(r.failover_ms);
    if (r.elected_ms >= 0) elected.push_back(r.elected_ms);
    catch_up.push_back(r.catch_up_ms);
  }
  st->stop = true;
  while (st->running > 0) co_await kv::harness::sleep_for(milliseconds(5));
  double load_s = duration<double>(steady_clock::now() - started).count();

  std::uint64_t acked = 0;
  for (const auto& a : st->acked) acked += a.size();
  std::uint64_t failed = 0;
  std::string failures;
  for (const auto& [code, seen] : st->failed) {
    failed += seen.first;
    failures += fmt::format("\n    {} x {} (first: {})", seen.first, code, seen.second);
  }
  fmt::print("\n{} nodes, {} writers, {} rounds; {}-byte values\n", o.nodes, o.writers, o.rounds, o.value_size);
  fmt::print("{}\n{}\n{}\n", summary("kill -> first acknowledged write:", failover),
             summary("kill -> a survivor says it leads:", elected), summary("restart -> caught up:", catch_up));
  fmt::print("writes acknowledged: {} ({:.0f}/s over {:.1f} s, kills included); failed (outcome unknown): {}{}\n",
             acked, static_cast<double>(acked) / load_s, load_s, failed, failures);

  if (!co_await kv::harness::await_converged(cl.endpoints(), milliseconds(60000))) {
    throw std::runtime_error("the nodes did not converge within 60 s after the load");
  }
  bool lost = false;
  auto linear = co_await read_back(st, cl.endpoints(), kv::read_mode::linearizable, o.value_size);
  fmt::print("read back (linearizable GET through the cluster): {} checked, {} missing or wrong{}\n", linear.checked,
             linear.missing, linear.missing ? ", e.g. " + linear.example : std::string());
  lost |= linear.missing > 0 || linear.checked != acked;
  for (std::uint64_t id = 1; id <= cl.size(); ++id) {
    auto only = std::vector<std::string>(1, cl.member(id).endpoint());
    auto local = co_await read_back(st, only, kv::read_mode::stale, o.value_size);
    fmt::print("read back (local state of node {}): {} checked, {} missing or wrong{}\n", id, local.checked,
               local.missing, local.missing ? ", e.g. " + local.example : std::string());
    lost |= local.missing > 0 || local.checked != acked;
  }
  co_return lost || no_failover > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  asio::io_context ctx(1);
  int status = 3;
  asio::co_spawn(ctx, run(o), [&](std::exception_ptr e, int s) {
    if (!e) {
      status = s;
      return;
    }
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      fmt::print(stderr, "failover_bench: {}\n", ex.what());
    }
  });
  ctx.run();
  return status;
}
