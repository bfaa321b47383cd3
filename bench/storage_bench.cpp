// In-process storage benchmark: durable acknowledged writes per second and their latency for a
// number of concurrent writers, the latency cost of a snapshot taken under load, and recovery
// time for a large data set (snapshot + log).
//
//   storage_bench [--writers 1,16,64,256] [--seconds 5] [--value-size 100] [--keys 1000000]
//                 [--recovery-keys 1000000] [--dir /tmp/kvnode-bench] [--skip-recovery]
//                 [--skip-snapshot] [--fsync always|never] [--json]

#include "bench/args.hpp"
#include "bench/latency.hpp"
#include "raft/replica/store.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <functional>
#include <random>
#include <sstream>

using namespace std::chrono;
using namespace kv;
using kv::bench::latency_recorder;

namespace {

struct options {
  std::vector<int> writers{1, 16, 64, 256};
  double seconds = 5;
  std::size_t value_size = 100;
  std::uint64_t keys = 1'000'000;
  std::uint64_t recovery_keys = 1'000'000;
  std::filesystem::path dir = "/tmp/kvnode-bench";
  bool recovery = true;
  bool snapshot = true;
  bool json = false;
  fsync_policy fsync = fsync_policy::always;
};

options parse(int argc, char** argv) {
  options o;
  kv::bench::flag_table flags("storage_bench",
                              "In-process storage benchmark: durable acknowledged writes per second and their latency\n"
                              "per number of concurrent writers, the cost of a snapshot under load, and recovery time.");
  flags.add("--writers", "N,N,...", "concurrent writers, one run per count", o.writers);
  flags.add("--seconds", "S", "length of each run", o.seconds);
  flags.add("--value-size", "BYTES", "size of each value written", o.value_size);
  flags.add("--keys", "N", "random keys the writers pick from", o.keys);
  flags.add("--recovery-keys", "N", "keys in the data set whose recovery is timed", o.recovery_keys);
  flags.add("--dir", "DIR", "working directory for the stores, removed at the end", o.dir);
  flags.add_switch("--skip-recovery", "do not measure recovery", o.recovery, false);
  flags.add_switch("--skip-snapshot", "do not measure a snapshot under load", o.snapshot, false);
  flags.add_parsed("--fsync", "always|never", "the store's fsync policy", "always",
                   [&](const std::string& name, const std::string& v) {
                     if (v != "always" && v != "never") flags.usage_error(name + " takes always or never");
                     o.fsync = v == "never" ? fsync_policy::never : fsync_policy::always;
                   });
  flags.add_switch("--json", "print the report as JSON", o.json);
  flags.parse(argc, argv);
  return o;
}

storage_config bench_config(const options& o) {
  storage_config c;
  c.fsync = o.fsync;
  c.snapshot_entries = 1ull << 40;  // snapshots only where the bench asks for them
  c.snapshot_log_bytes = 1ull << 50;
  return c;
}

std::filesystem::path fresh_dir(const options& o, const std::string& name) {
  auto d = o.dir / name;
  std::filesystem::remove_all(d);
  return d;
}

// Runs `body(store)` while the store's coroutines run; stops the store afterwards.
void with_store(const std::filesystem::path& dir, const storage_config& cfg,
                std::function<asio::awaitable<void>(store&, asio::io_context&)> body) {
  asio::io_context ctx(1);
  store s(ctx.get_executor(), dir, cfg);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        auto driver = [&]() -> asio::awaitable<void> {
          co_await body(s, ctx);
          s.stop();
        };
        co_await (s.run() && driver());
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ctx.run();
}

struct load_result {
  std::uint64_t ops = 0;
  double seconds = 0;
  latency_recorder latency;
  std::uint64_t batches = 0;
};

// `writers` coroutines each set random keys back to back for `duration`.
asio::awaitable<load_result> run_load(store& s, int writers, duration<double> duration, const options& o,
                                      std::function<void(asio::any_io_executor)> midway = {}) {
  auto ex = co_await asio::this_coro::executor;
  load_result r;
  std::vector<latency_recorder> per_writer(static_cast<std::size_t>(writers));
  auto start = steady_clock::now();
  auto deadline = start + duration_cast<steady_clock::duration>(duration);
  int running = writers;
  asio::steady_timer all_done(ex, steady_clock::time_point::max());
  auto batches_before = s.log().written().batches;
  for (int w = 0; w < writers; ++w) {
    asio::co_spawn(
        ex,
        [&, w]() -> asio::awaitable<void> {
          std::mt19937_64 rng(static_cast<std::uint64_t>(w) * 7919 + 1);
          std::string value(o.value_size, 'v');
          while (steady_clock::now() < deadline) {
            auto key = fmt::format("key{:010}", rng() % o.keys);
            auto t0 = steady_clock::now();
            auto res = co_await s.set(std::move(key), value);
            per_writer[static_cast<std::size_t>(w)].add(steady_clock::now() - t0);
            if (!res) throw std::runtime_error("write failed: " + res.error().message());
            ++r.ops;
          }
          if (--running == 0) all_done.cancel();
        },
        asio::detached);
  }
  if (midway) {
    asio::steady_timer t(ex, start + duration_cast<steady_clock::duration>(duration) / 3);
    co_await t.async_wait(asio::use_awaitable);
    midway(ex);
  }
  std::error_code ec;
  while (running > 0) co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  r.seconds = duration_cast<microseconds>(steady_clock::now() - start).count() / 1e6;
  for (const auto& l : per_writer) r.latency.merge(l);
  r.batches = s.log().written().batches - batches_before;
  co_return r;
}

void print_load(const options& o, const std::string& name, int writers, load_result& r) {
  double rate = static_cast<double>(r.ops) / r.seconds;
  if (o.json) {
    fmt::print("{{\"bench\":\"{}\",\"writers\":{},\"value_size\":{},\"ops\":{},\"seconds\":{:.3f},\"ops_per_sec\":{:.0f},"
               "\"p50_us\":{:.1f},\"p99_us\":{:.1f},\"p999_us\":{:.1f},\"writes_per_batch\":{:.1f}}}\n",
               name, writers, o.value_size, r.ops, r.seconds, rate, r.latency.percentile_us(0.5),
               r.latency.percentile_us(0.99), r.latency.percentile_us(0.999),
               r.batches ? static_cast<double>(r.ops) / static_cast<double>(r.batches) : 0.0);
  } else {
    fmt::print("{:<22} {:>7} {:>12.0f} {:>10.1f} {:>10.1f} {:>10.1f} {:>12.1f}\n", name, writers, rate,
               r.latency.percentile_us(0.5), r.latency.percentile_us(0.99), r.latency.percentile_us(0.999),
               r.batches ? static_cast<double>(r.ops) / static_cast<double>(r.batches) : 0.0);
  }
}

// Fills a store with `keys` keys quickly (bulk_set in batches of 1000 pairs, many in flight).
asio::awaitable<void> fill(store& s, std::uint64_t first, std::uint64_t keys, std::size_t value_size) {
  auto ex = co_await asio::this_coro::executor;
  constexpr std::uint64_t per_bulk = 1000;
  constexpr int lanes = 16;
  int running = lanes;
  asio::steady_timer done(ex, steady_clock::time_point::max());
  for (int lane = 0; lane < lanes; ++lane) {
    asio::co_spawn(
        ex,
        [&, lane]() -> asio::awaitable<void> {
          std::string value(value_size, 'f');
          for (std::uint64_t b = first + static_cast<std::uint64_t>(lane) * per_bulk; b < first + keys;
               b += lanes * per_bulk) {
            std::vector<kv_pair> pairs;
            for (std::uint64_t k = b; k < std::min(b + per_bulk, first + keys); ++k)
              pairs.push_back({fmt::format("key{:010}", k), value});
            auto r = co_await s.bulk_set(std::move(pairs));
            if (!r) throw std::runtime_error("fill failed");
          }
          if (--running == 0) done.cancel();
        },
        asio::detached);
  }
  std::error_code ec;
  while (running > 0) co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

void bench_writers(const options& o) {
  if (!o.json) {
    fmt::print("# durable writes (fsync={}), {}-byte values, {} keys, {:g} s per run\n",
               o.fsync == fsync_policy::always ? "always" : "never", o.value_size, o.keys, o.seconds);
    fmt::print("{:<22} {:>7} {:>12} {:>10} {:>10} {:>10} {:>12}\n", "bench", "writers", "acks/s", "p50_us", "p99_us",
               "p999_us", "writes/batch");
  }
  for (int w : o.writers) {
    load_result r;
    with_store(fresh_dir(o, "writers"), bench_config(o), [&](store& s, asio::io_context&) -> asio::awaitable<void> {
      r = co_await run_load(s, w, duration<double>(o.seconds), o);
    });
    print_load(o, "set", w, r);
  }
}

void bench_snapshot(const options& o) {
  const std::uint64_t keys = o.recovery_keys;
  const int writers = 64;
  auto dir = fresh_dir(o, "snapshot");
  load_result quiet;
  load_result during;
  std::uint64_t snapshot_ms = 0;
  with_store(dir, bench_config(o), [&](store& s, asio::io_context&) -> asio::awaitable<void> {
    co_await fill(s, 0, keys, o.value_size);
    options lo = o;
    lo.keys = keys;
    quiet = co_await run_load(s, writers, duration<double>(o.seconds), lo);
    // A third of the way in, start a snapshot of the whole data set.
    during = co_await run_load(s, writers, duration<double>(o.seconds), lo,
                               [&](asio::any_io_executor ex) { asio::co_spawn(ex, s.snapshot_now(), asio::detached); });
    co_await s.snapshot_now();
    snapshot_ms = static_cast<std::uint64_t>(s.statistics().last_snapshot_duration.count() / 1000);
  });
  if (!o.json) {
    fmt::print("\n# snapshot under load: {} keys of {} bytes, {} writers; the snapshot took {} ms\n", keys,
               o.value_size, writers, snapshot_ms);
  }
  print_load(o, "set (no snapshot)", writers, quiet);
  print_load(o, "set (snapshot running)", writers, during);
}

void bench_recovery(const options& o) {
  const std::uint64_t keys = o.recovery_keys;
  auto dir = fresh_dir(o, "recovery");
  const std::uint64_t in_snapshot = keys * 8 / 10;
  with_store(dir, bench_config(o), [&](store& s, asio::io_context&) -> asio::awaitable<void> {
    co_await fill(s, 0, in_snapshot, o.value_size);
    co_await s.snapshot_now();
    // The rest as single sets, so the log replays one entry per key.
    auto ex = co_await asio::this_coro::executor;
    int running = 256;
    asio::steady_timer done(ex, steady_clock::time_point::max());
    std::uint64_t next = in_snapshot;
    for (int w = 0; w < 256; ++w) {
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            std::string value(o.value_size, 'l');
            while (next < keys) co_await s.set(fmt::format("key{:010}", next++), value);
            if (--running == 0) done.cancel();
          },
          asio::detached);
    }
    std::error_code ec;
    while (running > 0) co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  });
  asio::io_context ctx(1);
  auto t0 = steady_clock::now();
  store s(ctx.get_executor(), dir, bench_config(o));
  auto ms = duration_cast<microseconds>(steady_clock::now() - t0).count() / 1000.0;
  const auto& r = s.recovery();
  if (o.json) {
    fmt::print("{{\"bench\":\"recovery\",\"keys\":{},\"snapshot_keys\":{},\"log_entries\":{},\"ms\":{:.1f},"
               "\"snapshot_load_ms\":{:.1f},\"log_read_ms\":{:.1f}}}\n",
               s.state().key_count(), r.snapshot_pairs, r.replayed_entries, ms, r.snapshot_duration.count() / 1000.0,
               r.log_read_duration.count() / 1000.0);
  } else {
    fmt::print("\n# recovery: {} keys ({}-byte values) = snapshot of {} keys + {} log entries in {} segment(s): "
               "{:.1f} ms (snapshot load {:.1f} ms while the log was read in {:.1f} ms, then replay {:.1f} ms)\n",
               s.state().key_count(), o.value_size, r.snapshot_pairs, r.replayed_entries, r.segments, ms,
               r.snapshot_duration.count() / 1000.0, r.log_read_duration.count() / 1000.0,
               r.replay_duration.count() / 1000.0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  std::filesystem::create_directories(o.dir);
  bench_writers(o);
  if (o.snapshot) bench_snapshot(o);
  if (o.recovery) bench_recovery(o);
  std::filesystem::remove_all(o.dir);
}
