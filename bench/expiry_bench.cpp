// expiry_bench: a mass expiry on a real node. Starts one kvnode (durable, default settings plus
// --settings), loads `--keys` keys whose TTLs all end at about the same moment, and measures
// what that expiry does to a steady probe of writes and reads: their latency before, during
// (from the last look that saw every key to the first that saw none) and after it, and from a
// compaction past the expiry (which frees what the deleted keys left) to half a second after its
// answer; how long the expiry took and how many revisions (expire batches) it used. Before that,
// the same keys without TTLs on a node of their own, for the memory a TTL adds per key.
//
//   expiry_bench [--keys 1000000] [--expire-after 5] [--settings '[cluster]; expiry-batch = 100']
//
// Keys are loaded in transactions of `--ops` puts, `--in-flight` of them pipelined on one
// connection. Each TTL is computed at its write so that every key expires at the same deadline:
// load start + 1.5 x the plain load's time + `--expire-after`. The probe is one client on a
// thread of its own: a set then a linearizable get of one key outside the loaded prefix, every
// `--probe-interval-ms` (no backlog: a late round starts at once, and the schedule moves on).
// Phases are found by polling the node's status (its key count and revision) every
// `--poll-ms`; the probe's own writes are taken out of the revision count.

#include "bench/args.hpp"
#include "bench/concurrently.hpp"
#include "bench/latency.hpp"
#include "bench/process_stats.hpp"
#include "bench/started_nodes.hpp"
#include "core/model/key_range.hpp"
#include "io/client/client.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <thread>

using namespace std::chrono;
using steady = steady_clock;

namespace {

struct options {
  std::uint64_t keys = 1'000'000;
  std::size_t value_size = 32;
  std::size_t ops = 128;
  int in_flight = 16;
  double expire_after = 5;
  double after_seconds = 3;
  double probe_interval_ms = 1;
  double poll_ms = 5;
  std::string settings;
  bool skip_plain = false;
};

options parse(int argc, char** argv) {
  options o;
  kv::bench::flag_table flags("expiry_bench",
                              "Loads keys whose TTLs end together into one node and measures what their expiry does\n"
                              "to a steady probe of writes and reads; compares the node's memory with the same keys\n"
                              "without TTLs.");
  flags.add("--keys", "N", "keys loaded, all with TTLs ending together", o.keys);
  flags.add("--value-size", "BYTES", "size of each value", o.value_size);
  flags.add("--ops", "N", "puts per load transaction (at most the node's max-txn-ops)", o.ops);
  flags.add("--in-flight", "N", "load transactions in flight at once", o.in_flight);
  flags.add("--expire-after", "S",
            "margin between the expected end of the load and the deadline (more than the 1 s the memory "
            "reading waits)",
            o.expire_after);
  flags.add("--after-seconds", "S", "probe time after the last key is gone", o.after_seconds);
  flags.add("--probe-interval-ms", "MS", "one set and one get per interval", o.probe_interval_ms);
  flags.add("--poll-ms", "MS", "how often the node's key count is read", o.poll_ms);
  flags.add_parsed("--settings", "'KEY = VALUE; ...'", "more configuration for the node (TOML lines; a [section] too)",
                   "", [&](const std::string&, const std::string& v) { o.settings = kv::bench::settings_lines(v); });
  flags.add_switch("--skip-plain", "do not load the keys without TTLs first (no memory comparison; the deadline then "
                   "assumes a load of 50,000 keys/s)", o.skip_plain);
  flags.parse(argc, argv);
  if (o.keys == 0 || o.ops == 0 || o.in_flight <= 0) {
    flags.usage_error("--keys, --ops and --in-flight must be positive");
  }
  return o;
}

const std::string prefix = "ttl/";
const std::string probe_key = "probe";

kv::client::options client_options(const std::string& endpoint) {
  kv::client::options c;
  c.endpoints = {endpoint};
  c.request_timeout = seconds(60);
  return c;
}

// Runs `body` on a fresh io_context with one client of its own.
void with_client(const std::string& endpoint, std::function<asio::awaitable<void>(kv::client&)> body) {
  asio::io_context ctx(1);
  kv::client c(ctx.get_executor(), client_options(endpoint));
  std::exception_ptr failure;
  asio::co_spawn(ctx, body(c), [&](std::exception_ptr e) {
    failure = e;
    c.close();
  });
  ctx.run();
  if (failure) std::rethrow_exception(failure);
}

asio::awaitable<void> sleep_for(steady::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

double seconds_between(steady::time_point a, steady::time_point b) { return duration<double>(b - a).count(); }

struct load_result {
  double seconds = 0;
  std::uint64_t late_keys = 0;  // written when their deadline had already passed (TTL of 1 ms)
};

// Loads keys ttl/000000000 ... in transactions of o.ops puts. With a deadline, each put's TTL is
// the time left until it.
load_result load(const std::string& endpoint, const options& o, std::optional<steady::time_point> deadline) {
  load_result out;
  const auto start = steady::now();
  with_client(endpoint, [&](kv::client& c) -> asio::awaitable<void> {
    std::uint64_t next = 0;
    const std::string value(o.value_size, 'v');
    co_await kv::bench::all_of(o.in_flight, [&](int) -> asio::awaitable<void> {
      while (next < o.keys) {
        const auto first = next;
        const auto end = std::min(first + o.ops, o.keys);
        next = end;
        kv::txn t;
        for (auto k = first; k < end; ++k) {
          auto key = fmt::format("{}{:09}", prefix, k);
          if (!deadline) {
            t.then_ops.push_back(kv::make_put(std::move(key), value));
            continue;
          }
          auto left = duration_cast<milliseconds>(*deadline - steady::now()).count();
          if (left < 1) ++out.late_keys;
          t.then_ops.push_back(kv::make_put_ttl(std::move(key), value, std::max<std::int64_t>(left, 1)));
        }
        auto r = co_await c.txn(std::move(t));
        if (!r) throw std::runtime_error("load failed: " + r.message());
      }
    });
  });
  out.seconds = seconds_between(start, steady::now());
  return out;
}

struct status_sample {
  steady::time_point at;
  std::uint64_t keys = 0;
  std::uint64_t revision = 0;
  std::uint64_t wal_batches = 0;         // group-commit writes, each ending in an fdatasync
  std::map<pid_t, double> node_threads;  // CPU seconds by thread, read right after the status
  double main_waiting = 0;                // seconds the node's main thread waited for a core
};

asio::awaitable<status_sample> poll_status(kv::client& c, pid_t node) {
  auto st = co_await c.status();
  if (!st) throw std::runtime_error("status failed: " + st.message());
  status_sample s;
  s.at = steady::now();
  s.keys = st->number("keys");
  s.revision = st->number("revision");
  s.wal_batches = st->number("wal_batches");
  s.node_threads = kv::bench::thread_cpu_seconds(node);
  s.main_waiting = kv::bench::thread_wait_seconds(node, node);
  co_return s;
}

// The node's CPU between two samples, in cores: all of it, then each thread that used at least
// a twentieth of a core, by name (the main thread named as such); how long the main thread
// waited for a core; the WAL writes.
std::string node_cpu(const status_sample& from, const status_sample& to, pid_t node) {
  const double wall = seconds_between(from.at, to.at);
  double total = 0;
  std::string threads;
  for (const auto& [tid, cpu] : to.node_threads) {
    auto before = from.node_threads.find(tid);
    const double used = (cpu - (before == from.node_threads.end() ? 0 : before->second)) / wall;
    total += used;
    if (used < 0.05) continue;
    std::string name;
    std::ifstream(fmt::format("/proc/{}/task/{}/comm", node, tid)) >> name;
    threads += fmt::format("{}{} {} {:.2f}", threads.empty() ? "" : ", ", tid == node ? "main" : "thread", name, used);
  }
  const auto syncs = to.wal_batches - from.wal_batches;
  return fmt::format("{:.2f} cores ({}); main thread waiting for a core {:.0f}% of the time; {} WAL writes, {:.2f} "
                     "ms apart",
                     total, threads, 100 * (to.main_waiting - from.main_waiting) / wall, syncs,
                     syncs == 0 ? 0.0 : wall * 1000 / static_cast<double>(syncs));
}

// The node's resident memory after a second's pause, for its allocator to settle.
std::uint64_t settled_rss(pid_t pid) {
  std::this_thread::sleep_for(seconds(1));
  return kv::bench::rss_bytes(pid);
}

struct probe_round {
  steady::time_point sent;
  nanoseconds write{0};
  nanoseconds read{0};
  std::uint64_t revision = 0;  // the probe write's
};

// One client on its own thread: a set and a linearizable get every interval until stopped.
class probe {
 public:
  probe(std::string endpoint, const options& o)
      : thread_([this, endpoint = std::move(endpoint), interval = duration<double, std::milli>(o.probe_interval_ms)] {
          run(endpoint, duration_cast<steady::duration>(interval));
        }) {}
  ~probe() { stop(); }

  // Ends the probe; its rounds are complete once this returns.
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (failure_) std::rethrow_exception(failure_);
  }
  const std::vector<probe_round>& rounds() const { return rounds_; }

 private:
  void run(const std::string& endpoint, steady::duration interval) {
    try {
      with_client(endpoint, [this, interval](kv::client& c) -> asio::awaitable<void> {
        auto next = steady::now();
        for (std::uint64_t n = 0; !stop_; ++n) {
          probe_round round;
          round.sent = steady::now();
          auto w = co_await c.set(probe_key, std::to_string(n));
          if (!w) throw std::runtime_error("probe write failed: " + w.message());
          const auto written = steady::now();
          auto r = co_await c.get(probe_key);
          if (!r) throw std::runtime_error("probe read failed: " + r.message());
          round.write = written - round.sent;
          round.read = steady::now() - written;
          round.revision = w->revision;
          rounds_.push_back(round);
          next = std::max(next + interval, steady::now());
          co_await sleep_for(next - steady::now());
        }
      });
    } catch (...) {
      failure_ = std::current_exception();
    }
  }

  std::atomic<bool> stop_{false};
  std::vector<probe_round> rounds_;
  std::exception_ptr failure_;
  std::thread thread_;  // last: starts once the members above exist
};

// The rounds that ended in [from, to): a stall counts in the phase it ended in.
void print_phase(const char* name, const std::vector<probe_round>& rounds, steady::time_point from,
                 steady::time_point to) {
  kv::bench::latency_recorder writes;
  kv::bench::latency_recorder reads;
  for (const auto& r : rounds) {
    const auto ended = r.sent + r.write + r.read;
    if (ended < from || ended >= to) continue;
    writes.add(r.write);
    reads.add(r.read);
  }
  auto ms = [](kv::bench::latency_recorder& l, double q) { return l.percentile_us(q) / 1000.0; };
  fmt::print("  {:<7} {:>6} rounds  write p50 {:6.2f} p99 {:7.2f} max {:7.2f} ms   read p50 {:6.2f} p99 {:7.2f} "
             "max {:7.2f} ms\n",
             name, writes.count(), ms(writes, 0.5), ms(writes, 0.99), ms(writes, 1.0), ms(reads, 0.5),
             ms(reads, 0.99), ms(reads, 1.0));
}

struct memory_figures {
  std::uint64_t empty = 0;
  std::uint64_t loaded = 0;
  double per_key(std::uint64_t keys) const {
    return (static_cast<double>(loaded) - static_cast<double>(empty)) / static_cast<double>(keys);
  }
};

// The same keys without TTLs: load time and memory.
std::pair<load_result, memory_figures> plain_run(const options& o) {
  std::vector<std::string> endpoints;
  auto nodes = kv::bench::start_nodes(true, 0, o.settings, endpoints);
  memory_figures m;
  m.empty = settled_rss(nodes.node->pid());
  auto l = load(endpoints[0], o, std::nullopt);
  m.loaded = settled_rss(nodes.node->pid());
  fmt::print("without TTLs: loaded {} keys in {:.1f} s ({:.0f} keys/s); node RSS {:.1f} MiB empty, {:.1f} MiB "
             "loaded: {:.1f} bytes per key\n",
             o.keys, l.seconds, static_cast<double>(o.keys) / l.seconds, static_cast<double>(m.empty) / 1048576.0,
             static_cast<double>(m.loaded) / 1048576.0, m.per_key(o.keys));
  return {l, m};
}

void ttl_run(const options& o, const std::optional<memory_figures>& plain, double expected_load_seconds) {
  std::vector<std::string> endpoints;
  auto nodes = kv::bench::start_nodes(true, 0, o.settings, endpoints);
  const auto endpoint = endpoints[0];
  const auto pid = nodes.node->pid();
  memory_figures m;
  m.empty = settled_rss(pid);

  const auto load_start = steady::now();
  const auto deadline = load_start + duration_cast<steady::duration>(
                                         duration<double>(1.5 * expected_load_seconds + o.expire_after));
  auto l = load(endpoint, o, deadline);
  m.loaded = settled_rss(pid);
  fmt::print("with TTLs:    loaded {} keys in {:.1f} s ({:.0f} keys/s), {} written past the deadline; node RSS "
             "{:.1f} MiB empty, {:.1f} MiB loaded: {:.1f} bytes per key",
             o.keys, l.seconds, static_cast<double>(o.keys) / l.seconds, l.late_keys,
             static_cast<double>(m.empty) / 1048576.0, static_cast<double>(m.loaded) / 1048576.0, m.per_key(o.keys));
  if (plain) fmt::print(", {:+.1f} bytes per key for the TTL", m.per_key(o.keys) - plain->per_key(o.keys));
  fmt::print("\n");
  if (steady::now() >= deadline) fmt::print("warning: the deadline passed before the probe started\n");

  with_client(endpoint, [](kv::client& c) -> asio::awaitable<void> {
    if (!co_await c.set(probe_key, "0")) throw std::runtime_error("the probe's first write failed");
  });
  probe p(endpoint, o);
  std::optional<status_sample> probe_start;
  std::optional<status_sample> last_full;
  std::optional<status_sample> first_empty;
  std::optional<steady::time_point> first_delete_seen;
  std::optional<status_sample> end;
  steady::time_point compact_sent;
  std::optional<status_sample> compact_done;
  with_client(endpoint, [&](kv::client& c) -> asio::awaitable<void> {
    probe_start = co_await poll_status(c, pid);
    const auto poll = duration_cast<steady::duration>(duration<double, std::milli>(o.poll_ms));
    for (;;) {
      auto s = co_await poll_status(c, pid);
      const auto loaded = s.keys - 1;  // the probe's key is the other one
      if (loaded >= o.keys) last_full = s;
      if (loaded < o.keys && !first_delete_seen) first_delete_seen = s.at;
      if (loaded == 0) {
        first_empty = s;
        break;
      }
      co_await sleep_for(poll);
    }
    co_await sleep_for(duration_cast<steady::duration>(duration<double>(o.after_seconds)));
    end = co_await poll_status(c, pid);
    // What the expired keys leave behind (each one's last version and its tombstone) goes when
    // a compaction passes their revisions: here at once, as kvctl compact would.
    compact_sent = steady::now();
    auto compacted = co_await c.compact(first_empty->revision);
    if (!compacted) throw std::runtime_error("compaction failed: " + compacted.message());
    compact_done = co_await poll_status(c, pid);
    co_await sleep_for(milliseconds(500));
    auto count = kv::make_range(prefix, kv::prefix_end(prefix));
    count.flags |= kv::op_count_only;
    auto left = co_await c.range(std::move(count));
    if (!left) throw std::runtime_error("count failed: " + left.message());
    if (left->count != 0) throw std::runtime_error(fmt::format("{} keys left after the expiry", left->count));
  });
  p.stop();
  if (!last_full) throw std::runtime_error("the expiry began before the probe did");

  std::uint64_t probe_writes = 0;
  for (const auto& r : p.rounds()) {
    if (r.revision > last_full->revision && r.revision <= first_empty->revision) ++probe_writes;
  }
  const auto revisions = first_empty->revision - last_full->revision - probe_writes;
  const double took = seconds_between(last_full->at, first_empty->at);
  fmt::print("expiry: began {:+.0f} ms from the deadline, {} keys gone in {:.2f} s ({:.0f} keys/s), {} revisions "
             "({:.0f} keys each)\n",
             duration<double, std::milli>(*first_delete_seen - deadline).count(), o.keys, took,
             static_cast<double>(o.keys) / took, revisions,
             static_cast<double>(o.keys) / static_cast<double>(std::max<std::uint64_t>(revisions, 1)));
  fmt::print("probe (set, then linearizable get, every {} ms):\n", o.probe_interval_ms);
  const auto begin = p.rounds().empty() ? steady::now() : p.rounds().front().sent;
  print_phase("before", p.rounds(), begin, last_full->at);
  print_phase("during", p.rounds(), last_full->at, first_empty->at);
  print_phase("after", p.rounds(), first_empty->at, compact_sent);
  print_phase("compact", p.rounds(), compact_sent, steady::time_point::max());
  fmt::print("node CPU:\n  before  {}\n  during  {}\n  after   {}\n  compact {}\n",
             node_cpu(*probe_start, *last_full, pid),
             node_cpu(*last_full, *first_empty, pid), node_cpu(*first_empty, *end, pid),
             node_cpu(*end, *compact_done, pid));
  fmt::print("compaction to revision {} (past the expiry): answered in {:.1f} ms\n", first_empty->revision,
             duration<double, std::milli>(compact_done->at - compact_sent).count());
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  try {
    fmt::print("# expiry_bench: {} keys, values of {} bytes, {} puts per transaction, {} in flight\n", o.keys,
               o.value_size, o.ops, o.in_flight);
    std::optional<memory_figures> plain;
    double expected = static_cast<double>(o.keys) / 50'000.0;  // without a plain run: a guess of 50k keys/s
    if (!o.skip_plain) {
      auto [l, m] = plain_run(o);
      plain = m;
      expected = l.seconds;
    }
    ttl_run(o, plain, expected);
  } catch (const std::exception& e) {
    fmt::print(stderr, "expiry_bench: {}\n", e.what());
    return 1;
  }
}
