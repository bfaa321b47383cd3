#include "fault/linearizability_histories.hpp"
#include "fault/linearizability_workloads.hpp"

#include "harness/cluster.hpp"
#include "harness/cluster_status.hpp"
#include "harness/partitions.hpp"
#include "support/client_util.hpp"
#include "support/linearizability.hpp"

#include "io/sys/event.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <boost/test/unit_test.hpp>

#include <sys/resource.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <tuple>

namespace kv::test {

using namespace kv::harness;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

workload_settings settings_from_env() {
  workload_settings w;
  if (const char* s = std::getenv("KV_LIN_DURATION_S")) w.duration = std::chrono::seconds(std::atoi(s));
  return w;
}

std::uint64_t seed_from_env() {
  if (const char* s = std::getenv("KV_LIN_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// What the nemesis did, with times since the start, for failure messages.
class fault_log {
 public:
  explicit fault_log(steady::time_point t0) : t0_(t0) {}
  void add(const std::string& what) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0_).count();
    std::lock_guard lock(mutex_);
    lines_ += fmt::format("  +{} ms: {}\n", ms, what);
    ++count_;
  }
  std::string text() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  int count() const {
    std::lock_guard lock(mutex_);
    return count_;
  }

 private:
  steady::time_point t0_;
  mutable std::mutex mutex_;
  std::string lines_;
  int count_ = 0;
};

// Injects one fault at a time into `cl` until `stop`, from its own thread (restarting a node
// blocks), then heals everything.
class nemesis {
 public:
  nemesis(cluster& cl, partitions* net, std::uint64_t seed, fault_log& log)
      : cl_(cl), net_(net), rng_(seed), log_(log) {}

  void run(const std::atomic<bool>& stop) {
    run_async([&](asio::io_context&) -> asio::awaitable<void> {
      while (!stop) {
        co_await sleep_for(between(300, 1000));
        if (stop) break;
        co_await one_fault();
      }
    }, std::chrono::seconds(300));
  }

 private:
  std::chrono::milliseconds between(int lo, int hi) {
    return std::chrono::milliseconds(std::uniform_int_distribution<int>(lo, hi)(rng_));
  }
  std::uint64_t any_member() { return std::uniform_int_distribution<std::uint64_t>(1, cl_.size())(rng_); }

  // The member that says it leads (the first found), or `otherwise`.
  asio::awaitable<std::pair<std::uint64_t, std::string>> leader_or_any(std::uint64_t otherwise) {
    for (auto id : cl_.ids()) {
      auto s = co_await member_status(cl_.member(id));
      if (s && s->text("role") == "leader") co_return std::make_pair(id, std::string("the leader"));
    }
    co_return std::make_pair(otherwise, std::string("no leader found, so a random node"));
  }

  // The faults, by weight: kill -9 and restart, pause and resume, isolate, and (with a network)
  // one-way cuts: the target cannot send, cannot hear, loses packets to one node, or is the
  // only link between the other two.
  enum class fault { kill, kill_all, pause, isolate, mute, deaf, one_way, bridge };

  fault pick_fault() {
    const std::vector<fault> without_network{fault::kill, fault::kill, fault::kill_all, fault::pause, fault::pause};
    const std::vector<fault> with_network{fault::kill,    fault::kill,    fault::kill_all, fault::pause,
                                          fault::pause,   fault::isolate, fault::isolate,  fault::mute,
                                          fault::deaf,    fault::one_way, fault::bridge};
    const auto& choices = net_ ? with_network : without_network;
    return choices[std::uniform_int_distribution<std::size_t>(0, choices.size() - 1)(rng_)];
  }

  asio::awaitable<void> one_fault() {
    // Every random draw first, so that a seed gives the same schedule whatever happens.
    const auto kind = pick_fault();
    std::uint64_t target = any_member();
    const bool aim_at_leader = std::bernoulli_distribution(0.6)(rng_);
    const auto fault_lasts = kind == fault::kill || kind == fault::kill_all ? between(200, 1500)
                             : kind == fault::pause                         ? between(200, 2000)
                                                                            : between(300, 2500);
    std::string why = "a random node";
    if (aim_at_leader) std::tie(target, why) = co_await leader_or_any(target);
    auto& m = cl_.member(target);
    // The other two members of the three.
    const std::uint64_t a = target % 3 + 1;
    const std::uint64_t b = a % 3 + 1;
    switch (kind) {
      case fault::kill:
        log_.add(fmt::format("kill -9 node {} ({})", target, why));
        m.kill9();
        co_await sleep_for(fault_lasts);
        log_.add(fmt::format("restart node {}", target));
        m.start();
        co_return;
      case fault::kill_all:
        log_.add("kill -9 every node");
        for (auto id : cl_.ids()) cl_.member(id).kill9();
        co_await sleep_for(fault_lasts);
        log_.add("restart every node");
        for (auto id : cl_.ids()) cl_.member(id).start();
        co_return;
      case fault::pause:
        log_.add(fmt::format("SIGSTOP node {} ({})", target, why));
        m.pause();
        co_await sleep_for(fault_lasts);
        log_.add(fmt::format("SIGCONT node {}", target));
        m.resume();
        co_return;
      case fault::isolate:
        net_->isolate(target);
        break;
      case fault::mute:
        net_->drop_messages(target, a);
        net_->drop_messages(target, b);
        break;
      case fault::deaf:
        net_->drop_messages(a, target);
        net_->drop_messages(b, target);
        break;
      case fault::one_way:
        net_->drop_packets(target, a);
        break;
      case fault::bridge:
        net_->drop_packets(a, b);
        net_->drop_packets(b, a);
        break;
    }
    log_.add(fmt::format("partition around node {} ({}): {}", target, why, net_->describe()));
    co_await sleep_for(fault_lasts);
    net_->heal();
    log_.add("heal the network");
  }

  cluster& cl_;
  partitions* net_;
  std::mt19937_64 rng_;
  fault_log& log_;
};

// Runs a nemesis on a thread of its own, from construction until finish() or destruction.
class nemesis_thread {
 public:
  nemesis_thread(cluster& cl, partitions* net, std::uint64_t seed, fault_log& log)
      : thread_([this, &cl, net, seed, &log] {
          try {
            nemesis(cl, net, seed, log).run(stop_);
          } catch (...) {
            failure_ = std::current_exception();
          }
        }) {}
  ~nemesis_thread() { join(); }
  nemesis_thread(const nemesis_thread&) = delete;
  nemesis_thread& operator=(const nemesis_thread&) = delete;

  // Stops after the fault in progress is undone; rethrows what the nemesis failed with.
  void finish() {
    join();
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  void join() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  std::atomic<bool> stop_{false};
  std::exception_ptr failure_;
  std::thread thread_;
};

// The client that id `id` of `clients` runs: for transactions, the first half compare-and-set,
// the others transfer.
using client_loop = asio::awaitable<void> (*)(client_context);
client_loop client_for(workload_kind workload, int id, int clients) {
  if (workload == workload_kind::registers) return run_register_client;
  return id < clients / 2 ? run_cas_client : run_transfer_client;
}

// Reads `key` on `c` until it answers (a value or not-found) or `deadline` passes.
asio::awaitable<void> read_until_answered(client& c, std::uint64_t node, std::string key, history_recorder& h,
                                          steady::time_point deadline) {
  std::string last_error;
  bool answered = false;
  while (!answered && steady::now() < deadline) {
    auto op = h.invoke(100 + static_cast<int>(node), op_kind::get, key);
    auto r = co_await c.get(key);
    h.complete_get(op, r);
    answered = r || r.is(errc::not_found);
    if (!answered) last_error = r.message();
  }
  BOOST_TEST(answered, "no linearizable read of " << key << " on node " << node << " by the deadline: " << last_error);
}

// Reads every key the workload writes on node `node`, through `c`: the registers or
// compare-and-set keys one by one, the accounts in one mget (audited).
asio::awaitable<void> final_reads(client& c, std::uint64_t node, workload_kind workload, workload_settings w,
                                  history_recorder& h, transfer_audit& audit, steady::time_point deadline) {
  for (int k = 0; k < w.keys; ++k) {
    auto key = workload == workload_kind::registers ? register_key(k) : cas_key(k);
    co_await read_until_answered(c, node, key, h, deadline);
  }
  if (workload != workload_kind::transactions) co_return;
  std::string last_error;
  bool answered = false;
  while (!answered && steady::now() < deadline) {
    auto r = co_await read_accounts(c, w, 100 + static_cast<int>(node), h, audit);
    answered = r.ok();
    if (!answered) last_error = r.message();
  }
  BOOST_TEST(answered, "no linearizable read of the accounts on node " << node << " by the deadline: " << last_error);
}

long peak_rss_mib() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

// Writes the history to a file for a closer look; returns its path.
std::string save(const history& h, std::uint64_t seed) {
  const char* base = std::getenv("TMPDIR");
  auto path = std::filesystem::path(base ? base : "/tmp") / fmt::format("kvnode-lin-history-{}.txt", seed);
  std::ofstream out(path);
  lin_detail::clock_text clock{h.empty() ? steady::now() : h.front().invoked};
  for (std::size_t i = 0; i < h.size(); ++i) out << clock.line(h, i) << "\n";
  return path.string();
}

}  // namespace

void check_histories_under_faults(network_faults network, workload_kind workload) {
  const auto seed = seed_from_env();
  BOOST_TEST_MESSAGE("KV_LIN_SEED=" << seed);
  const bool partitioned = network == network_faults::partitions;
  cluster cl(3, {}, {}, partitioned ? member_addresses::distinct : member_addresses::shared);
  std::optional<partitions> net;
  if (partitioned) net.emplace(cl);
  const auto w = settings_from_env();
  history_recorder h;
  std::vector<client_stats> stats(static_cast<std::size_t>(w.clients));
  transfer_audit audit(w.opening_balance * w.keys);
  fault_log faults(steady::now());
  std::optional<nemesis_thread> nemesis_running;

  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    co_await wait_for_leader(cl);
    if (workload == workload_kind::transactions) {
      client::options opener_options;
      opener_options.endpoints = cl.endpoints();
      client opener(ctx.get_executor(), opener_options);
      auto opened = co_await open_accounts(opener, w, h);
      opener.close();
      BOOST_REQUIRE_MESSAGE(opened && opened->succeeded, "opening the accounts: " << opened.message());
    }
    nemesis_running.emplace(cl, net ? &*net : nullptr, seed, faults);
    bool stop = false;
    int running = w.clients;
    io::event done(ctx.get_executor());
    for (int c = 0; c < w.clients; ++c) {
      client_context context;
      context.id = c;
      context.home = static_cast<std::size_t>(c % 3 + 1);
      context.endpoints = cl.endpoints();
      context.settings = w;
      context.seed = seed * 1000 + static_cast<std::uint64_t>(c);
      context.stop = &stop;
      context.history = &h;
      context.stats = &stats[static_cast<std::size_t>(c)];
      context.audit = &audit;
      asio::co_spawn(
          ctx,
          [&, context]() -> asio::awaitable<void> {
            co_await client_for(workload, context.id, w.clients)(context);
            if (--running == 0) done.notify();
          },
          asio::detached);
    }
    co_await sleep_for(w.duration);
    stop = true;
    while (running > 0) co_await done.wait();
  }, std::chrono::duration_cast<std::chrono::seconds>(w.duration) + 90s);
  nemesis_running->finish();

  // Everything back up and connected: a linearizable read of every key on every node. After a
  // one-way partition a node may take seconds to serve reads again (see partition_test.cpp,
  // reads_on_a_follower_resume_soon_after_a_one_way_loss_heals), so reads are retried.
  if (net) net->heal();
  for (auto id : cl.ids()) {
    if (!cl.member(id).running()) cl.member(id).start();
    cl.member(id).resume();
  }
  long long final_reads_ms = 0;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    co_await wait_for_leader(cl, cl.ids(), 20s);
    co_await wait_converged(cl, 20s);
    const auto start = steady::now();
    for (auto id : cl.ids()) {
      client c(ctx.get_executor(), direct_options(cl.member(id).endpoint()));
      co_await final_reads(c, id, workload, w, h, audit, start + 20s);
      c.close();
    }
    final_reads_ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start).count();
  });

  client_stats total;
  client_stats cas;        // transactions: the first half of the clients
  client_stats transfers;  // ... the others
  for (int c = 0; c < w.clients; ++c) {
    const auto& s = stats[static_cast<std::size_t>(c)];
    total.add(s);
    (c < w.clients / 2 ? cas : transfers).add(s);
  }
  std::string reads;
  for (auto id : cl.ids()) {
    reads += fmt::format("{}node {}: {}", reads.empty() ? "" : ", ", id,
                         total.reads_by_endpoint[cl.member(id).endpoint()]);
  }
  std::string transactions;
  if (workload == workload_kind::transactions) {
    transactions = fmt::format("; compare-and-sets {} succeeded, {} failed; transfers {} succeeded, {} failed; {} audits",
                               cas.succeeded, cas.guards_failed, transfers.succeeded, transfers.guards_failed,
                               audit.audits());
    BOOST_TEST(cas.succeeded > 50, "too few compare-and-sets succeeded: " << cas.succeeded);
    BOOST_TEST(transfers.succeeded > 50, "too few transfers succeeded: " << transfers.succeeded);
    BOOST_TEST(audit.problems().empty(), "KV_LIN_SEED=" << seed << ": the transfers' answers disagree:\n"
                                                        << audit.problems() << "nemesis:\n" << faults.text()
                                                        << "full history: " << save(h.ops(), seed));
  }
  auto result = check_linearizable(h.ops());
  BOOST_TEST_MESSAGE("KV_LIN_SEED=" << seed << ": " << h.ops().size() << " operations (" << total.ok << " ok, "
                                    << total.failed << " failed, " << total.unknown << " unknown)" << transactions
                                    << ", " << faults.count() << " nemesis events; checked " << result.operations
                                    << " operations on " << result.keys << " keys in " << result.components
                                    << " components (" << result.dropped << " without effect, "
                                    << result.configurations << " configurations) in "
                                    << result.took.count() / 1000.0
                                    << " ms; answered reads by the node asked: " << reads
                                    << "; final reads on every node took " << final_reads_ms
                                    << " ms; this process's peak RSS " << peak_rss_mib() << " MiB\nnemesis:\n"
                                    << faults.text());
  BOOST_TEST(total.ok > 1000, "too little progress: " << total.ok << " operations succeeded\n" << faults.text());
  BOOST_TEST(faults.count() >= 5, faults.text());
  if (!result.linearizable) {
    BOOST_ERROR("KV_LIN_SEED=" << seed << ": the history is not linearizable:\n"
                               << result.explanation << "\nnemesis:\n"
                               << faults.text() << "full history: " << save(h.ops(), seed));
  }
}

}  // namespace kv::test
