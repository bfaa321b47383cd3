#include "io/server/send_route_policy.hpp"

#include <algorithm>
#include <numeric>

namespace kv {

send_route_policy::route send_route_policy::next(period p) {
  ++now_;
  history_.push_back(p.requests);
  if (history_.size() > s_.trial_periods) history_.pop_front();
  switch (state_) {
    case state::on_loop:
      if (p.running >= s_.busy) {
        ++busy_run_;
        run_requests_ += p.requests;
        run_sends_ += p.sends;
      } else {
        busy_run_ = 0;
        run_requests_ = run_sends_ = 0;
      }
      if (busy_run_ >= s_.sustained && now_ >= retry_at_ && history_.size() >= s_.trial_periods &&
          static_cast<double>(run_requests_) >= s_.replies_per_send * static_cast<double>(run_sends_)) {
        baseline_ = recent_rate(s_.trial_periods);
        enter(state::trying_send_threads, route::send_thread);
      }
      break;
    case state::trying_send_threads:
    case state::trying_loop:
      if (--trial_left_ == 0) end_trial();
      break;
    case state::on_send_threads:
      if (now_ >= recheck_at_ && history_.size() >= s_.trial_periods) {
        baseline_ = recent_rate(s_.trial_periods);
        enter(state::trying_loop, route::owner);
      }
      break;
  }
  return route_;
}

void send_route_policy::end_trial() {
  // The trial's first period is left out: replies of requests taken before it were still in flight.
  const double rate = recent_rate(s_.trial_periods - 1);
  last_trial_ = {baseline_, rate};
  const bool threads_won = state_ == state::trying_send_threads ? rate >= baseline_ * s_.gain
                                                                 : rate * s_.gain < baseline_;
  if (threads_won) {
    backoff_ = s_.first_backoff_periods;
    recheck_at_ = now_ + s_.recheck_periods;
    enter(state::on_send_threads, route::send_thread);
  } else {
    retry_at_ = now_ + backoff_;
    backoff_ = std::min(backoff_ * 2, s_.max_backoff_periods);
    enter(state::on_loop, route::owner);
  }
}

void send_route_policy::enter(state st, route r) {
  state_ = st;
  route_ = r;
  busy_run_ = 0;
  run_requests_ = run_sends_ = 0;
  trial_left_ = s_.trial_periods;
  history_.clear();
}

double send_route_policy::recent_rate(std::size_t periods) const {
  const auto n = std::min(periods, history_.size());
  if (n == 0) return 0;
  return static_cast<double>(std::accumulate(history_.end() - static_cast<std::ptrdiff_t>(n), history_.end(),
                                             std::uint64_t{0})) /
         static_cast<double>(n);
}

}  // namespace kv
