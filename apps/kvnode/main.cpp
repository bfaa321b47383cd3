// kvnode: one server process. Reads its configuration, opens (and recovers) its data directory,
// serves until SIGINT/SIGTERM, then shuts down cleanly. SIGHUP reopens the log file.

#include "apps/kvnode/config.hpp"
#include "apps/kvnode/huge_pages.hpp"
#include "apps/kvnode/logging.hpp"
#include "apps/kvnode/node.hpp"
#include "core/base/spawn.hpp"
#include "core/base/version.hpp"
#include "raft/replica/store.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <csignal>
#include <pthread.h>
#include <cstdio>
#include <exception>
#include <optional>
#include <string_view>
#include <vector>

// jemalloc's defaults for this process (MALLOC_CONF in the environment still overrides them):
// back the heap with transparent huge pages. Recovery of a million keys takes a million small
// allocations, and with 4 KiB pages their page faults dominate recovery (docs/benchmarks.md).
// [node] huge-pages decides how long the kernel grants them (stop_huge_pages below).
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

// Turns transparent huge pages off for the rest of the process ([node] huge-pages = `mode`,
// apps/kvnode/huge_pages.hpp). The node runs either way, so a failure is a warning.
void stop_huge_pages(std::string_view mode, std::string_view when) {
  if (auto ec = kv::heap::disable_huge_pages()) {
    spdlog::warn("cannot turn transparent huge pages off ([node] huge-pages = \"{}\"): {}; the heap keeps them, and "
                 "the first touch of each new huge page may stall the node for milliseconds",
                 mode, ec.message());
    return;
  }
  spdlog::info("heap: transparent huge pages off {} ([node] huge-pages = \"{}\")", when, mode);
}

}  // namespace

int main(int argc, char** argv) {
  // A write to a closed pipe or socket (a log reader that went away, a client gone mid-reply)
  // fails with EPIPE instead of killing the node.
  std::signal(SIGPIPE, SIG_IGN);
  // SIGINT and SIGTERM wait (blocked, in every thread started from here on) until the handler
  // below is installed, so that one sent while the node starts shuts it down cleanly once it
  // runs instead of killing it.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
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
  if (cfg.node.huge_pages == kv::huge_pages_mode::never) stop_huge_pages("never", "from the start");
  std::unique_ptr<kv::node> node;
  // A SIGINT or SIGTERM from the start on (during recovery too) shuts the node down cleanly once
  // the loop runs, which is after the node exists.
  asio::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int signo) {
    if (ec) return;
    spdlog::info("received signal {}: shutting down (finishing in-flight requests)", signo);
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> { co_await node->shutdown(); },
        kv::stop_on_failure("the shutdown"));
  });
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);  // a pending one goes to the handler now
  try {
    node = std::make_unique<kv::node>(ctx, cfg);
  } catch (const kv::node_start_error& e) {
    if (e.why() == kv::node_start_error::kind::bad_configuration) {
      fmt::print(stderr, "kvnode: configuration error: {}\n", e.what());
      return exit_bad_config;
    }
    spdlog::critical("{}", e.what());
    return exit_cannot_start;
  }
  // Recovery has loaded the snapshot and the log: from here on the heap grows a little at a
  // time, where a huge page's first fault is a stall and not a saving.
  if (cfg.node.huge_pages == kv::huge_pages_mode::recovery) stop_huge_pages("recovery", "now that recovery is done");
  spdlog::info("{}", node->describe_start());
  int status = 0;
  node->start([&](std::exception_ptr e) {
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
  spdlog::info("kvnode {} stopped cleanly at applied index {}", cfg.node.id, node->store().applied_index());
  return status;
}
