#include "fault/nemesis.hpp"

#include "harness/cluster_status.hpp"
#include "support/async.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace kv::test {

using steady = std::chrono::steady_clock;

// ---- fault_log ------------------------------------------------------------------------------

long long fault_log::at(steady::time_point t) const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t - t0_).count();
}

void fault_log::add(const std::string& what) {
  auto line = fmt::format("  +{} ms: {}\n", now_ms(), what);
  std::lock_guard lock(mutex_);
  lines_ += line;
}

void fault_log::fault(const std::string& what) {
  add(what);
  std::lock_guard lock(mutex_);
  starts_.push_back(steady::now());
}

steady::time_point fault_log::last_fault_before(steady::time_point t) const {
  std::lock_guard lock(mutex_);
  auto it = std::lower_bound(starts_.begin(), starts_.end(), t);
  return it == starts_.begin() ? t0_ : *std::prev(it);
}

std::string fault_log::text() const {
  std::lock_guard lock(mutex_);
  return lines_;
}

int fault_log::faults() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(starts_.size());
}

// ---- nemesis --------------------------------------------------------------------------------

namespace {

bool isolates(fault_kind k) { return k == fault_kind::isolate_leader || k == fault_kind::isolate_follower; }

const nemesis_options& checked(const nemesis_options& o) {
  if (o.draws.empty()) throw std::invalid_argument("a nemesis needs fault kinds to draw");
  if (std::any_of(o.draws.begin(), o.draws.end(), isolates) && (o.net == nullptr || !o.isolated_for)) {
    throw std::invalid_argument("a nemesis that isolates nodes needs partitions and isolated_for");
  }
  return o;
}

}  // namespace

nemesis::nemesis(harness::cluster& cl, nemesis_options o, std::uint64_t seed, fault_log& log)
    : cl_(cl), options_(checked(o)), rng_(seed), log_(log), thread_([this] { run(); }) {}

nemesis::~nemesis() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void nemesis::finish() {
  if (thread_.joinable()) thread_.join();
  if (failure_) std::rethrow_exception(failure_);
}

void nemesis::run() {
  try {
    run_async(
        [this](asio::io_context&) -> asio::awaitable<void> {
          while (!stop_) {
            co_await harness::sleep_for(draw(options_.between));
            if (!stop_) co_await one_fault();
          }
        },
        std::chrono::seconds(600));
  } catch (...) {
    failure_ = std::current_exception();
  }
  done_ = true;
}

std::chrono::milliseconds nemesis::draw(ms_range r) {
  return std::chrono::milliseconds(std::uniform_int_distribution<int>(r.lo, r.hi)(rng_));
}

fault_kind nemesis::pick() {
  if (options_.opening == first_round::each_kind_once && !first_round_drawn_) {
    for (auto k : options_.draws) {
      if (std::find(first_round_.begin(), first_round_.end(), k) == first_round_.end()) first_round_.push_back(k);
    }
    std::shuffle(first_round_.begin(), first_round_.end(), rng_);
    first_round_drawn_ = true;
  }
  if (!first_round_.empty()) {
    auto k = first_round_.back();
    first_round_.pop_back();
    return k;
  }
  const auto& d = options_.draws;
  return d[std::uniform_int_distribution<std::size_t>(0, d.size() - 1)(rng_)];
}

asio::awaitable<std::uint64_t> nemesis::find_leader() {
  for (auto id : cl_.ids()) {
    auto s = co_await harness::member_status(cl_.member(id));
    if (s && s->text("role") == "leader") co_return id;
  }
  co_return 0;
}

asio::awaitable<void> nemesis::one_fault() {
  // Every random draw first, so that a seed gives the same schedule whatever the cluster does.
  const auto kind = pick();
  const auto any = std::uniform_int_distribution<std::uint64_t>(1, cl_.size())(rng_);
  const auto other = std::uniform_int_distribution<std::uint64_t>(1, cl_.size() - 1)(rng_);
  const auto down_for = draw(options_.down_for);
  const auto paused_for = draw(options_.paused_for);
  const auto cut_for = options_.isolated_for ? draw(*options_.isolated_for) : std::chrono::milliseconds(0);
  const auto leader = co_await find_leader();
  const auto leader_or_any = leader != 0 ? leader : any;
  const auto follower = leader == 0 ? any : (leader + other - 1) % cl_.size() + 1;
  const auto who = [&](std::uint64_t id) {
    return fmt::format("node {}{}", id, id == leader ? " (the leader)" : leader == 0 ? " (no leader found)" : "");
  };
  switch (kind) {
    case fault_kind::kill_leader:
    case fault_kind::kill_any: {
      const auto target = kind == fault_kind::kill_leader ? leader_or_any : any;
      log_.fault("kill -9 " + who(target));
      cl_.member(target).kill9();
      co_await harness::sleep_for(down_for);
      log_.add(fmt::format("restart node {}", target));
      cl_.member(target).start();
      co_return;
    }
    case fault_kind::kill_all:
      log_.fault("kill -9 every node");
      for (auto id : cl_.ids()) cl_.member(id).kill9();
      co_await harness::sleep_for(down_for);
      log_.add("restart every node");
      for (auto id : cl_.ids()) cl_.member(id).start();
      co_return;
    case fault_kind::pause_leader:
    case fault_kind::pause_follower: {
      const auto target = kind == fault_kind::pause_leader ? leader_or_any : follower;
      log_.fault(fmt::format("SIGSTOP {} for {} ms", who(target), paused_for.count()));
      cl_.member(target).pause();
      co_await harness::sleep_for(paused_for);
      log_.add(fmt::format("SIGCONT node {}", target));
      cl_.member(target).resume();
      co_return;
    }
    case fault_kind::isolate_leader:
    case fault_kind::isolate_follower: {
      const auto target = kind == fault_kind::isolate_leader ? leader_or_any : follower;
      log_.fault(fmt::format("isolate {} for {} ms", who(target), cut_for.count()));
      options_.net->isolate(target);
      co_await harness::sleep_for(cut_for);
      log_.add("heal the network");
      options_.net->heal();
      co_return;
    }
  }
}

}  // namespace kv::test
