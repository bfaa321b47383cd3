// examples/cluster/start.sh against real nodes: a copy of the script beside the example's node
// files, moved to free ports, run in a scratch directory (its ./data is the test's).

#include "harness/process.hpp"
#include "harness/temp_dir.hpp"

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <array>

using namespace kv::harness;

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Whether `pid` is alive and runs with `config` on its command line: a kvnode of this test.
bool runs_config(pid_t pid, const std::filesystem::path& config) {
  return process_running(pid) &&
         has(slurp("/proc/" + std::to_string(pid) + "/cmdline"), std::string(1, '\0') + config.string());
}

class script_cluster {
 public:
  script_cluster() {
    const auto example = std::filesystem::path(KV_SOURCE_DIR) / "examples/cluster";
    std::array<unsigned short, 6> ports{};  // clients and peers of the example: 7379 to 7384
    for (auto& p : ports) p = free_port();
    for (int i = 1; i <= 3; ++i) {
      auto toml = slurp(example / fmt::format("node{}.toml", i));
      for (int k = 0; k < 6; ++k) {
        toml = replace_all(toml, fmt::format("127.0.0.1:{}", 7379 + k), fmt::format("127.0.0.1:{}", ports[k]));
      }
      std::ofstream(dir_ / fmt::format("node{}.toml", i)) << toml;
    }
    std::filesystem::copy_file(example / "start.sh", dir_ / "start.sh");
    auto r = script(binary("kvnode").string());
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out + r.err);
    for (int i = 0; i < 3; ++i) {
      pids_[i] = pid_of(i + 1);
      pid_t pid = pids_[i];  // not this process's child: wait_listening cannot reap it
      auto log = dir_ / fmt::format("data/node{}.log", i + 1);
      wait_listening("127.0.0.1", ports[2 * i], pid, [&] { return slurp(log); });
    }
  }
  ~script_cluster() {
    for (int i = 0; i < 3; ++i) {
      if (runs_config(pids_[i], config(i + 1))) ::kill(pids_[i], SIGKILL);
    }
  }
  script_cluster(const script_cluster&) = delete;
  script_cluster& operator=(const script_cluster&) = delete;

  // Runs `start.sh args` in the scratch directory.
  command_result script(const std::string& args, const std::string& env = "") const {
    auto line = fmt::format("cd '{}' && {} sh ./start.sh {}", dir_.path().string(), env, args);
    return run_command({"/bin/sh", "-c", line});
  }

  pid_t pid(int node) const { return pids_[node - 1]; }
  std::filesystem::path pid_file(int node) const { return dir_ / fmt::format("data/node{}.pid", node); }
  std::filesystem::path config(int node) const { return dir_ / fmt::format("node{}.toml", node); }

 private:
  pid_t pid_of(int node) const { return static_cast<pid_t>(std::stol(slurp(pid_file(node)))); }

  temp_dir dir_;
  std::array<pid_t, 3> pids_{};
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_start_script)

// stop returns once the nodes have exited, and says which were not running.
BOOST_AUTO_TEST_CASE(stop_waits_for_the_nodes_and_reports_stale_pid_files) {
  script_cluster cluster;
  ::kill(cluster.pid(2), SIGKILL);
  for (int i = 0; i < 1000 && process_running(cluster.pid(2)); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BOOST_REQUIRE(!process_running(cluster.pid(2)));

  auto r = cluster.script("stop");
  BOOST_TEST(r.exit_code == 0, r.out + r.err);
  BOOST_TEST(has(r.out, fmt::format("node 1: stopped (pid {})", cluster.pid(1))), r.out);
  BOOST_TEST(has(r.out, fmt::format("node 2: not running (pid {} is gone; removed the stale data/node2.pid)",
                                    cluster.pid(2))),
             r.out);
  BOOST_TEST(has(r.out, fmt::format("node 3: stopped (pid {})", cluster.pid(3))), r.out);
  for (int node = 1; node <= 3; ++node) {
    BOOST_TEST(!process_running(cluster.pid(node)), "node " << node << " still runs after stop returned");
    BOOST_TEST(!std::filesystem::exists(cluster.pid_file(node)), node);
  }

  r = cluster.script("stop");  // nothing left to stop
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(has(r.out, "node 1: not running (no data/node1.pid)"), r.out);
}

// A node that does not exit in time is named, keeps its pid file, and stop fails.
BOOST_AUTO_TEST_CASE(stop_names_a_node_that_does_not_exit) {
  script_cluster cluster;
  ::kill(cluster.pid(3), SIGSTOP);  // SIGTERM stays pending while it is stopped
  auto r = cluster.script("stop", "KV_STOP_TIMEOUT=1");
  BOOST_TEST(r.exit_code == 1, r.out + r.err);
  BOOST_TEST(has(r.err, fmt::format("node 3: pid {} did not exit within 1 s", cluster.pid(3))), r.err);
  BOOST_TEST(has(r.out, "node 1: stopped"), r.out);
  BOOST_TEST(has(r.out, "node 2: stopped"), r.out);
  BOOST_TEST(std::filesystem::exists(cluster.pid_file(3)));
  BOOST_TEST(!std::filesystem::exists(cluster.pid_file(1)));
  BOOST_TEST(process_running(cluster.pid(3)));
}

BOOST_AUTO_TEST_SUITE_END()
