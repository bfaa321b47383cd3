// Redis client libraries nobody here wrote, driving a 3-node cluster as users' programs do:
// redis-py (Debian's python3-redis) and ioredis (npm, Node.js) run a script each
// (test/clients/) that exercises every command of docs/redis.md through a follower, then keeps
// writing while the leader is killed and checks that no acknowledged write was lost.
//
// One executable per library, chosen at build time (KV_REDIS_CLIENT): a library that is not
// installed skips its executable (ctest reports it skipped), it never passes silently.

#include "harness/cluster.hpp"
#include "harness/cluster_status.hpp"
#include "harness/process.hpp"
#include "support/client_util.hpp"
#include "support/skip.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;

namespace {

const std::filesystem::path clients_dir = std::filesystem::path(KV_SOURCE_DIR) / "test" / "clients";

// The command that runs the library's script, or why it cannot run here.
struct runner {
  std::vector<std::string> argv;
  std::string missing;
};

runner find_runner() {
  runner r;
  const std::string library = KV_REDIS_CLIENT;
  if (library == "redis-py") {
    r.argv = {"/usr/bin/python3", (clients_dir / "redis_py_check.py").string()};
    if (run_command({"/usr/bin/python3", "-c", "import redis"}).exit_code != 0) {
      r.missing = "redis-py is not installed (apt-get install python3-redis; cmake/install-deps.sh does)";
    }
  } else {
    const char* node = std::filesystem::exists("/usr/bin/node") ? "/usr/bin/node" : "/usr/local/bin/node";
    r.argv = {node, (clients_dir / "ioredis_check.js").string()};
    if (!std::filesystem::exists(node)) r.missing = "Node.js is not installed";
    if (!std::filesystem::exists(clients_dir / "node_modules" / "ioredis")) {
      r.missing = "ioredis is not installed (npm ci --prefix test/clients; cmake/install-deps.sh does)";
    }
  }
  return r;
}

struct require_library {
  require_library() {
    if (auto r = find_runner(); !r.missing.empty()) skip_executable(r.missing);
  }
};
BOOST_TEST_GLOBAL_FIXTURE(require_library);

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_clients)

BOOST_AUTO_TEST_CASE(every_command_through_a_follower_and_a_leader_kill) {
  cluster cl;
  std::uint64_t leader = 0;
  run_async([&](asio::io_context&) -> asio::awaitable<void> { leader = co_await wait_for_leader(cl); });
  const auto follower = leader % 3 + 1;
  const auto other = 6 - leader - follower;
  auto argv = find_runner().argv;
  for (const auto& a : {std::string("--follower"), cl.member(follower).resp_endpoint(), std::string("--other"),
                        cl.member(other).resp_endpoint(), std::string("--leader-pid"),
                        std::to_string(cl.member(leader).pid())}) {
    argv.push_back(a);
  }
  // KV_REDIS_CLIENT_ONLY=group,...: run only those groups of the script (to debug one).
  if (const char* only = std::getenv("KV_REDIS_CLIENT_ONLY"); only != nullptr && *only != 0) {
    argv.push_back("--only");
    argv.push_back(only);
  }
  auto result = run_command(argv, {}, std::chrono::seconds(240));
  BOOST_TEST_MESSAGE(KV_REDIS_CLIENT << " script:\n" << result.out << result.err);
  BOOST_TEST(result.exit_code == 0, KV_REDIS_CLIENT << " script failed:\n" << result.out << result.err);
}

BOOST_AUTO_TEST_SUITE_END()
