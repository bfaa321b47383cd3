// Per-key TTLs on a real 3-node cluster under faults (docs/storage.md, "Per-key TTLs and the
// cluster clock"). A writer per key follows a seeded script of puts with TTLs of 1 to 4 s: some
// keys are left to expire, some put again, some given a new TTL by `expire` before they run out,
// some persisted, and a few have TTLs far longer than the run. Each write's client-side send time
// and outcome is recorded: applied (acknowledged), no effect (an expire or persist that found no
// key) or unknown (it failed with a timeout or no leader: it may have applied, at any time up to
// the end); a writer stops at its first unknown outcome. A watcher on every node and a poller
// (linearizable gets) note when each key disappears, while a nemesis kills -9 and restarts the
// leader or any node and pauses (SIGSTOP) the leader or a follower.
//
// The guarantee checked: no key is deleted before the TTL of the write that set its last version
// has passed since that write was sent. A delete seen at receive time R (an upper bound of when it
// happened) may have been caused by write j only if j was sent TTL_j before min(R, the ack of the
// first write after j known to have applied): a later applied write replaced j's version before
// its ack. Unknown-outcome writes count as writes that may have applied and never bound an earlier
// one. If no write can explain a delete, it was early. Every time is this process's steady clock,
// so the check is sound (no false alarm) but sees an early delete only if it came at least the
// observation's latency early. Then, faults over: persisted and long-lived keys are on every node;
// keys that must have expired are gone from every node, every node's replay from revision 1 shows
// the same deletes at the same revisions (and every watcher's deletes are among them), and each
// expired within a generous bound of its deadline or of the last failover.
//
// KV_TTL_FAULT_SEED=N picks the scripts and the faults (process timing is not reproducible: a
// seed replays a run only roughly); KV_TTL_FAULT_DURATION_S sets how long the faults last (14 s).

#include "core/model/key_range.hpp"
#include "fault/nemesis.hpp"
#include "fault/run_support.hpp"
#include "harness/cluster.hpp"
#include "harness/cluster_status.hpp"
#include "io/client/watch_stream.hpp"
#include "support/async.hpp"
#include "support/client_util.hpp"
#include "support/seeds.hpp"

#include <asio/co_spawn.hpp>
#include <boost/test/unit_test.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Short, so that writers and pollers move off a paused node well within a TTL.
constexpr auto request_timeout = 500ms;
// Longer than any fault lasts.
constexpr auto leader_wait = 10s;
const std::string prefix = "ttl/";
// A key that must expire is gone this long after its deadline (or a full TTL after the last
// failover before, if later) at the latest: an election, the expire entry's commit and the
// watchers' catching up fit many times over.
constexpr auto expiry_bound = 10s;
// Far longer than a run: such a key must be there at the end.
constexpr auto long_ttl = milliseconds(600'000);

long long ms(steady::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

// One process fault at a time: the leader or any node killed -9 and started again, the leader
// or a follower paused (SIGSTOP) for up to about the longest TTL. Failovers twice as often.
nemesis_options ttl_nemesis() {
  nemesis_options o;
  o.draws = {fault_kind::kill_leader, fault_kind::kill_leader, fault_kind::pause_leader, fault_kind::pause_leader,
             fault_kind::kill_any,    fault_kind::pause_follower};
  o.paused_for = ms_range{1000, 3000};
  return o;
}

// ---- keys, scripts and what was observed -----------------------------------------------------

// What a key's script does: one put left to expire; puts again (maybe after it expired); new TTLs
// by expire before it runs out; a persist soon after the put; TTLs longer than the run.
enum class shape : std::uint8_t { expiring, re_put, extended, persisted, long_lived };

const char* name_of(shape s) {
  switch (s) {
    case shape::expiring: return "expiring";
    case shape::re_put: return "re-put";
    case shape::extended: return "extended";
    case shape::persisted: return "persisted";
    case shape::long_lived: return "long-lived";
  }
  return "?";
}

enum class op : std::uint8_t { put, expire, persist };

const char* name_of(op o) {
  switch (o) {
    case op::put: return "put";
    case op::expire: return "expire";
    case op::persist: return "persist";
  }
  return "?";
}

struct step {
  milliseconds at{0};  // after t0; sent then, or when the step before is answered if later
  op what = op::put;
  milliseconds ttl{0};  // put, expire
};

// applied: acknowledged; no_effect: an expire or persist that answered false (no such key, or
// no TTL to remove); unknown: failed otherwise, so it may have applied, at any time.
enum class outcome : std::uint8_t { applied, no_effect, unknown };

struct write_record {
  op what = op::put;
  milliseconds ttl{0};
  steady::time_point sent;
  steady::time_point answered;
  outcome result = outcome::unknown;
  std::string failure;

  bool sets_ttl() const { return what != op::persist; }
};

// What a key must look like once the faults are over.
enum class end_state : std::uint8_t { gone, present, undetermined };

// One key and everything observed about it. Touched only on the test's io_context thread.
struct key_record {
  int index = 0;
  shape kind = shape::expiring;
  std::string key;
  std::vector<step> script;
  std::vector<write_record> writes;  // in order; each sent after the one before was answered
  bool writer_done = false;

  // Delete revision -> when a watcher first delivered it; receive times of the poller's
  // not_found answers to gets sent after the first write was acknowledged.
  std::map<std::uint64_t, steady::time_point> watched_deletes;
  std::vector<steady::time_point> polled_gone;

  std::string name() const { return fmt::format("{} ({})", key, name_of(kind)); }

  // The writes that may have set the key's last version (applied or unknown, not no_effect).
  std::vector<const write_record*> effective() const {
    std::vector<const write_record*> out;
    for (const auto& w : writes) {
      if (w.result != outcome::no_effect) out.push_back(&w);
    }
    return out;
  }
  const write_record* last_effective() const {
    auto e = effective();
    return e.empty() ? nullptr : e.back();
  }

  // Whether some write can explain a delete seen at `r`: a write j that sets a TTL with
  // sent_j + ttl_j <= min(r, the ack of the first write after j known to have applied).
  bool delete_explained(steady::time_point r) const {
    const auto e = effective();
    for (std::size_t j = 0; j < e.size(); ++j) {
      if (!e[j]->sets_ttl()) continue;
      auto until = r;
      for (std::size_t i = j + 1; i < e.size(); ++i) {
        if (e[i]->result == outcome::applied) {
          until = std::min(until, e[i]->answered);
          break;
        }
      }
      if (e[j]->sent + e[j]->ttl <= until) return true;
    }
    return false;
  }

  end_state expected() const {
    const auto e = effective();
    if (e.empty() || e.front()->result != outcome::applied) return end_state::undetermined;
    const auto short_ttl = [](const write_record* w) { return w->sets_ttl() && w->ttl < long_ttl; };
    const auto lasting = [](const write_record* w) { return !w->sets_ttl() || w->ttl >= long_ttl; };
    // An unknown last write may or may not have applied: both it and the last applied one decide.
    std::vector<const write_record*> candidates(1, e.back());
    if (e.back()->result == outcome::unknown && e.size() >= 2) candidates.push_back(e[e.size() - 2]);
    if (std::all_of(candidates.begin(), candidates.end(), short_ttl)) return end_state::gone;
    if (std::all_of(candidates.begin(), candidates.end(), lasting)) return end_state::present;
    return end_state::undetermined;
  }

  std::string history(const fault_log& log) const {
    std::string out;
    for (const auto& w : writes) {
      out += fmt::format("{} {} ms sent +{} answered +{} {}{}; ", name_of(w.what), w.ttl.count(), log.at(w.sent),
                         log.at(w.answered),
                         w.result == outcome::applied ? "applied"
                         : w.result == outcome::no_effect ? "no effect"
                                                          : "unknown",
                         w.failure.empty() ? std::string() : " (" + w.failure + ")");
    }
    out += "deletes watched:";
    for (const auto& [rev, t] : watched_deletes) out += fmt::format(" r{} at +{}", rev, log.at(t));
    if (!polled_gone.empty()) out += fmt::format("; the poller first found it gone at +{}", log.at(polled_gone.front()));
    return out;
  }
};

using keys = std::vector<std::unique_ptr<key_record>>;

// The scripts, from the seed: every write in the first three quarters of the faults.
keys plan(std::uint64_t seed, std::chrono::seconds duration) {
  std::mt19937_64 rng(seed);
  const auto total = static_cast<double>(milliseconds(duration).count());
  const auto uniform = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  const auto at = [&](double lo, double hi) { return milliseconds(static_cast<long long>(uniform(lo, hi) * total)); };
  const auto ttl = [&] { return milliseconds(static_cast<long long>(uniform(1000, 4000))); };
  const auto scaled = [](milliseconds t, double f) { return milliseconds(static_cast<long long>(t.count() * f)); };
  const std::vector<std::pair<shape, int>> shapes{{shape::expiring, 6},  {shape::re_put, 5}, {shape::extended, 5},
                                                  {shape::persisted, 4}, {shape::long_lived, 3}};
  keys out;
  for (const auto& [s, count] : shapes) {
    for (int n = 0; n < count; ++n) {
      auto k = std::make_unique<key_record>();
      k->index = static_cast<int>(out.size());
      k->kind = s;
      k->key = fmt::format("{}{}", prefix, k->index);
      const step first{at(0, 0.5), op::put, s == shape::long_lived ? long_ttl : ttl()};
      k->script.push_back(first);
      const int more = std::uniform_int_distribution<int>(1, 3)(rng);
      for (int m = 0; m < more; ++m) {
        const auto prev = k->script.back();
        const auto life = prev.ttl == long_ttl ? milliseconds(2000) : prev.ttl;
        if (s == shape::re_put) k->script.push_back(step{prev.at + scaled(life, uniform(0.3, 1.5)), op::put, ttl()});
        if (s == shape::extended) k->script.push_back(step{prev.at + scaled(life, uniform(0.3, 0.7)), op::expire, ttl()});
        if (s == shape::long_lived) k->script.push_back(step{prev.at + scaled(life, uniform(0.3, 1.0)), op::expire, long_ttl});
      }
      if (s == shape::persisted) k->script.push_back(step{first.at + scaled(first.ttl, 0.2), op::persist, 0ms});
      out.push_back(std::move(k));
    }
  }
  return out;
}

client::options options_for(std::vector<std::string> endpoints) {
  return fault_client_options(std::move(endpoints), request_timeout, leader_wait);
}

key_record& record_of(keys& ks, const std::string& key) {
  return *ks.at(static_cast<std::size_t>(std::stoi(key.substr(prefix.size()))));
}

// Runs `k`'s script, stopping at its first unknown outcome: its state is then unknown.
asio::awaitable<void> write(client& c, key_record* k, steady::time_point t0, const bool& stop) {
  for (const auto& s : k->script) {
    if (stop) break;
    if (steady::now() < t0 + s.at) co_await sleep_for(t0 + s.at - steady::now());
    write_record w;
    w.what = s.what;
    w.ttl = s.ttl;
    w.sent = steady::now();
    if (s.what == op::put) {
      auto r = co_await c.put_with_ttl(k->key, fmt::format("v{}", k->writes.size()), s.ttl);
      w.result = r ? outcome::applied : outcome::unknown;
      if (!r) w.failure = r.message();
    } else {
      result<bool> r = false;
      if (s.what == op::expire) r = co_await c.expire(k->key, s.ttl);
      else r = co_await c.persist(k->key);
      if (r) w.result = *r ? outcome::applied : outcome::no_effect;
      else w.failure = r.message();
    }
    w.answered = steady::now();
    k->writes.push_back(w);
    if (w.result == outcome::unknown) break;
  }
  k->writer_done = true;
}

// Gets every key linearizably, one after another, until `stop`, noting each not_found answer to
// a get sent after the key's first write was acknowledged.
asio::awaitable<void> poll(client& c, keys* ks, const bool& stop) {
  while (!stop) {
    for (auto& k : *ks) {
      if (k->writes.empty() || k->writes.front().result != outcome::applied) continue;
      auto v = co_await c.get(k->key);
      if (v.is(errc::not_found)) k->polled_gone.push_back(steady::now());
    }
    co_await sleep_for(50ms);
  }
}

// Follows `w` until it is cancelled, noting each delete's first receive time in `ks`.
asio::awaitable<void> follow(watch_stream* w, keys* ks, std::string* failure) {
  for (;;) {
    auto b = co_await w->next();
    if (b.is(errc::unavailable)) continue;  // no node within leader_wait: next() tries again
    if (!b) {
      if (b.error() != std::make_error_code(std::errc::operation_canceled)) *failure = b.message();
      co_return;
    }
    const auto now = steady::now();
    for (const auto& e : b->events) {
      if (e.deleted) record_of(*ks, e.kv.key).watched_deletes.emplace(e.kv.mod_revision, now);
    }
  }
}


// A delete of `key` at `revision`, as a replay delivered it.
using deletes = std::vector<std::pair<std::string, std::uint64_t>>;

// The end state one node holds alone: which keys it has (and their TTLs), and the deletes a
// replay from revision 1 on it shows, in order.
struct node_view {
  std::uint64_t id = 0;
  std::map<std::string, std::int64_t> present;  // key -> ttl() on this node
  deletes replayed;
  std::string failure;
};

asio::awaitable<void> read_node(const cluster& cl, std::uint64_t last, node_view* out, const keys* ks) {
  client c(co_await asio::this_coro::executor, options_for(std::vector<std::string>(1, cl.member(out->id).endpoint())));
  for (const auto& k : *ks) {
    auto v = co_await c.get(k->key, read_mode::stale);
    if (v) {
      auto t = co_await c.ttl(k->key, read_mode::stale);
      out->present[k->key] = t ? *t : -3;
    } else if (!v.is(errc::not_found)) {
      out->failure += k->key + ": " + v.message() + "; ";
    }
  }
  out->failure += co_await replay_deletes(c, prefix, last, [out](std::string_view key, std::uint64_t revision) {
    out->replayed.emplace_back(std::string(key), revision);
  });
  c.close();
}

struct run_results {
  keys ks;
  std::vector<std::string> watcher_failures;
  std::vector<node_view> nodes;
  std::uint64_t last = 0;
};

// Whether `k` no longer needs watching: its writer is done and, if it must end gone, a watcher
// saw its last delete or the bound for it passed.
bool settled(const key_record& k, const fault_log& log) {
  if (!k.writer_done) return false;
  if (k.expected() != end_state::gone) return true;
  const auto* last = k.last_effective();
  if (!k.watched_deletes.empty() && k.watched_deletes.rbegin()->second > last->answered) return true;
  const auto now = steady::now();
  return now > std::max(last->answered, log.last_fault_before(now)) + last->ttl + expiry_bound;
}

// The run on `cl`: watchers, writers, the poller and the nemesis for `duration`; then, faults
// over, waits for the keys that must expire and reads every node's end state.
void run_workload(cluster& cl, std::uint64_t seed, std::chrono::seconds duration, run_results& out,
                  fault_log& log) {
  run_async(
      [&](asio::io_context& ctx) -> asio::awaitable<void> {
        task_group following(ctx.get_executor());
        task_group working(ctx.get_executor());
        bool stop = false;
        std::vector<std::unique_ptr<client>> clients;
        std::vector<std::unique_ptr<watch_stream>> streams;
        std::optional<nemesis> faults;
        std::exception_ptr failure;
        const auto make_client = [&](std::vector<std::string> eps) -> client& {
          clients.push_back(std::make_unique<client>(ctx.get_executor(), options_for(std::move(eps))));
          return *clients.back();
        };
        try {
          co_await wait_for_leader(cl);
          auto& writer = make_client(cl.endpoints());
          auto& poller = make_client(cl.endpoints());
          out.watcher_failures.resize(cl.size());
          for (auto id : cl.ids()) {
            auto& c = make_client(cl.endpoints_from(id));
            streams.push_back(co_await open_replay(c, prefix));
            following.spawn(follow(streams.back().get(), &out.ks, &out.watcher_failures[id - 1]),
                            fmt::format("the watcher on node {}", id));
          }
          const auto t0 = steady::now();
          faults.emplace(cl, ttl_nemesis(), seed, log);
          for (auto& k : out.ks) working.spawn(write(writer, k.get(), t0, stop), k->name() + "'s writer");
          working.spawn(poll(poller, &out.ks, stop), "the poller");
          co_await sleep_for(duration);

          faults->stop();
          const auto nemesis_deadline = steady::now() + 30s;
          while (!faults->done() && steady::now() < nemesis_deadline) co_await sleep_for(50ms);
          BOOST_REQUIRE_MESSAGE(faults->done(), "the nemesis did not stop within 30 s");
          faults->finish();
          log.add("faults over");
          co_await wait_for_leader(cl, cl.ids(), 20s);
          for (auto& k : out.ks) {
            while (!settled(*k, log)) co_await sleep_for(50ms);
          }
          stop = true;
          co_await working.wait_all();
          log.add("writers and poller stopped");

          co_await wait_converged(cl, 20s);
          auto everything = co_await poller.range(make_range(prefix, prefix_end(prefix)));
          BOOST_REQUIRE_MESSAGE(everything.ok(), everything.message());
          out.last = everything->revision;
          for (auto id : cl.ids()) {
            out.nodes.emplace_back();
            out.nodes.back().id = id;
          }
          for (auto& n : out.nodes) co_await read_node(cl, out.last, &n, &out.ks);
        } catch (...) {
          failure = std::current_exception();
        }
        if (faults) faults->stop();
        while (faults && !faults->done()) co_await sleep_for(50ms);
        stop = true;
        co_await working.wait_all();
        for (auto& s : streams) s->cancel();
        co_await following.wait_all();
        streams.clear();
        for (auto& c : clients) c->close();
        if (failure) std::rethrow_exception(failure);
      },
      duration + 180s);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ttl_faults)

BOOST_AUTO_TEST_CASE(no_key_expires_early_and_every_node_agrees) {
  const auto seed = env_number("KV_TTL_FAULT_SEED", 1);
  const auto duration = std::chrono::seconds(env_number("KV_TTL_FAULT_DURATION_S", 14));
  BOOST_TEST_MESSAGE("KV_TTL_FAULT_SEED=" << seed);
  cluster_options o;
  o.extra_toml = "[index]\nenabled = false\n";
  o.log_level = "info";
  cluster cl(o);
  run_results out;
  out.ks = plan(seed, duration);
  const auto started = steady::now();
  fault_log log(started);
  run_workload(cl, seed, duration, out, log);
  const auto took = ms(steady::now() - started);
  const auto context = fmt::format("KV_TTL_FAULT_SEED={}; faults:\n{}", seed, log.text());

  for (std::size_t i = 0; i < out.watcher_failures.size(); ++i) {
    BOOST_TEST(out.watcher_failures[i].empty(), "the watcher on node " << i + 1 << " ended: " << out.watcher_failures[i]);
  }
  // Every node's replay shows the same deletes at the same revisions, and every watcher's among them.
  std::map<std::string, std::set<std::uint64_t>> replayed;  // key -> delete revisions, node 1's replay
  if (!out.nodes.empty()) {
    for (const auto& [key, rev] : out.nodes.front().replayed) replayed[key].insert(rev);
  }
  for (const auto& n : out.nodes) {
    BOOST_TEST(n.failure.empty(), "node " << n.id << ": " << n.failure);
    BOOST_TEST((n.replayed == out.nodes.front().replayed),
               "node " << n.id << "'s replay shows other deletes than node " << out.nodes.front().id << "'s: "
                       << fmt::format("{}", n.replayed) << " vs " << fmt::format("{}", out.nodes.front().replayed));
  }

  std::string summary;
  int expired = 0;
  int kept = 0;
  for (const auto& kp : out.ks) {
    const auto& k = *kp;
    const auto what = k.name() + ": " + k.history(log);
    summary += "  " + what + "\n";
    const auto expected = k.expected();
    BOOST_TEST(!k.writes.empty(), k.name() << " was never written");

    // (a) No delete, seen by a watcher or the poller, that no write's TTL explains.
    for (const auto& [rev, at] : k.watched_deletes) {
      BOOST_TEST(k.delete_explained(at), "deleted early (revision " << rev << ", seen at +" << log.at(at)
                                                                    << " ms): " << what << "\n"
                                                                    << context);
    }
    for (const auto at : k.polled_gone) {
      BOOST_TEST(k.delete_explained(at), "found gone early at +" << log.at(at) << " ms: " << what << "\n" << context);
    }
    for (const auto& [rev, at] : k.watched_deletes) {
      BOOST_TEST(replayed[k.key].contains(rev), "a watcher saw " << k.key << " deleted at revision " << rev
                                                                 << ", which no replay shows");
    }

    if (expected == end_state::present) {
      // (b) Persisted and long-lived keys: on every node, with no TTL or a long one, never deleted
      //     since the write that made them lasting.
      ++kept;
      for (const auto& n : out.nodes) {
        auto it = n.present.find(k.key);
        BOOST_TEST((it != n.present.end()), "node " << n.id << " lost " << what << "\n" << context);
        if (it != n.present.end()) {
          const bool lasting = it->second == -1 || it->second > ms(long_ttl / 2);
          BOOST_TEST(lasting, "node " << n.id << " gives " << k.key << " a TTL of " << it->second << " ms: " << what);
        }
      }
    } else if (expected == end_state::gone) {
      // (c) Gone from every node, and the replays end with its delete.
      ++expired;
      const auto* last = k.last_effective();
      for (const auto& n : out.nodes) {
        BOOST_TEST(!n.present.contains(k.key), "node " << n.id << " still has " << what << "\n" << context);
      }
      BOOST_TEST(!replayed[k.key].empty(), "no replay shows a delete of " << what);
      // (d) Its last delete came within the bound of its deadline (the last applied write's ack
      //     plus its TTL), or of a full TTL after the last fault before it if that came later.
      if (last->result != outcome::applied) continue;
      if (k.watched_deletes.empty() || k.watched_deletes.rbegin()->second <= last->answered) {
        BOOST_ERROR("never seen deleted after its last write: " << what << "\n" << context);
        continue;
      }
      const auto gone = k.watched_deletes.rbegin()->second;
      const auto base = std::max(last->answered, log.last_fault_before(gone)) + last->ttl;
      BOOST_TEST(ms(gone - base) < ms(expiry_bound), "expired late: more than " << ms(expiry_bound) << " ms after +"
                                                                               << log.at(base) << " ms: " << what
                                                                               << "\n"
                                                                               << context);
    }
  }
  BOOST_TEST(expired >= 10, "only " << expired << " keys surely expired:\n" << summary << context);
  BOOST_TEST(kept >= 3, "only " << kept << " keys surely kept:\n" << summary << context);
  BOOST_TEST(log.faults() >= 5, "too few faults:\n" << context);
  BOOST_TEST_MESSAGE("KV_TTL_FAULT_SEED=" << seed << ": " << log.faults() << " faults, up to revision " << out.last
                                          << ", " << expired << " keys expired, " << kept << " kept, " << took
                                          << " ms\n"
                                          << summary << log.text());
}

BOOST_AUTO_TEST_SUITE_END()
