// Crash test for the storage engine: a child process writes through the store from many
// coroutines and reports each acknowledged write on a pipe; the parent kills it with SIGKILL at
// a random moment, reopens the data directory and checks that every acknowledged write is
// there with its value, and that no BulkSet is half applied. The data directory carries over
// from one iteration to the next, so recovery also crosses snapshots and segment rotations.
//
// KV_CRASH_ITERATIONS sets the number of kills (default 40); KV_CRASH_SEED replays a run.

#include "raft/replica/store.hpp"
#include "support/async.hpp"
#include "support/temp_dir.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>

using namespace kv;

namespace {

constexpr int writers = 24;
constexpr int bulk_pairs = 4;

storage_config crash_config() {
  storage_config c;
  c.segment_bytes = 256u << 10;
  c.max_batch_bytes = 64u << 10;
  c.snapshot_entries = 3000;
  return c;
}

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

// The child: write forever, reporting acknowledgements on `out`. Line formats:
//   S <key> <value>      a set was acknowledged
//   A <tag>              a bulk_set with this tag is about to be submitted
//   B <tag>              that bulk_set was acknowledged
//   O <writer> <seq>     the overwrite of key o<writer> with value <seq> was acknowledged
[[noreturn]] void child(const std::filesystem::path& dir, int out, std::uint64_t iteration) {
  auto report = [out](const std::string& line) {
    std::string_view rest = line;
    while (!rest.empty()) {
      auto n = ::write(out, rest.data(), rest.size());
      if (n <= 0) ::_exit(3);
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
  };
  test::run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    store s(ctx.get_executor(), dir, crash_config());
    for (int w = 0; w < writers; ++w) {
      asio::co_spawn(
          ctx,
          [&, w]() -> asio::awaitable<void> {
            std::mt19937 rng(static_cast<unsigned>(iteration * 1000 + w));
            for (std::uint64_t n = 0;; ++n) {
              auto id = std::to_string(iteration) + "-" + std::to_string(w) + "-" + std::to_string(n);
              auto pick = rng() % 10;
              if (pick < 2) {
                std::vector<kv_pair> pairs;
                for (int j = 0; j < bulk_pairs; ++j) pairs.push_back({"b" + id + "-" + std::to_string(j), id});
                report("A " + id + "\n");
                auto r = co_await s.bulk_set(std::move(pairs));
                if (!r) ::_exit(4);
                report("B " + id + "\n");
              } else if (pick < 4) {
                auto seq = iteration * 1'000'000 + n;
                auto r = co_await s.set("o" + std::to_string(w), std::to_string(seq));
                if (!r) ::_exit(4);
                report("O " + std::to_string(w) + " " + std::to_string(seq) + "\n");
              } else {
                auto value = "v" + id + std::string(rng() % 200, 'x');
                auto r = co_await s.set("s" + id, value);
                if (!r) ::_exit(4);
                report("S s" + id + " " + value + "\n");
              }
            }
          },
          asio::detached);
    }
    co_await s.run();
  });
  ::_exit(5);
}

struct expectations {
  std::map<std::string, std::string> sets;
  std::map<std::string, bool> bulks;  // tag -> acknowledged
  std::map<int, std::uint64_t> overwrites;  // writer -> highest acknowledged seq
  std::uint64_t acked = 0;
};

void parse_reports(const std::string& text, expectations& e) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a last line without '\n' was cut by the kill
    std::istringstream l(line);
    char kind;
    l >> kind;
    if (kind == 'S') {
      std::string k, v;
      l >> k >> v;
      e.sets[k] = v;
      ++e.acked;
    } else if (kind == 'A') {
      std::string tag;
      l >> tag;
      e.bulks.emplace(tag, false);
    } else if (kind == 'B') {
      std::string tag;
      l >> tag;
      e.bulks[tag] = true;
      ++e.acked;
    } else if (kind == 'O') {
      int w;
      std::uint64_t seq;
      l >> w >> seq;
      e.overwrites[w] = std::max(e.overwrites[w], seq);
      ++e.acked;
    }
  }
}

// Runs the child for `run_for`, collecting its reports, then kills it with SIGKILL.
std::string run_and_kill(const std::filesystem::path& dir, std::uint64_t iteration, std::chrono::milliseconds run_for) {
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    child(dir, fds[1], iteration);
  }
  ::close(fds[1]);
  std::string reports;
  char buf[65536];
  auto deadline = std::chrono::steady_clock::now() + run_for;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
      auto n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      reports.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) reports.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  BOOST_REQUIRE_MESSAGE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                        "the writer child died on its own (status " << status << ") in iteration " << iteration);
  return reports;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(storage_crash)

BOOST_AUTO_TEST_CASE(sigkill_never_loses_an_acknowledged_write) {
  const auto iterations = env_or("KV_CRASH_ITERATIONS", 40);
  const auto seed = env_or("KV_CRASH_SEED", std::random_device{}());
  BOOST_TEST_MESSAGE("storage crash test: " << iterations << " iterations, KV_CRASH_SEED=" << seed);
  std::mt19937_64 rng(seed);
  test::temp_dir dir;
  expectations expected;
  std::uint64_t torn_tails = 0;
  std::uint64_t snapshots_seen = 0;

  for (std::uint64_t it = 1; it <= iterations; ++it) {
    auto run_for = std::chrono::milliseconds(30 + rng() % 400);
    parse_reports(run_and_kill(dir.path(), it, run_for), expected);

    asio::io_context ctx;
    store s(ctx.get_executor(), dir.path(), crash_config());
    torn_tails += s.recovery().torn_bytes > 0;
    snapshots_seen += s.recovery().snapshot_index > 0;
    for (const auto& [k, v] : expected.sets) {
      auto got = s.get(k);
      BOOST_REQUIRE_MESSAGE(got.ok() && *got == v, "iteration " << it << " (KV_CRASH_SEED=" << seed
                                                                 << "): acknowledged write of " << k << " lost");
    }
    for (const auto& [tag, acked] : expected.bulks) {
      int present = 0;
      for (int j = 0; j < bulk_pairs; ++j) present += s.get("b" + tag + "-" + std::to_string(j)).ok();
      BOOST_REQUIRE_MESSAGE(present == 0 || present == bulk_pairs,
                            "iteration " << it << ": bulk_set " << tag << " half applied (" << present << " of "
                                         << bulk_pairs << " pairs), KV_CRASH_SEED=" << seed);
      BOOST_REQUIRE_MESSAGE(!acked || present == bulk_pairs,
                            "iteration " << it << ": acknowledged bulk_set " << tag << " lost, KV_CRASH_SEED=" << seed);
    }
    for (const auto& [w, seq] : expected.overwrites) {
      auto got = s.get("o" + std::to_string(w));
      BOOST_REQUIRE(got.ok());
      // A write may be durable without having been acknowledged, so the value may be newer.
      BOOST_REQUIRE_MESSAGE(std::stoull(*got) >= seq, "iteration " << it << ": overwrite of o" << w
                                                                   << " went back to " << *got << " from acknowledged "
                                                                   << seq << ", KV_CRASH_SEED=" << seed);
    }
  }
  BOOST_TEST_MESSAGE("verified " << expected.acked << " acknowledged writes; " << torn_tails
                                 << " recoveries repaired a torn tail; " << snapshots_seen
                                 << " recoveries started from a snapshot");
  BOOST_TEST(expected.acked > iterations * 10);  // the children really wrote
  BOOST_TEST(snapshots_seen > 0u);               // and recovery crossed snapshots
}

BOOST_AUTO_TEST_SUITE_END()
