// Crash-recovery benchmark: fill a node with N keys, write under load, SIGKILL the node at a
// random moment, restart it, and report how long until it serves again and how many
// acknowledged writes were lost (must be 0).
//
//   recovery_bench [--keys 100000,1000000] [--writers 64] [--value-size 100] [--load-seconds 3]
//                  [--seed N] [--json]

#include "bench/args.hpp"
#include "bench/concurrently.hpp"
#include "harness/node_process.hpp"
#include "io/client/client.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <random>
#include <regex>
#include <sstream>
#include <unordered_map>

using namespace std::chrono;

namespace {

struct options {
  std::vector<std::uint64_t> keys{100'000, 1'000'000};
  int writers = 64;
  std::size_t value_size = 100;
  double load_seconds = 3;
  std::uint64_t seed = std::random_device{}();
  bool json = false;
};

options parse(int argc, char** argv) {
  options o;
  kv::bench::flag_table flags("recovery_bench",
                              "Fills a node, writes under load, kill -9s it at a random moment and restarts it: how\n"
                              "long until it serves again, and how many acknowledged writes were lost (must be 0).");
  flags.add("--keys", "N,N,...", "keys to fill the node with, one run per count", o.keys);
  flags.add("--writers", "N", "concurrent writers during the load", o.writers);
  flags.add("--value-size", "BYTES", "size of each value written", o.value_size);
  flags.add("--load-seconds", "S", "write load before the kill comes, at a random moment", o.load_seconds);
  flags.add("--seed", "N", "seed of the random kill moment", o.seed);
  flags.shown_default("random");
  flags.add_switch("--json", "print the report as JSON", o.json);
  flags.parse(argc, argv);
  return o;
}

kv::client::options client_options(const std::string& endpoint) {
  kv::client::options c;
  c.endpoints = {endpoint};
  c.request_timeout = seconds(60);
  return c;
}

// Runs `body` on a fresh io_context with one client.
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

std::string key_name(std::uint64_t k) { return fmt::format("key:{:012}", k); }

void run(const options& o, std::uint64_t keys, std::mt19937_64& rng) {
  kv::harness::node_options no;
  no.log_keys = "level = \"info\"\n";
  no.log = kv::harness::log_sink::file;
  kv::harness::node_process node(no);

  // Fill: bulk sets of 1000 pairs from 8 lanes.
  auto fill_start = steady_clock::now();
  with_client(node.endpoint(), [&](kv::client& c) -> asio::awaitable<void> {
    std::string value(o.value_size, 'f');
    co_await kv::bench::all_of(8, [&](int lane) -> asio::awaitable<void> {
      for (std::uint64_t b = static_cast<std::uint64_t>(lane) * 1000; b < keys; b += 8 * 1000) {
        std::vector<std::pair<std::string, std::string>> pairs;
        for (auto k = b; k < std::min(b + 1000, keys); ++k) pairs.emplace_back(key_name(k), value);
        auto r = co_await c.bulk_set(std::move(pairs));
        if (!r) throw std::runtime_error("fill failed: " + r.message());
      }
    });
  });
  auto fill_s = duration<double>(steady_clock::now() - fill_start).count();

  // Load: each writer overwrites random keys of its own (k % writers == w), so every key has
  // one writer and its writes are ordered. Remember the latest acknowledged value of each key;
  // kill the node at a random moment.
  std::unordered_map<std::string, std::string> acked;
  std::uint64_t acked_writes = 0;
  auto kill_after = duration<double>(o.load_seconds * (0.3 + 0.7 * std::uniform_real_distribution<>(0, 1)(rng)));
  {
    asio::io_context ctx(1);
    std::vector<std::unique_ptr<kv::client>> clients;
    for (int w = 0; w < o.writers; ++w) clients.push_back(std::make_unique<kv::client>(ctx.get_executor(), client_options(node.endpoint())));
    bool killed = false;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          asio::steady_timer t(ctx, duration_cast<steady_clock::duration>(kill_after));
          co_await t.async_wait(asio::use_awaitable);
          node.kill9();
          killed = true;
        },
        asio::detached);
    for (int w = 0; w < o.writers; ++w) {
      asio::co_spawn(
          ctx,
          [&, w]() -> asio::awaitable<void> {
            std::mt19937_64 local(static_cast<std::uint64_t>(w) + o.seed);
            for (std::uint64_t n = 0; !killed; ++n) {
              auto per_writer = keys / static_cast<std::uint64_t>(o.writers);
              auto key = key_name(local() % per_writer * static_cast<std::uint64_t>(o.writers) + static_cast<std::uint64_t>(w));
              auto value = fmt::format("{}:{}:{}", w, n, std::string(o.value_size > 24 ? o.value_size - 24 : 0, 'x'));
              auto r = co_await clients[static_cast<std::size_t>(w)]->set(key, value);
              if (!r) break;
              acked[key] = value;
              ++acked_writes;
            }
            clients[static_cast<std::size_t>(w)]->close();
          },
          asio::detached);
    }
    ctx.run();
  }

  // Restart and time until it serves again.
  auto restart = steady_clock::now();
  node.launch();
  double serve_ms = -1;
  with_client(node.endpoint(), [&](kv::client& c) -> asio::awaitable<void> {
    for (;;) {
      if (co_await c.ping()) break;
      asio::steady_timer t(co_await asio::this_coro::executor, milliseconds(2));
      co_await t.async_wait(asio::use_awaitable);
    }
    serve_ms = duration<double, std::milli>(steady_clock::now() - restart).count();
  });

  // Verify: each key must hold its latest acknowledged value, or a later write of the same
  // writer that reached the disk without being acknowledged; anything else is a lost write.
  auto sequence = [](const std::string& v) { return std::stoull(v.substr(v.find(':') + 1)); };
  std::uint64_t lost = 0;
  with_client(node.endpoint(), [&](kv::client& c) -> asio::awaitable<void> {
    std::vector<std::pair<std::string, std::string>> todo(acked.begin(), acked.end());
    co_await kv::bench::all_of(64, [&](int lane) -> asio::awaitable<void> {
      for (std::size_t i = static_cast<std::size_t>(lane); i < todo.size(); i += 64) {
        auto got = co_await c.get(todo[i].first);
        if (!got || got->size() < 4 || (*got)[0] == 'f' || sequence(*got) < sequence(todo[i].second)) ++lost;
      }
    });
    auto st = co_await c.status();
    if (!st || st->number("keys") < keys) ++lost;
  });

  std::string recovery_line;
  std::smatch m;
  auto log = node.log();
  std::regex re("recovered snapshot-index=\\d+ \\+ (\\d+) log entries from \\d+ segment\\(s\\) in ([0-9.]+) ms");
  std::string replayed = "?";
  std::string recovery_ms = "?";
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator(); ++it) {
    replayed = (*it)[1];
    recovery_ms = (*it)[2];
  }
  if (o.json) {
    fmt::print("{{\"bench\":\"crash_recovery\",\"keys\":{},\"acked_writes\":{},\"killed_after_s\":{:.2f},"
               "\"recovery_ms\":{},\"log_entries_replayed\":{},\"time_to_serve_ms\":{:.1f},\"lost\":{}}}\n",
               keys, acked_writes, kill_after.count(), recovery_ms, replayed, serve_ms, lost);
  } else {
    fmt::print("{:>8} keys: filled in {:.1f} s; {} writes acknowledged, SIGKILL after {:.2f} s; restart: recovery "
               "{} ms ({} log entries), serving again after {:.1f} ms; acknowledged writes lost: {}\n",
               keys, fill_s, acked_writes, kill_after.count(), recovery_ms, replayed, serve_ms, lost);
  }
  if (std::getenv("KV_BENCH_SHOW_LOG")) fmt::print("{}", log);
  if (lost != 0) std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  std::mt19937_64 rng(o.seed);
  if (!o.json) fmt::print("# crash-recovery bench, seed {}\n", o.seed);
  for (auto k : o.keys) run(o, k, rng);
}
