// kvnode: one server process. Reads its configuration, opens (and recovers) its data directory,
// serves until SIGINT/SIGTERM, then shuts down cleanly. SIGHUP reopens the log file.

#include "apps/kvnode/config.hpp"
#include "apps/kvnode/logging.hpp"
#include "core/base/error.hpp"
#include "core/base/spawn.hpp"
#include "raft/replica/store.hpp"
#include "core/base/version.hpp"
#include "index/node/node_index.hpp"
#include "raft/net/peer_transport.hpp"
#include "io/server/server.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <optional>
#include <string_view>
#include <vector>

// jemalloc's defaults for this process (MALLOC_CONF in the environment still overrides them):
// back the heap with transparent huge pages. Recovery of a million keys takes a million small
// allocations, and with 4 KiB pages their page faults dominate recovery (docs/benchmarks.md).
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "thp:always,metadata_thp:always";
}

namespace {

constexpr int exit_bad_config = 2;
constexpr int exit_cannot_start = 1;

// SIGHUP (logrotate's postrotate) reopens the log file and the node keeps serving. Cancelling
// `hangups` ends the wait.
void reopen_log_on_hangup(asio::signal_set& hangups, kv::logging::node_log& log) {
  hangups.async_wait([&hangups, &log](std::error_code ec, int) {
    if (ec) return;
    log.reopen();
    reopen_log_on_hangup(hangups, log);
  });
}

// Thousands of clients need thousands of descriptors: raise the soft limit to the hard one.
void raise_file_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

kv::config load(int argc, char** argv, bool& exit_now) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  auto cl = kv::parse_command_line(args);
  if (cl.help || cl.version) {
    std::fputs(cl.help ? kv::command_line_help().c_str() : fmt::format("kvnode {}\n", kv::version).c_str(), stdout);
    exit_now = true;
    return {};
  }
  kv::config c = cl.config_path ? kv::load_config(*cl.config_path) : kv::config{};
  kv::apply_overrides(c, cl);
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  // A write to a closed pipe or socket (a log reader that went away, a client gone mid-reply)
  // fails with EPIPE instead of killing the node.
  std::signal(SIGPIPE, SIG_IGN);
  kv::config cfg;
  try {
    bool exit_now = false;
    cfg = load(argc, argv, exit_now);
    if (exit_now) return 0;
  } catch (const kv::config_error& e) {
    fmt::print(stderr, "kvnode: configuration error: {}\n", e.what());
    return exit_bad_config;
  }

  std::optional<kv::logging::node_log> log;
  try {
    log.emplace(cfg.log, cfg.node.id);
  } catch (const std::exception& e) {
    fmt::print(stderr, "kvnode: cannot open log file {}: {}\n", cfg.log.file, e.what());
    return exit_bad_config;
  }
  // Taken from here on, so that a SIGHUP during recovery waits for the loop instead of killing
  // the node.
  asio::io_context ctx(1);
  asio::signal_set hangups(ctx, SIGHUP);
  reopen_log_on_hangup(hangups, *log);
  for (const auto& line : kv::describe(cfg)) spdlog::info("config {}", line);
  if (cfg.storage.fsync == kv::fsync_policy::never) {
    spdlog::warn("storage.fsync = \"never\": writes are acknowledged before they reach the disk; this node is NOT "
                 "durable and loses acknowledged writes on a crash or power failure");
  }

  raise_file_limit();
  // The search index follows the store from its recovery on, so it is made first.
  std::unique_ptr<kv::search::node_index> index;
  if (cfg.index.enabled) {
    try {
      index = std::make_unique<kv::search::node_index>(kv::search::options_of(cfg.index), cfg.index.wait_timeout,
                                                       cfg.node.data_dir, cfg.index.save_interval_bytes,
                                                       kv::search::query_routing{.here_postings = cfg.index.server_thread_postings,
                                                                                 .threads = cfg.index.query_threads});
    } catch (const std::invalid_argument& e) {
      fmt::print(stderr, "kvnode: configuration error: [index] {}\n", e.what());
      return exit_bad_config;
    }
  }
  std::unique_ptr<kv::store> store;
  try {
    store = std::make_unique<kv::store>(ctx.get_executor(), cfg.node.data_dir, cfg.storage, kv::replication_of(cfg),
                                        index.get());
  } catch (const std::exception& e) {
    spdlog::critical("cannot open data directory {}: {}", cfg.node.data_dir.string(), e.what());
    return exit_cannot_start;
  }
  std::unique_ptr<kv::peer_transport> peers;
  if (!cfg.cluster.members.empty()) {
    peers = std::make_unique<kv::peer_transport>(
        ctx.get_executor(), kv::peers_of(cfg), [&](kv::raft::message m) { store->receive(m); },
        [&](kv::raft::node_id peer) { store->peer_unreachable(peer); },
        [&](kv::raft::node_id peer, bool ok) { store->snapshot_sent(peer, ok); },
        [&](kv::raft::node_id from) { return store->incoming_snapshot_path(from); });
    store->attach(*peers);
    try {
      peers->start();
    } catch (const std::exception& e) {
      spdlog::critical("cannot listen for peers on {}: {}", cfg.cluster.self(cfg.node.id)->peer, e.what());
      return exit_cannot_start;
    }
  }
  kv::server server(ctx.get_executor(), *store, cfg.server, index.get());
  try {
    server.start();
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen on {}: {}", cfg.server.listen, e.what());
    return exit_cannot_start;
  }
  const auto& r = store->recovery();
  auto ep = server.local_endpoint();
  spdlog::info("kvnode {} serving on {}:{} ({}): data-dir={} keys={} applied-index={}; recovered snapshot-index={} + {} "
               "log entries from {} segment(s) in {:.1f} ms (snapshot {:.1f} ms, log read {:.1f} ms in parallel, "
               "index {:.1f} ms, replay {:.1f} ms, log and Raft opened {:.1f} ms){}",
               cfg.node.id, ep.address().to_string(), ep.port(),
               cfg.cluster.members.empty() ? std::string("a cluster of one")
                                           : fmt::format("one of {} voters", cfg.cluster.members.size()),
               cfg.node.data_dir.string(),
               store->state().key_count(), store->applied_index(), r.snapshot_index, r.replayed_entries, r.segments,
               r.duration.count() / 1000.0, r.snapshot_duration.count() / 1000.0, r.log_read_duration.count() / 1000.0,
               r.index_duration.count() / 1000.0, r.replay_duration.count() / 1000.0, r.open_duration.count() / 1000.0,
               r.torn_bytes ? fmt::format(" (discarded a torn tail of {} bytes)", r.torn_bytes) : "");

  asio::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int signo) {
    if (ec) return;
    spdlog::info("received signal {}: shutting down (finishing in-flight requests)", signo);
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          co_await server.stop();
          co_await store->hand_over_leadership();
          store->stop();
          if (peers) peers->stop();
        },
        kv::stop_on_failure("the shutdown"));
  });
  int status = 0;
  asio::co_spawn(ctx, store->run(), [&](std::exception_ptr e) {
    signals.cancel();
    hangups.cancel();
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::critical("storage engine stopped: {}", ex.what());
      status = exit_cannot_start;
    }
  });
  ctx.run();
  spdlog::info("kvnode {} stopped cleanly at applied index {}", cfg.node.id, store->applied_index());
  return status;
}
