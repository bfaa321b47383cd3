// Three kv::store replicas in one process, on one io_context, over an in-memory transport the
// test controls: the ordering rules of the Raft driver's Ready loop, checked message by message
// with real WALs (io_uring, fdatasync).
//
// Determinism: each replica's own clock ticks once a day, so Raft time moves only by the test's
// store::tick() calls; a message moves only when the test delivers it, one at a time; after every
// step the test waits until each replica is idle (its WAL has made durable all it queued, its core
// has nothing ready, its state machine has applied all the core handed out). So the disks'
// timing decides nothing the test observes, and the schedule (which message goes next, which is
// dropped, which replica ticks) comes from a seeded generator alone: a failure names its seed and
// KV_REPLICA_SEED=N replays that schedule (KV_REPLICA_SEEDS=K runs K seeds from 1).
//
// Checked, and where:
//  - at every message a replica sends (the transport's send()): a vote request, a vote or an
//    append response leaves only once the term and vote it speaks for are durable
//    (store::durable_state()), an accepted append response only once the entries it acknowledges
//    are (WAL durable_index >= match);
//  - at every send and after every step: the core hears that entries are durable only once the
//    WAL has made them so (core persisted <= WAL durable_index), which is what lets a leader
//    count itself towards a commit only after its own fsync; a leader's commit index is durable
//    on a majority of the disks; at most one leader per term;
//  - at every apply (an apply_observer): each entry once, in log order, only once committed, the
//    entry the log holds at that index, and the same entry on every replica;
//  - a ReadIndex read on a follower is answered only once the follower has applied up to the
//    read index, and then sees the write acknowledged before it;
//  - acknowledged writes survive a replica stopped and reopened from its directory.

#include "core/state/apply_observer.hpp"
#include "raft/replica/store.hpp"
#include "raft/transport.hpp"
#include "support/async.hpp"
#include "support/temp_dir.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/this_coro.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

using namespace kv;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

constexpr std::array<raft::node_id, 3> node_ids{1, 2, 3};
constexpr int election_ticks = 6;
// Longer than any test runs: the replicas' own tick loops never fire; the test ticks them.
constexpr std::chrono::hours test_owns_the_clock{24};
// The longest a replica may take to become idle after a step (a few fdatasyncs) before the
// test calls it a hang.
constexpr std::chrono::seconds idle_limit{20};

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

// The seeds to run: KV_REPLICA_SEED alone if set, else KV_REPLICA_SEEDS (default `count`) from 1.
std::vector<std::uint64_t> seeds(std::uint64_t count) {
  if (std::getenv("KV_REPLICA_SEED")) return {env_or("KV_REPLICA_SEED", 1)};
  std::vector<std::uint64_t> out;
  for (std::uint64_t s = 1; s <= env_or("KV_REPLICA_SEEDS", count); ++s) out.push_back(s);
  return out;
}

// Where a broken rule is written down; the test fails at the end of the step that broke it.
using violations = std::vector<std::string>;

// Follows one replica's applies across its restarts and checks them against its log and against
// what the other replicas applied at the same index (`agreed`, shared by the three).
class apply_checker final : public apply_observer {
 public:
  apply_checker(raft::node_id id, std::map<std::uint64_t, std::string>& agreed, violations& v)
      : id_(id), agreed_(agreed), violations_(v) {}

  // The store whose applies these are; null while it recovers (then there is no log to look at).
  void watch(const store* s) { store_ = s; }
  std::uint64_t applies() const noexcept { return applies_; }

  void restart_from(std::shared_ptr<const io::mapped_file>, std::uint64_t index, std::uint64_t) override {
    next_ = index + 1;
  }

  void applied(std::uint64_t index, std::string_view command) override {
    ++applies_;
    if (index != next_) violations_.push_back(fmt::format("node {} applied entry {} where {} was next", id_, index, next_));
    next_ = index + 1;
    if (store_ != nullptr) {
      if (index > store_->commit_index()) {
        violations_.push_back(fmt::format("node {} applied entry {} above its commit index {}", id_, index,
                                          store_->commit_index()));
      }
      auto held = store_->consensus().log().slice(index, index, 1);
      if (!command.empty() && (held.empty() || held.front().data != command)) {
        violations_.push_back(fmt::format("node {} applied at {} a command its log does not hold there", id_, index));
      }
    }
    auto [it, first] = agreed_.emplace(index, std::string(command));
    if (!first && it->second != command) {
      violations_.push_back(fmt::format("node {} applied another entry at {} than a replica before it", id_, index));
    }
  }

 private:
  raft::node_id id_;
  std::map<std::uint64_t, std::string>& agreed_;
  violations& violations_;
  const store* store_ = nullptr;
  std::uint64_t next_ = 1;
  std::uint64_t applies_ = 0;
};

// What the test does with a message when it comes up for delivery.
enum class fate { deliver, hold, drop };

class cluster;

// One replica's end of the in-memory network: what its store sends waits in the cluster's queue
// until the test delivers, holds or drops it.
class link final : public raft::transport {
 public:
  link(cluster& c, raft::node_id id) : cluster_(c), id_(id) {}
  void send(raft::message m) override;
  void send_snapshot(raft::message m, std::filesystem::path file) override;

 private:
  cluster& cluster_;
  raft::node_id id_;
};

// Three replicas with their directories, the network between them, and the checks.
//
// Threading: everything runs on the io_context given to the constructor (one thread); the test
// body is one more coroutine on it.
class cluster {
 public:
  cluster(asio::io_context& ctx, std::filesystem::path dir, std::uint64_t seed)
      : ctx_(ctx), dir_(std::move(dir)), seed_(seed), rng_(seed) {
    for (auto id : node_ids) {
      auto& r = replicas_[id];
      r.checker = std::make_unique<apply_checker>(id, agreed_, violations_);
      r.net = std::make_unique<link>(*this, id);
    }
  }

  std::mt19937_64& rng() noexcept { return rng_; }
  store& at(raft::node_id id) { return *replicas_.at(id).s; }
  bool up(raft::node_id id) const { return replicas_.at(id).s != nullptr; }

  // Opens (or reopens) replica `id` from its directory and starts it.
  void start(raft::node_id id) {
    auto& r = replicas_.at(id);
    replication_options repl;
    repl.id = id;
    repl.voters.assign(node_ids.begin(), node_ids.end());
    repl.tick = test_owns_the_clock;
    repl.election_ticks = election_ticks;
    repl.seed = seed_ * 16 + id;  // the core's election timeouts, from the test's seed
    r.s = std::make_unique<store>(ctx_.get_executor(), dir_ / fmt::format("node-{}", id), small_storage(), repl,
                                  r.checker.get());
    r.checker->watch(r.s.get());
    r.s->attach(*r.net);
    r.running = true;
    asio::co_spawn(ctx_, r.s->run(), [this, id](std::exception_ptr e) {
      replicas_.at(id).running = false;
      if (e) violations_.push_back(fmt::format("node {}: run() ended with an exception", id));
    });
  }
  void start_all() {
    for (auto id : node_ids) start(id);
  }

  // Stops replica `id` (run() drains its WAL and returns) and closes it; messages to it are lost
  // until it is started again.
  asio::awaitable<void> stop(raft::node_id id) {
    auto& r = replicas_.at(id);
    if (!r.s) co_return;
    r.s->stop();
    co_await until([&] { return !r.running; }, "node stopping");
    r.durable_at_stop = r.s->log().durable_index();
    r.checker->watch(nullptr);
    r.s.reset();
  }
  asio::awaitable<void> stop_all() {
    for (auto id : node_ids) co_await stop(id);
  }

  // ---- the network ----------------------------------------------------------------------------

  // Decides the fate of each message as it comes up for delivery (default: deliver).
  void set_rule(std::function<fate(const raft::message&)> rule) { rule_ = std::move(rule); }
  // Puts the held messages back in flight, in the order they were held.
  void release_held() {
    for (auto& m : held_) in_flight_.push_back(std::move(m));
    held_.clear();
  }
  std::size_t in_flight() const noexcept { return in_flight_.size(); }

  // Called by a replica's link: checks the rules for sending `m` now, then queues it.
  void sent(raft::node_id from, raft::message m) {
    check_send(from, m);
    in_flight_.push_back(std::move(m));
  }
  void snapshot_requested(raft::node_id from, const raft::message& m) {
    violations_.push_back(fmt::format("node {} streams a snapshot to node {}: these tests keep every entry", from, m.to));
  }

  // Delivers (or holds, or drops, as the rule says) one message picked at random from those in
  // flight, then waits until the replicas are idle and checks the cluster.
  asio::awaitable<void> deliver_one() {
    if (in_flight_.empty()) co_return;
    auto i = rng_() % in_flight_.size();
    auto m = std::move(in_flight_[i]);
    in_flight_.erase(in_flight_.begin() + static_cast<std::ptrdiff_t>(i));
    switch (rule_ ? rule_(m) : fate::deliver) {
      case fate::deliver:
        if (up(m.to)) at(m.to).receive(m);
        break;
      case fate::hold:
        held_.push_back(std::move(m));
        break;
      case fate::drop:
        break;
    }
    co_await step_done();
  }
  // Loses one message in flight, picked at random.
  void drop_one() {
    if (in_flight_.empty()) return;
    in_flight_.erase(in_flight_.begin() + static_cast<std::ptrdiff_t>(rng_() % in_flight_.size()));
  }
  // Delivers a message in flight twice (the network may duplicate).
  asio::awaitable<void> duplicate_one() {
    if (in_flight_.empty()) co_return;
    auto m = in_flight_[rng_() % in_flight_.size()];
    if (up(m.to) && (!rule_ || rule_(m) == fate::deliver)) at(m.to).receive(m);
    co_await step_done();
  }
  // Lets the replicas act on what the test did last (a write, a read), then delivers until
  // nothing is in flight (held messages stay held).
  asio::awaitable<void> settle() {
    co_await step_done();
    while (!in_flight_.empty()) co_await deliver_one();
  }

  // Settles, then ticks the leader once and settles again: its heartbeat carries the commit
  // index to the followers, which then apply what it committed.
  asio::awaitable<void> commit_everywhere() {
    co_await settle();
    if (auto l = leader(); l != 0) co_await tick(l);
    co_await settle();
  }

  asio::awaitable<void> tick(raft::node_id id) {
    if (up(id)) at(id).tick();
    co_await step_done();
  }

  // The replica leading the newest term, 0 if none.
  raft::node_id leader() const {
    raft::node_id best = 0;
    raft::term_t term = 0;
    for (const auto& [id, r] : replicas_) {
      if (r.s && r.s->role() == raft::role::leader && r.s->term() >= term) {
        best = id;
        term = r.s->term();
      }
    }
    return best;
  }

  // Ticks replica `id` alone, delivering everything after each tick, until it leads.
  asio::awaitable<void> elect(raft::node_id id) {
    for (int i = 0; i < 4 * election_ticks && leader() != id; ++i) {
      co_await tick(id);
      co_await settle();
    }
    if (leader() != id) throw std::runtime_error(fmt::format("node {} was not elected", id));
  }

  // Ticks every running replica, delivering everything after each round, until one leads.
  asio::awaitable<raft::node_id> elect_any() {
    for (int i = 0; i < 8 * election_ticks && leader() == 0; ++i) {
      for (auto id : node_ids) co_await tick(id);
      co_await settle();
    }
    if (leader() == 0) throw std::runtime_error("no leader was elected");
    co_return leader();
  }

  // Delivers everything (held messages too) and ticks every replica until the running ones
  // have applied the leader's whole log.
  asio::awaitable<void> heal() {
    set_rule(nullptr);
    release_held();
    for (int round = 0; round < 20 * election_ticks; ++round) {
      co_await settle();
      if (converged()) co_return;
      for (auto id : node_ids) co_await tick(id);
    }
    throw std::runtime_error("the replicas did not converge after healing the network");
  }

  // ---- writes ---------------------------------------------------------------------------------

  // Submits set(key, value) to replica `id`; its answer is recorded when it comes.
  void write(raft::node_id id, const std::string& key, const std::string& value) {
    ++submitted_;
    at(id).submit_set(key, value, [this, key, value](result<std::uint64_t> r) {
      ++answered_;
      if (r.ok()) acked_[key] = value;
    });
  }
  const std::map<std::string, std::string>& acked() const noexcept { return acked_; }
  std::uint64_t submitted() const noexcept { return submitted_; }
  std::uint64_t answered() const noexcept { return answered_; }

  // ---- checks ---------------------------------------------------------------------------------

  // How many messages of `type` were checked when sent.
  std::uint64_t checked(raft::message_type type) const {
    auto it = checked_.find(type);
    return it == checked_.end() ? 0 : it->second;
  }
  std::size_t terms_led() const noexcept { return leaders_.size(); }
  const apply_checker& applies_of(raft::node_id id) const { return *replicas_.at(id).checker; }

  // Throws, naming the seed, if any rule was broken so far.
  void require_no_violations() const {
    if (violations_.empty()) return;
    std::string what = fmt::format("seed {} (replay: KV_REPLICA_SEED={}): {} broken rule(s):", seed_, seed_,
                                   violations_.size());
    for (std::size_t i = 0; i < violations_.size() && i < 10; ++i) what += "\n  " + violations_[i];
    throw std::runtime_error(what);
  }

  // Every running replica holds every acknowledged write, and the running replicas' state
  // machines agree.
  void require_agreement() const {
    const store* first = nullptr;
    for (const auto& [id, r] : replicas_) {
      if (!r.s) continue;
      for (const auto& [key, value] : acked_) {
        auto v = r.s->get(key);
        if (!v.ok() || *v != value) {
          throw std::runtime_error(fmt::format("seed {}: node {} lost the acknowledged write {}", seed_, id, key));
        }
      }
      if (first == nullptr) {
        first = r.s.get();
        continue;
      }
      if (r.s->applied_index() != first->applied_index() || r.s->state().key_count() != first->state().key_count() ||
          r.s->state().data_bytes() != first->state().data_bytes()) {
        throw std::runtime_error(fmt::format("seed {}: node {}'s state machine differs from the others'", seed_, id));
      }
    }
  }

  // Waits until every running replica is idle, then checks the cluster-wide rules.
  asio::awaitable<void> step_done() {
    co_await until([this] { return all_idle(); }, "replicas becoming idle");
    check_cluster();
    require_no_violations();
  }

 private:
  struct replica {
    std::unique_ptr<apply_checker> checker;
    std::unique_ptr<link> net;
    std::unique_ptr<store> s;
    bool running = false;
    std::uint64_t durable_at_stop = 0;  // its disk's log end while it is down
  };

  // Waits (yielding to the replicas) until `done()`; throws after idle_limit.
  asio::awaitable<void> until(std::function<bool()> done, const char* what) {
    asio::steady_timer pause(ctx_);
    const auto deadline = std::chrono::steady_clock::now() + idle_limit;
    for (;;) {
      // Every handler queued before this one runs first: a replica woken by the last step has
      // taken its ready by the time done() looks.
      co_await asio::post(ctx_, asio::use_awaitable);
      if (done()) co_return;
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error(fmt::format("seed {}: timed out waiting for {}", seed_, what));
      }
      pause.expires_after(100us);  // a WAL sync is in flight: let the event loop wait for it
      co_await pause.async_wait(asio::use_awaitable);
    }
  }

  static bool idle(const store& s) {
    return s.log().durable_records() == s.log().queued_records() && !s.consensus().has_ready() &&
           s.applied_index() == s.consensus().log().applied();
  }
  bool all_idle() const {
    return std::all_of(replicas_.begin(), replicas_.end(), [](const auto& kv) {
      return !kv.second.s || idle(*kv.second.s);
    });
  }

  // The driver never tells the core more is durable than the WAL made durable: what a leader
  // counts for itself towards a commit is on its own disk.
  void check_persisted(raft::node_id id, const store& s) {
    const auto told = s.consensus().log().persisted();
    if (told > s.log().durable_index()) {
      violations_.push_back(fmt::format("node {}: the core counts entries through {} durable, the WAL only through {}",
                                        id, told, s.log().durable_index()));
    }
  }

  // The rules for a message leaving replica `from` now (Raft §5.2, §5.4; raft::ready).
  void check_send(raft::node_id from, const raft::message& m) {
    ++checked_[m.type];
    const auto& s = at(from);
    check_persisted(from, s);
    const auto& durable = s.durable_state();
    auto broken = [&](std::string_view rule) {
      violations_.push_back(fmt::format("node {} sent {} (term {}, to {}, match {}) {}: durable term {} vote {}, "
                                        "durable log end {}",
                                        from, raft::to_string(m.type), m.term, m.to, m.match, rule, durable.term,
                                        durable.vote, s.log().durable_index()));
    };
    switch (m.type) {
      case raft::message_type::vote:
        if (durable.term < m.term || (durable.term == m.term && durable.vote != from)) {
          broken("before its own vote was durable");
        }
        break;
      case raft::message_type::vote_response:
        if (durable.term < m.term) broken("before its term was durable");
        if (!m.reject && durable.term == m.term && durable.vote != m.to) broken("before the vote it grants was durable");
        break;
      case raft::message_type::append_response:
        if (durable.term < m.term) broken("before its term was durable");
        if (!m.reject && s.log().durable_index() < m.match) broken("before the entries it acknowledges were durable");
        break;
      default:
        break;
    }
  }

  // Rules over the whole cluster, between steps.
  void check_cluster() {
    std::vector<std::uint64_t> durable;
    for (const auto& [id, r] : replicas_) {
      if (!r.s) {
        durable.push_back(r.durable_at_stop);
        continue;
      }
      check_persisted(id, *r.s);
      durable.push_back(r.s->log().durable_index());
      if (r.s->role() != raft::role::leader) continue;
      auto [it, first] = leaders_.emplace(r.s->term(), id);
      if (!first && it->second != id) {
        violations_.push_back(fmt::format("nodes {} and {} both lead term {}", it->second, id, r.s->term()));
      }
    }
    // A commit needs the entry durable on a majority: the quorum-th largest log end on disk.
    std::sort(durable.begin(), durable.end(), std::greater<>());
    const auto on_majority = durable[node_ids.size() / 2];
    if (auto l = leader(); l != 0 && at(l).commit_index() > on_majority) {
      violations_.push_back(fmt::format("leader {} committed through {}, but only {} is durable on a majority", l,
                                        at(l).commit_index(), on_majority));
    }
  }

  bool converged() const {
    auto l = leader();
    if (l == 0 || !in_flight_.empty()) return false;
    const auto& ls = *replicas_.at(l).s;
    return std::all_of(replicas_.begin(), replicas_.end(), [&](const auto& kv) {
      return !kv.second.s || (kv.second.s->applied_index() == ls.last_index() && kv.second.s->leader() == l);
    });
  }

  asio::io_context& ctx_;
  std::filesystem::path dir_;
  std::uint64_t seed_;
  std::mt19937_64 rng_;
  std::map<raft::node_id, replica> replicas_;
  std::vector<raft::message> in_flight_;
  std::vector<raft::message> held_;
  std::function<fate(const raft::message&)> rule_;
  violations violations_;
  std::map<std::uint64_t, std::string> agreed_;  // index -> the command applied there
  std::map<raft::term_t, raft::node_id> leaders_;
  std::map<raft::message_type, std::uint64_t> checked_;
  std::map<std::string, std::string> acked_;
  std::uint64_t submitted_ = 0;
  std::uint64_t answered_ = 0;
};

void link::send(raft::message m) { cluster_.sent(id_, std::move(m)); }
void link::send_snapshot(raft::message m, std::filesystem::path) { cluster_.snapshot_requested(id_, m); }

// Runs `body` against a started cluster of three on a fresh io_context, then stops every
// replica (also when the body fails, so that no coroutine outlives its store).
void with_cluster(std::uint64_t seed, std::function<asio::awaitable<void>(cluster&)> body) {
  BOOST_TEST_MESSAGE("seed " << seed << " (replay: KV_REPLICA_SEED=" << seed << ")");
  temp_dir dir;
  run_async(
      [&](asio::io_context& ctx) -> asio::awaitable<void> {
        cluster c(ctx, dir.path(), seed);
        c.start_all();
        std::exception_ptr failure;
        try {
          co_await body(c);
        } catch (...) {
          failure = std::current_exception();
        }
        co_await c.stop_all();
        if (failure) std::rethrow_exception(failure);
        // Every write was answered by the time its replica stopped.
        BOOST_TEST(c.answered() == c.submitted());
        c.require_no_violations();
      },
      std::chrono::seconds(120));
}

std::string key_of(int n) { return fmt::format("key-{:04}", n); }

// The value `s` holds for `key`, or "<missing>".
std::string value_of(const store& s, std::string_view key) {
  auto v = s.get(key);
  return v.ok() ? *v : "<missing>";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(replica_cluster)

// The path of an election and of writes with one follower cut off: the leader commits with one
// follower only, so it must count itself, and only for what its own disk holds.
BOOST_AUTO_TEST_CASE(votes_and_appends_wait_for_the_wal) {
  for (auto seed : seeds(1)) {
    with_cluster(seed, [](cluster& c) -> asio::awaitable<void> {
      co_await c.elect(1);
      c.set_rule([](const raft::message& m) { return m.to == 3 || m.from == 3 ? fate::hold : fate::deliver; });
      for (int i = 0; i < 20; ++i) {
        c.write(1, key_of(i), "v" + std::to_string(i));
        if (i % 4 == 3) co_await c.settle();  // a few writes at a time: batches of several entries
      }
      co_await c.settle();
      BOOST_TEST(c.acked().size() == 20u);  // committed by node 1 and node 2 alone
      BOOST_TEST(c.at(3).applied_index() < c.at(1).applied_index());
      co_await c.heal();
      c.require_agreement();
      BOOST_TEST(c.checked(raft::message_type::vote) > 0u);
      BOOST_TEST(c.checked(raft::message_type::vote_response) > 0u);
      BOOST_TEST(c.checked(raft::message_type::append_response) > 0u);
      for (auto id : node_ids) BOOST_TEST(c.applies_of(id).applies() == c.at(id).applied_index());
    });
  }
}

// Random schedules: writes, deliveries in random order, lost and duplicated messages, a node
// cut off now and then, ticks (so elections and leader changes); every rule is checked after
// each step. Ends by healing the network and checking that the replicas agree.
// What a watcher of every key on one replica received: (revision, key, value) per change, and
// whether a revision's changes ever came in two calls.
struct watched {
  std::vector<std::tuple<std::uint64_t, std::string, std::string>> changes;
  std::set<std::uint64_t> revisions;
  bool split = false;
};

void watch_everything(store& s, watched& w) {
  watch_options o;
  o.key = o.end = std::string(1, '\0');
  o.start_revision = 1;
  watch_sink sink;
  sink.events = [&w](std::span<const key_event> events) {
    std::set<std::uint64_t> here;
    for (const auto& e : events) {
      w.changes.emplace_back(e.kv.mod_revision, std::string(e.kv.key), std::string(e.kv.value));
      here.insert(e.kv.mod_revision);
    }
    for (auto r : here) w.split = w.split || w.revisions.contains(r);
    w.revisions.insert(here.begin(), here.end());
    return true;
  };
  BOOST_REQUIRE(s.watches().watch(std::move(o), std::move(sink)).ok());
}

// Every replica's watcher saw exactly its keyspace's history, which is the same on all of them.
void require_watchers_saw_the_history(cluster& c, std::map<raft::node_id, watched>& seen) {
  const watched* first = nullptr;
  for (auto& [id, w] : seen) {
    auto& s = c.at(id);
    while (s.watches().step(1000)) {
    }
    const auto& ks = s.state().keys();
    auto history = ks.changes(key_range{std::string_view("\0", 1), std::string_view("\0", 1)}, 1, ks.revision());
    BOOST_REQUIRE(history.ok());
    std::vector<std::tuple<std::uint64_t, std::string, std::string>> want;
    for (const auto& e : *history) want.emplace_back(e.kv.mod_revision, std::string(e.kv.key), std::string(e.kv.value));
    BOOST_TEST(!w.split, "node " << id << ": a revision's changes came in two calls");
    BOOST_REQUIRE_MESSAGE(w.changes == want, "node " << id << "'s watcher saw " << w.changes.size()
                                                       << " changes of the " << want.size() << " in its history");
    if (first != nullptr) BOOST_REQUIRE_MESSAGE(w.changes == first->changes, "node " << id << "'s watcher differs");
    first = &w;
  }
}

BOOST_AUTO_TEST_CASE(random_schedules_keep_every_rule) {
  for (auto seed : seeds(10)) {
    with_cluster(seed, [](cluster& c) -> asio::awaitable<void> {
      co_await c.elect_any();
      // A watcher of every key on each replica, fed as that replica applies.
      std::map<raft::node_id, watched> seen;
      for (auto id : node_ids) watch_everything(c.at(id), seen[id]);
      int writes = 0;
      for (int step = 0; step < 600; ++step) {
        auto dice = c.rng()() % 1000;
        if (dice < 200) {
          if (auto l = c.leader(); l != 0) {
            c.write(l, key_of(writes), "value-" + std::to_string(writes));
            ++writes;
          }
          co_await c.step_done();
        } else if (dice < 600) {
          co_await c.deliver_one();
        } else if (dice < 630) {
          c.drop_one();
        } else if (dice < 650) {
          co_await c.duplicate_one();
        } else if (dice < 665) {
          const auto cut = node_ids[c.rng()() % node_ids.size()];
          c.set_rule([cut](const raft::message& m) { return m.to == cut || m.from == cut ? fate::drop : fate::deliver; });
        } else if (dice < 670) {  // a cut lasts some 200 steps
          c.set_rule(nullptr);
        } else {
          co_await c.tick(node_ids[c.rng()() % node_ids.size()]);
        }
      }
      co_await c.heal();
      c.require_agreement();
      require_watchers_saw_the_history(c, seen);
      BOOST_TEST_MESSAGE(writes << " writes, " << c.acked().size() << " acknowledged, " << c.terms_led()
                                << " terms with a leader");
      BOOST_TEST(!c.acked().empty());
    });
  }
}

// A follower's ReadIndex read: the leader confirms the read index, but the follower has not yet
// applied that far (the leader's appends to it are held); the read must wait, then see the write.
BOOST_AUTO_TEST_CASE(follower_read_waits_until_applied) {
  for (auto seed : seeds(1)) {
    with_cluster(seed, [](cluster& c) -> asio::awaitable<void> {
      co_await c.elect(1);
      c.write(1, "k", "before");
      co_await c.commit_everywhere();
      BOOST_TEST(value_of(c.at(2), "k") == "before");

      c.set_rule([](const raft::message& m) {
        return m.from == 1 && m.to == 2 && m.type == raft::message_type::append ? fate::hold : fate::deliver;
      });
      c.write(1, "k", "after");
      co_await c.settle();
      BOOST_TEST(c.acked().at("k") == "after");
      const auto write_index = c.at(1).applied_index();

      bool answered = false;
      store& follower = c.at(2);
      follower.read_barrier([&](result<std::uint64_t> r) {
        answered = true;
        BOOST_TEST(r.ok());
        if (!r.ok()) return;
        BOOST_TEST(*r >= write_index);
        BOOST_TEST(follower.applied_index() >= *r);
        BOOST_TEST(value_of(follower, "k") == "after");
      });
      co_await c.settle();
      // The leader answered the read index (the round needs node 3 only); node 2 is behind it.
      BOOST_TEST(c.checked(raft::message_type::read_index_response) > 0u);
      BOOST_TEST(!answered);
      BOOST_TEST(follower.applied_index() < write_index);
      BOOST_TEST(value_of(follower, "k") == "before");

      co_await c.heal();
      BOOST_TEST(answered);
      c.require_agreement();
    });
  }
}

// A leader handing over (a graceful stop) picks a follower that answers: node 2 stops hearing
// anything while its log is as long as node 3's, and the leadership goes to node 3.
BOOST_AUTO_TEST_CASE(leadership_is_handed_to_a_follower_that_answers) {
  for (auto seed : seeds(1)) {
    with_cluster(seed, [](cluster& c) -> asio::awaitable<void> {
      co_await c.elect(1);
      c.write(1, "k", "v");
      co_await c.commit_everywhere();
      c.set_rule([](const raft::message& m) { return m.to == 2 || m.from == 2 ? fate::drop : fate::deliver; });
      // Past a check-quorum round: the leader knows who has answered since.
      for (int i = 0; i < 2 * election_ticks; ++i) {
        co_await c.tick(1);
        co_await c.settle();
      }
      BOOST_REQUIRE(c.leader() == 1u);
      bool done = false;
      bool handed = false;
      asio::co_spawn(
          co_await asio::this_coro::executor,
          [&]() -> asio::awaitable<void> {
            handed = co_await c.at(1).hand_over_leadership();
            done = true;
          },
          asio::detached);
      for (int i = 0; i < 50 && !done; ++i) co_await c.settle();
      // A hand-over that did not finish waits out a wall-clock timeout this test never reaches.
      BOOST_REQUIRE_MESSAGE(done, "the hand-over did not finish");
      BOOST_TEST(handed);
      BOOST_TEST((c.at(3).role() == raft::role::leader));
      co_await c.heal();
      c.require_agreement();
    });
  }
}

// Writes acknowledged to clients survive: the leader stopped and reopened holds them at once
// (replayed from its WAL); the other two elect a leader that holds them; a follower stopped
// and reopened catches up; in the end all three agree.
BOOST_AUTO_TEST_CASE(acknowledged_writes_survive_a_restart) {
  for (auto seed : seeds(1)) {
    with_cluster(seed, [](cluster& c) -> asio::awaitable<void> {
      co_await c.elect(1);
      for (int i = 0; i < 30; ++i) {
        c.write(1, key_of(i), "first-" + std::to_string(i));
        if (i % 5 == 4) co_await c.settle();
      }
      co_await c.settle();
      BOOST_TEST_REQUIRE(c.acked().size() == 30u);

      co_await c.stop(1);
      // The two left elect a new leader; it holds every acknowledged write.
      auto second = co_await c.elect_any();
      BOOST_TEST(second != 1u);
      co_await c.settle();
      for (const auto& [key, value] : c.acked()) BOOST_TEST(value_of(c.at(second), key) == value);
      for (int i = 30; i < 40; ++i) c.write(second, key_of(i), "second-" + std::to_string(i));
      co_await c.settle();

      c.start(1);
      // Before it hears from anyone: its own WAL gave back every write it acknowledged.
      for (int i = 0; i < 30; ++i) BOOST_TEST(value_of(c.at(1), key_of(i)) == "first-" + std::to_string(i));

      const raft::node_id follower = second == 2 ? 3 : 2;
      co_await c.stop(follower);
      c.start(follower);
      co_await c.heal();
      BOOST_TEST(c.acked().size() == 40u);
      c.require_agreement();
    });
  }
}

BOOST_AUTO_TEST_SUITE_END()
