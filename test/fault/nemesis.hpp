#pragma once
// The nemesis of the fault tests that run a workload on a real cluster (lease_fault_test.cpp,
// watch_fault_test.cpp), and the timeline it and the test write for failure messages.
//
// A nemesis injects one fault at a time into the cluster and undoes it before the next (a killed
// node is started again, a paused one resumed, the network healed), from a thread of its own
// because starting a node blocks. It runs from construction until stop(); done() once the fault
// in progress is undone. Which kinds it draws, and how likely each is, is the test's to say
// (nemesis_options). Every random draw of a fault is made before the nemesis looks at the
// cluster, so a seed gives the same schedule whatever the cluster does (process timing is not
// reproducible, so a seed replays a run only roughly).

#include "harness/cluster.hpp"
#include "harness/partitions.hpp"

#include <asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace kv::test {

// What happened when, in ms since t0, for failure messages. Written by the nemesis thread and the
// test's threads; every member may be called from any thread.
class fault_log {
 public:
  using steady = std::chrono::steady_clock;

  explicit fault_log(steady::time_point t0) : t0_(t0) {}
  long long at(steady::time_point t) const;
  long long now_ms() const { return at(steady::now()); }
  void add(const std::string& what);
  // A fault the nemesis injects: logged, counted and its start noted.
  void fault(const std::string& what);
  // When the last fault before `t` began (t0 if none did).
  steady::time_point last_fault_before(steady::time_point t) const;
  std::string text() const;
  int faults() const;

 private:
  steady::time_point t0_;
  mutable std::mutex mutex_;
  std::string lines_;
  std::vector<steady::time_point> starts_;
};

enum class fault_kind : std::uint8_t {
  kill_leader,       // kill -9 the leader (any node if none is found), start it again
  kill_any,          // kill -9 a random node, start it again
  kill_all,          // kill -9 every node, start them again
  pause_leader,      // SIGSTOP the leader (any node if none is found), SIGCONT
  pause_follower,    // SIGSTOP a node other than the leader, SIGCONT
  isolate_leader,    // cut the leader off (nemesis_options::net), heal
  isolate_follower,  // cut a node other than the leader off, heal
};

// An inclusive range of milliseconds, drawn uniformly.
struct ms_range {
  int lo = 0;
  int hi = 0;
};

// How the nemesis first draws its faults.
enum class first_round : std::uint8_t {
  none,            // every fault drawn from `draws`
  each_kind_once,  // first each kind in `draws` once, in a seeded order, then drawn from `draws`
};

struct nemesis_options {
  // A fault's kind is drawn uniformly from this list: a kind listed twice is twice as likely.
  // Isolations need `net`.
  std::vector<fault_kind> draws;
  first_round opening = first_round::none;
  ms_range between{300, 800};   // from one fault's end to the next one's start
  ms_range down_for{300, 1500};  // from a kill to the restart
  ms_range paused_for{1000, 3000};
  // From an isolation to the heal. Drawn with every fault when set (keeping the draws of a seed
  // independent of the kind), and must be set when `draws` holds an isolation.
  std::optional<ms_range> isolated_for;
  harness::partitions* net = nullptr;  // not owned; outlives the nemesis
};

class nemesis {
 public:
  // Starts injecting faults into `cl` (which outlives the nemesis), logging them in `log`.
  // Throws std::invalid_argument if `o` asks for isolations without `net` and `isolated_for`.
  nemesis(harness::cluster& cl, nemesis_options o, std::uint64_t seed, fault_log& log);
  ~nemesis();
  nemesis(const nemesis&) = delete;
  nemesis& operator=(const nemesis&) = delete;

  // Asks the nemesis to stop once the fault in progress is undone; does not block.
  void stop() { stop_ = true; }
  bool done() const { return done_; }
  // After done(): joins the thread and rethrows what the nemesis failed with.
  void finish();

 private:
  void run();
  std::chrono::milliseconds draw(ms_range r);
  fault_kind pick();
  asio::awaitable<std::uint64_t> find_leader();
  asio::awaitable<void> one_fault();

  harness::cluster& cl_;
  nemesis_options options_;
  std::mt19937_64 rng_;
  fault_log& log_;
  std::vector<fault_kind> first_round_;
  bool first_round_drawn_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::exception_ptr failure_;
  std::thread thread_;  // last: it starts once the rest is set
};

}  // namespace kv::test
