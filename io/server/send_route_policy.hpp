#pragma once
// Which thread sends connections' replies while the server has send threads and send-offload is
// "when-busy" (server::send_route): decided from what each route was measured to serve.
//
// Handing replies to a send thread saves the event loop the send system call, but adds a
// wake-up to each reply's way out and needs a CPU for the send thread. With clients that wait
// for each reply (one request in flight each) and no core to spare, that made the node slower;
// with pipelining clients and the loop saturated, faster (docs/benchmarks.md, "Send threads").
// So the policy tries it and keeps what serves more:
//
// - on the loop: once the loop has run at least `busy` of each of `sustained` periods in a row
//   (it is what limits), its sends carried at least `replies_per_send` replies on average over
//   them (clients pipeline: with one request in flight per client, the wake-up a hand-off adds
//   to each reply's way out is lost throughput), and no back-off holds, a trial starts;
// - trial: `trial_periods` periods by way of the send threads (the first not counted: replies
//   in flight from before). If they served at least `gain` times the requests per period of the
//   last `trial_periods` periods on the loop, the send threads keep the replies; otherwise the
//   replies go back to the loop and the next trial waits a back-off, doubled after each failed
//   trial up to `max_backoff_periods`, reset after a successful one;
// - by way of the send threads: every `recheck_periods`, a trial of the loop the other way
//   round (the loop wins ties: the send threads must beat it by `gain`), so that a load that
//   changed since, or fell away, is measured again.
//
// Requests per 10 ms period swing by a factor of two under writes (group commits, snapshots,
// segment rotations), so a trial is half a second, and the send threads' advantage is only
// known to about that precision: a wrong decision is undone by the next trial.
//
// Deterministic: next() takes each period's measurements and returns the route for the next
// period. Threading: one thread (the server's).

#include "io/sys/outbox.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>

namespace kv {

class send_route_policy {
 public:
  using route = io::outbox::route;

  struct settings {
    double busy = 0.9;
    unsigned sustained = 3;
    double replies_per_send = 2;
    unsigned trial_periods = 50;
    double gain = 1.03;
    std::uint64_t first_backoff_periods = 200;
    std::uint64_t max_backoff_periods = 6000;
    std::uint64_t recheck_periods = 1000;
  };

  // What the loop did in one period: the share of it the loop ran on a CPU, the requests the
  // server took, and the sends its connections made (each carrying the replies ready by then).
  struct period {
    double running = 0;
    std::uint64_t requests = 0;
    std::uint64_t sends = 0;
  };

  send_route_policy() : send_route_policy(settings{}) {}
  explicit send_route_policy(settings s) : s_(s), backoff_(s.first_backoff_periods) {}

  route next(period p);
  route current() const noexcept { return route_; }
  // Whether the current route is on trial.
  bool trying() const noexcept { return state_ == state::trying_send_threads || state_ == state::trying_loop; }
  // The last trial that ended: the requests per period before it and during it.
  struct trial {
    double before = 0;
    double during = 0;
  };
  const trial& last_trial() const noexcept { return last_trial_; }

 private:
  enum class state : std::uint8_t { on_loop, trying_send_threads, on_send_threads, trying_loop };

  // Requests per period over the newest `periods` of history_ (fewer if it has fewer).
  double recent_rate(std::size_t periods) const;
  void enter(state st, route r);
  void end_trial();

  settings s_;
  state state_ = state::on_loop;
  route route_ = route::owner;
  std::uint64_t now_ = 0;  // periods seen
  unsigned busy_run_ = 0;  // consecutive busy periods on the loop
  std::uint64_t run_requests_ = 0;  // over them
  std::uint64_t run_sends_ = 0;
  std::uint64_t retry_at_ = 0;
  std::uint64_t backoff_;
  std::uint64_t recheck_at_ = 0;
  unsigned trial_left_ = 0;
  double baseline_ = 0;                // requests per period before the trial
  trial last_trial_;
  std::deque<std::uint64_t> history_;  // requests per period since the last switch, newest last
};

}  // namespace kv
