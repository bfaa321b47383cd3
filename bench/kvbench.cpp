// kvbench: load generator for a running kvnode (or one it starts).
//
//   kvbench [--endpoints H:P] [--connections 50] [--pipeline 1] [--seconds 10] [--warmup 1]
//           [--value-size 100] [--keys 1000000] [--reads 0.0] [--prefill] [--json]
//           [--start-node] [--fsync always|never]
//
// Each connection is one client (one TCP connection) with `pipeline` requests in flight, each
// sent as soon as the previous one on its slot is answered. `--reads` is the fraction of GETs
// (the rest are SETs) over `--keys` random keys; `--prefill` first writes every key so that
// reads hit. Latency is measured from sending a request to receiving its acknowledgement.
// `--start-node` runs build/bin/kvnode on a fresh data directory and a free port for the run.

#include "bench/latency.hpp"
#include "bench/node_process.hpp"
#include "io/client.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <thread>

using namespace std::chrono;
using kv::bench::latency_recorder;

namespace {

struct options {
  std::string endpoint = "127.0.0.1:7379";
  int connections = 50;
  int pipeline = 1;
  double seconds = 10;
  double warmup = 1;
  std::size_t value_size = 100;
  std::uint64_t keys = 1'000'000;
  double reads = 0;
  bool prefill = false;
  bool json = false;
  bool start_node = false;
  std::string fsync = "always";
};

[[noreturn]] void usage(const std::string& why) {
  fmt::print(stderr, "kvbench: {}\nsee the comment at the top of bench/kvbench.cpp\n", why);
  std::exit(2);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--endpoints") o.endpoint = next();
      else if (a == "--connections") o.connections = std::stoi(next());
      else if (a == "--pipeline") o.pipeline = std::stoi(next());
      else if (a == "--seconds") o.seconds = std::stod(next());
      else if (a == "--warmup") o.warmup = std::stod(next());
      else if (a == "--value-size") o.value_size = std::stoul(next());
      else if (a == "--keys") o.keys = std::stoull(next());
      else if (a == "--reads") o.reads = std::stod(next());
      else if (a == "--prefill") o.prefill = true;
      else if (a == "--json") o.json = true;
      else if (a == "--start-node") o.start_node = true;
      else if (a == "--fsync") o.fsync = next();
      else usage("unknown option " + a);
    } catch (const std::logic_error&) {
      usage("bad value for " + a);
    }
  }
  if (o.connections < 1 || o.pipeline < 1 || o.keys < 1 || o.reads < 0 || o.reads > 1) usage("invalid shape");
  return o;
}

std::string key_name(std::uint64_t k) { return fmt::format("key:{:012}", k); }

struct totals {
  std::uint64_t ops = 0;
  std::uint64_t reads = 0;
  std::uint64_t errors = 0;
  std::uint64_t not_found = 0;
  std::string first_error;
  latency_recorder latency;
};

asio::awaitable<void> wait_for_node(kv::client& c) {
  auto until = steady_clock::now() + seconds(30);
  for (;;) {
    if (co_await c.ping()) co_return;
    if (steady_clock::now() > until) throw std::runtime_error("the node did not answer within 30 s");
    asio::steady_timer t(co_await asio::this_coro::executor, milliseconds(50));
    co_await t.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> prefill(kv::client& c, const options& o) {
  const std::uint64_t per_bulk = 500;
  std::string value(o.value_size, 'p');
  for (std::uint64_t k = 0; k < o.keys; k += per_bulk) {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (auto j = k; j < std::min(k + per_bulk, o.keys); ++j) pairs.emplace_back(key_name(j), value);
    auto r = co_await c.bulk_set(std::move(pairs));
    if (!r) throw std::runtime_error("prefill failed: " + r.message());
  }
}

asio::awaitable<void> worker(kv::client& c, const options& o, std::uint64_t seed, steady_clock::time_point measure_from,
                             steady_clock::time_point until, totals& t) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> coin(0, 1);
  std::string value(o.value_size, 'v');
  while (steady_clock::now() < until) {
    auto key = key_name(rng() % o.keys);
    bool read = o.reads > 0 && coin(rng) < o.reads;
    auto start = steady_clock::now();
    kv::error_info failure;
    bool ok = true;
    bool not_found = false;
    if (read) {
      auto r = co_await c.get(std::move(key));
      not_found = r.is(kv::errc::not_found);
      if (!r && !not_found) {
        ok = false;
        failure = r.failure();
      }
    } else {
      auto r = co_await c.set(std::move(key), value);
      if (!r) {
        ok = false;
        failure = r.failure();
      }
    }
    auto end = steady_clock::now();
    if (start < measure_from) continue;
    if (!ok) {
      if (t.errors++ == 0) t.first_error = failure.message.empty() ? failure.code.message() : failure.message;
      continue;
    }
    ++t.ops;
    t.reads += read;
    t.not_found += not_found;
    t.latency.add(end - start);
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  std::unique_ptr<kv::bench::node_process> node;
  if (o.start_node) {
    node = std::make_unique<kv::bench::node_process>(fmt::format("[storage]\nfsync = \"{}\"\n", o.fsync));
    o.endpoint = node->endpoint();
  }

  asio::io_context ctx(1);
  std::vector<std::unique_ptr<kv::client>> clients;
  for (int i = 0; i < o.connections; ++i) {
    kv::client::options co;
    co.endpoints = {o.endpoint};
    co.request_timeout = seconds(30);
    clients.push_back(std::make_unique<kv::client>(ctx.get_executor(), co));
  }
  totals t;
  double elapsed = 0;
  std::exception_ptr failure;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        co_await wait_for_node(*clients[0]);
        if (o.prefill) co_await prefill(*clients[0], o);
        auto start = steady_clock::now();
        auto measure_from = start + duration_cast<steady_clock::duration>(duration<double>(o.warmup));
        auto until = measure_from + duration_cast<steady_clock::duration>(duration<double>(o.seconds));
        int running = o.connections * o.pipeline;
        asio::steady_timer done(ctx, steady_clock::time_point::max());
        for (int c = 0; c < o.connections; ++c) {
          for (int p = 0; p < o.pipeline; ++p) {
            asio::co_spawn(
                ctx,
                [&, c, p]() -> asio::awaitable<void> {
                  co_await worker(*clients[c], o, static_cast<std::uint64_t>(c) * 1000 + p + 1, measure_from, until, t);
                  if (--running == 0) done.cancel();
                },
                asio::detached);
          }
        }
        std::error_code ec;
        while (running > 0) co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        elapsed = duration<double>(steady_clock::now() - measure_from).count();
        for (auto& cl : clients) cl->close();
      },
      [&](std::exception_ptr e) { failure = e; });
  ctx.run();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      fmt::print(stderr, "kvbench: {}\n", e.what());
      return 3;
    }
  }
  double rate = static_cast<double>(t.ops) / elapsed;
  const char* shape = o.reads == 0 ? "set" : o.reads == 1 ? "get" : "mixed";
  if (o.json) {
    fmt::print("{{\"bench\":\"{}\",\"connections\":{},\"pipeline\":{},\"value_size\":{},\"keys\":{},\"reads\":{},"
               "\"seconds\":{:.2f},\"ops\":{},\"ops_per_sec\":{:.0f},\"p50_ms\":{:.3f},\"p99_ms\":{:.3f},"
               "\"p999_ms\":{:.3f},\"errors\":{},\"not_found\":{}}}\n",
               shape, o.connections, o.pipeline, o.value_size, o.keys, o.reads, elapsed, t.ops, rate,
               t.latency.percentile_us(0.5) / 1000, t.latency.percentile_us(0.99) / 1000,
               t.latency.percentile_us(0.999) / 1000, t.errors, t.not_found);
  } else {
    fmt::print("{:<6} c={:<4} P={:<3} {:>10.0f} ops/s  p50 {:.3f} ms  p99 {:.3f} ms  p99.9 {:.3f} ms  ({} ops in "
               "{:.1f} s, {} errors{})\n",
               shape, o.connections, o.pipeline, rate, t.latency.percentile_us(0.5) / 1000,
               t.latency.percentile_us(0.99) / 1000, t.latency.percentile_us(0.999) / 1000, t.ops, elapsed, t.errors,
               t.errors ? ": " + t.first_error : std::string());
  }
  return t.errors == 0 ? 0 : 3;
}
