// The linearizability checker (test/support/linearizability.hpp) on hand-made histories, and on
// generated ones large enough to show its speed: of set / get / del, and of transactions
// (compare-and-set on single keys, transfers between accounts and multi-key reads).

#include "support/linearizability.hpp"

#include <boost/test/unit_test.hpp>

#include <map>
#include <optional>
#include <queue>
#include <random>
#include <tuple>

using namespace kv::test;
using namespace std::chrono_literals;

namespace {

const history_clock::time_point t0 = history_clock::now();

// Times in milliseconds from t0; `end` < 0: the outcome is unknown (completion +infinity).
operation op(int client, op_kind kind, std::string key, std::string value, bool found, op_outcome outcome, int begin,
             int end) {
  operation o;
  o.kind = kind;
  o.key = std::move(key);
  o.value = std::move(value);
  o.found = found;
  o.outcome = outcome;
  o.client = client;
  o.invoked = t0 + std::chrono::milliseconds(begin);
  if (outcome != op_outcome::unknown) o.completed = t0 + std::chrono::milliseconds(end);
  if (outcome != op_outcome::ok) o.note = outcome == op_outcome::failed ? "not leader" : "timed out";
  return o;
}

operation set(int client, std::string key, std::string value, int begin, int end) {
  return op(client, op_kind::set, std::move(key), std::move(value), false, op_outcome::ok, begin, end);
}
operation set_unknown(int client, std::string key, std::string value, int begin) {
  return op(client, op_kind::set, std::move(key), std::move(value), false, op_outcome::unknown, begin, -1);
}
operation set_failed(int client, std::string key, std::string value, int begin, int end) {
  return op(client, op_kind::set, std::move(key), std::move(value), false, op_outcome::failed, begin, end);
}
operation get(int client, std::string key, std::string value, int begin, int end) {
  return op(client, op_kind::get, std::move(key), std::move(value), true, op_outcome::ok, begin, end);
}
operation get_absent(int client, std::string key, int begin, int end) {
  return op(client, op_kind::get, std::move(key), {}, false, op_outcome::ok, begin, end);
}
operation del(int client, std::string key, bool found, int begin, int end) {
  return op(client, op_kind::del, std::move(key), {}, found, op_outcome::ok, begin, end);
}
operation del_unknown(int client, std::string key, int begin) {
  return op(client, op_kind::del, std::move(key), {}, false, op_outcome::unknown, begin, -1);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// What "quickly" means for a check of thousands of operations: in an optimized build without
// sanitizers, under a second.
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__)
constexpr auto quick = std::chrono::seconds(1);
#else
constexpr auto quick = std::chrono::seconds(30);
#endif

// A history of `clients` clients doing `ops_per_client` random operations each on `keys` keys,
// produced by a real register (so it is linearizable): each operation takes effect at a random
// point of its interval. Writes time out at rate `unknown_rate`; half of those never apply, the
// others apply at a random point, possibly long after the client gave up.
history generated(std::uint64_t seed, int clients, int ops_per_client, int keys, double unknown_rate) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };
  struct planned {
    operation o;
    std::int64_t effect_us;  // when it takes effect; -1: never
  };
  std::vector<planned> plan;
  for (int c = 0; c < clients; ++c) {
    std::int64_t now = uniform(0, 100);
    for (int n = 0; n < ops_per_client; ++n) {
      operation o;
      o.client = c;
      o.key = fmt::format("k{}", uniform(0, keys - 1));
      int dice = uniform(0, 99);
      o.kind = dice < 45 ? op_kind::set : dice < 95 ? op_kind::get : op_kind::del;
      if (o.kind == op_kind::set) o.value = fmt::format("c{}-{}", c, n);
      std::int64_t begin = now;
      std::int64_t end = begin + uniform(50, 3000);
      std::int64_t effect = uniform(static_cast<int>(begin), static_cast<int>(end));
      o.invoked = t0 + std::chrono::microseconds(begin);
      o.completed = t0 + std::chrono::microseconds(end);
      o.outcome = op_outcome::ok;
      if (o.is_write() && chance(unknown_rate)) {
        o.outcome = op_outcome::unknown;
        o.completed = history_clock::time_point::max();
        o.note = "timed out";
        effect = chance(0.5) ? -1 : effect + uniform(0, 20000);
      }
      plan.push_back({o, effect});
      now = end + uniform(0, 200);
    }
  }
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < plan.size(); ++i)
    if (plan[i].effect_us >= 0) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return plan[a].effect_us < plan[b].effect_us; });
  std::map<std::string, std::string> reg;
  for (auto i : order) {
    auto& o = plan[i].o;
    auto it = reg.find(o.key);
    if (o.kind == op_kind::set) reg[o.key] = o.value;
    if (o.kind == op_kind::get) {
      o.found = it != reg.end();
      if (o.found) o.value = it->second;
    }
    if (o.kind == op_kind::del) {
      o.found = it != reg.end();
      reg.erase(o.key);
    }
  }
  history h;
  for (auto& p : plan) h.push_back(std::move(p.o));
  return h;
}

// ---- transactions -------------------------------------------------------------------------

key_state holds(std::string key, std::string value) { return {std::move(key), std::move(value)}; }
key_state absent_key(std::string key) { return {std::move(key), std::nullopt}; }

// A transaction: `guards` then `writes`; answered (ok) with `succeeded` and `reads`, unless
// `end` < 0 (unknown outcome).
operation txn(int client, std::vector<key_state> guards, std::vector<key_state> writes, bool succeeded,
              std::vector<key_state> reads, int begin, int end) {
  operation o = op(client, op_kind::txn, "", "", false, end < 0 ? op_outcome::unknown : op_outcome::ok, begin, end);
  o.guards = std::move(guards);
  o.writes = std::move(writes);
  o.reads = std::move(reads);
  o.succeeded = end >= 0 && succeeded;
  o.key = o.keys().front();
  return o;
}
// cas(key, expected -> value) that succeeded; `expected` nullopt: the key was absent.
operation cas(int client, std::string key, std::optional<std::string> expected, std::string value, int begin, int end) {
  return txn(client, {{key, std::move(expected)}}, {holds(key, std::move(value))}, true, {}, begin, end);
}
// A cas that failed and read `saw` instead.
operation cas_failed(int client, std::string key, std::optional<std::string> expected, std::string value,
                     std::optional<std::string> saw, int begin, int end) {
  return txn(client, {{key, std::move(expected)}}, {holds(key, std::move(value))}, false, {{key, std::move(saw)}},
             begin, end);
}
operation cas_unknown(int client, std::string key, std::optional<std::string> expected, std::string value, int begin) {
  return txn(client, {{key, std::move(expected)}}, {holds(key, std::move(value))}, false, {}, begin, -1);
}
operation mget(int client, std::vector<key_state> reads, int begin, int end) {
  return txn(client, {}, {}, true, std::move(reads), begin, end);
}

// What a simulated client does (see simulated()).
enum class sim_workload {
  cas,        // get, set, cas (expecting what it saw last) and del on a few keys
  transfers,  // mget of every account, and transfers between two: guarded by what it saw last
};

// A history of `clients` clients doing `ops_per_client` operations each, one after another,
// on a real map of registers: each takes effect at a random point of its interval, in the
// order of those points (so the history is linearizable). A client's guards are what it saw
// last, so that concurrent writes make them fail. Writes time out at rate `unknown_rate`; half
// of those never apply, the others apply at a random point, possibly long after the client gave
// up.
history simulated(std::uint64_t seed, int clients, int ops_per_client, int keys, sim_workload workload,
                  double unknown_rate) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };
  auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };
  auto key_name = [&](std::int64_t k) { return fmt::format("{}{}", workload == sim_workload::cas ? "k" : "a", k); };
  std::map<std::string, std::string> store;
  auto value_of = [&](const std::string& k) -> std::optional<std::string> {
    auto it = store.find(k);
    if (it == store.end()) return std::nullopt;
    return it->second;
  };
  std::vector<std::map<std::string, std::optional<std::string>>> seen(static_cast<std::size_t>(clients));
  std::vector<int> done(static_cast<std::size_t>(clients), 0);
  history h;
  // Events by time: 0 an operation takes effect, 1 it completes, 2 a client invokes its next.
  using event = std::tuple<std::int64_t, int, std::size_t>;
  std::priority_queue<event, std::vector<event>, std::greater<>> events;
  for (int c = 0; c < clients; ++c) events.emplace(uniform(0, 100), 2, static_cast<std::size_t>(c));
  std::vector<std::int64_t> ends;
  while (!events.empty()) {
    auto [t, what, id] = events.top();
    events.pop();
    if (what == 2) {
      const int c = static_cast<int>(id);
      auto& last = seen[id];
      const int n = done[id]++;
      operation o;
      o.client = c;
      o.invoked = t0 + std::chrono::microseconds(t);
      o.outcome = op_outcome::ok;
      const std::string fresh = fmt::format("c{}-{}", c, n);
      const int dice = static_cast<int>(uniform(0, 99));
      if (workload == sim_workload::cas) {
        o.key = key_name(uniform(0, keys - 1));
        if (dice < 35) {
          o.kind = op_kind::get;
        } else if (dice < 80) {
          o = txn(c, {{o.key, last[o.key]}}, {holds(o.key, fresh)}, false, {}, 0, 0);
        } else if (dice < 95) {
          o.kind = op_kind::set;
          o.value = fresh;
        } else {
          o.kind = op_kind::del;
        }
      } else {
        std::vector<key_state> all;
        for (int k = 0; k < keys; ++k) all.push_back(absent_key(key_name(k)));
        if (dice < 30) {
          o = mget(c, all, 0, 0);
        } else {
          auto from = uniform(0, keys - 1);
          auto to = (from + uniform(1, keys - 1)) % keys;
          std::vector<key_state> guards{{key_name(from), last[key_name(from)]}, {key_name(to), last[key_name(to)]}};
          o = txn(c, guards, {holds(key_name(from), fresh + "-from"), holds(key_name(to), fresh + "-to")}, false, {}, 0, 0);
        }
      }
      o.client = c;
      o.invoked = t0 + std::chrono::microseconds(t);
      const std::int64_t end = t + uniform(50, 3000);
      std::int64_t effect = uniform(t, end);
      o.completed = t0 + std::chrono::microseconds(end);
      o.outcome = op_outcome::ok;
      if (o.is_write() && chance(unknown_rate)) {
        o.outcome = op_outcome::unknown;
        o.completed = history_clock::time_point::max();
        o.note = "timed out";
        effect = chance(0.5) ? -1 : effect + uniform(0, 20000);
      }
      h.push_back(std::move(o));
      if (effect >= 0) events.emplace(effect, 0, h.size() - 1);
      events.emplace(end, 1, h.size() - 1);
      continue;
    }
    auto& o = h[id];
    if (what == 0) {
      switch (o.kind) {
        case op_kind::get:
          o.found = store.contains(o.key);
          o.value = o.found ? store[o.key] : std::string();
          break;
        case op_kind::set:
          store[o.key] = o.value;
          break;
        case op_kind::del:
          o.found = store.erase(o.key) > 0;
          break;
        case op_kind::txn: {
          o.succeeded = std::all_of(o.guards.begin(), o.guards.end(),
                                    [&](const key_state& g) { return value_of(g.key) == g.value; });
          const bool writes = !o.writes.empty();
          if (o.succeeded && writes) {
            for (const auto& w : o.writes) store[w.key] = *w.value;
          }
          const auto keys_read = o.keys();
          o.reads.clear();
          if (!writes || !o.succeeded) {
            for (const auto& k : keys_read) o.reads.push_back({k, value_of(k)});
          }
          if (o.outcome == op_outcome::unknown) {
            o.succeeded = false;
            o.reads.clear();
          }
          break;
        }
      }
      continue;
    }
    // Completed: the client learns what it can, and invokes its next operation.
    auto& last = seen[static_cast<std::size_t>(o.client)];
    if (o.outcome == op_outcome::ok) {
      if (o.kind == op_kind::get) last[o.key] = o.found ? std::optional<std::string>(o.value) : std::nullopt;
      if (o.kind == op_kind::set) last[o.key] = o.value;
      if (o.kind == op_kind::del) last[o.key] = std::nullopt;
      for (const auto& r : o.reads) last[r.key] = r.value;
      if (o.kind == op_kind::txn && o.succeeded) {
        for (const auto& w : o.writes) last[w.key] = w.value;
      }
    }
    if (done[static_cast<std::size_t>(o.client)] < ops_per_client) {
      events.emplace(t + uniform(0, 200), 2, static_cast<std::size_t>(o.client));
    }
  }
  return h;
}

// The first answered op of `h` invoked `after` its start that `pick` accepts.
template <typename Pick>
std::optional<std::size_t> late_op(const history& h, std::chrono::milliseconds after, Pick pick) {
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (h[i].invoked > t0 + after && h[i].outcome == op_outcome::ok && pick(h[i])) return i;
  }
  return std::nullopt;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(linearizability_checker)

BOOST_AUTO_TEST_CASE(an_empty_history_is_linearizable) { BOOST_TEST(check_linearizable({}).linearizable); }

BOOST_AUTO_TEST_CASE(a_valid_concurrent_history_passes) {
  history h;
  h.push_back(set(0, "x", "a", 0, 10));
  h.push_back(get(1, "x", "a", 2, 4));        // a took effect early in its interval
  h.push_back(set(2, "x", "b", 3, 20));       // concurrent with both...
  h.push_back(get(1, "x", "a", 5, 8));        // ...and not yet in effect here
  h.push_back(get(0, "x", "b", 12, 14));      // but in effect here
  h.push_back(get(1, "x", "b", 13, 30));
  h.push_back(get_absent(3, "y", 0, 1));      // another key, checked on its own
  h.push_back(set(3, "y", "1", 2, 3));
  h.push_back(del(4, "y", true, 2, 9));       // overlaps the set and found it
  h.push_back(get_absent(3, "y", 10, 11));
  h.push_back(del(3, "y", false, 12, 13));
  auto r = check_linearizable(h);
  BOOST_TEST(r.linearizable, r.explanation);
  BOOST_TEST(r.keys == 2u);
  BOOST_TEST(r.operations == h.size());
}

BOOST_AUTO_TEST_CASE(a_value_takes_effect_only_once) {
  history h;
  h.push_back(set(0, "x", "a", 0, 10));
  h.push_back(get(1, "x", "a", 1, 2));
  h.push_back(set(2, "x", "b", 3, 4));
  h.push_back(get(1, "x", "a", 5, 6));  // "a" again after "b" replaced it: a cannot apply twice
  auto r = check_linearizable(h);
  BOOST_TEST(!r.linearizable);
}

BOOST_AUTO_TEST_CASE(a_stale_read_fails_with_an_explanation) {
  history h;
  h.push_back(set(0, "x", "old", 0, 1));
  h.push_back(set(0, "x", "new", 2, 3));
  h.push_back(get(1, "x", "old", 4, 5));  // begins after "new" was acknowledged
  auto r = check_linearizable(h);
  BOOST_TEST(!r.linearizable);
  BOOST_TEST_MESSAGE(r.explanation);
  BOOST_TEST(contains(r.explanation, "key x"), r.explanation);
  BOOST_TEST(contains(r.explanation, "#2 client 1 get(x) -> \"old\""), r.explanation);
  BOOST_TEST(contains(r.explanation, "the register is \"new\""), r.explanation);
  BOOST_TEST(contains(r.explanation, "written by #0 client 0 set(x, \"old\")"), r.explanation);
}

BOOST_AUTO_TEST_CASE(a_read_of_a_value_never_written_fails) {
  history h;
  h.push_back(set(0, "x", "a", 0, 1));
  h.push_back(get(1, "x", "ghost", 2, 3));
  auto r = check_linearizable(h);
  BOOST_TEST(!r.linearizable);
  BOOST_TEST(contains(r.explanation, "get(x) -> \"ghost\""), r.explanation);
  BOOST_TEST(contains(r.explanation, "no applied write wrote"), r.explanation);
}

BOOST_AUTO_TEST_CASE(a_read_of_a_deleted_key_after_the_delete_fails) {
  history h;
  h.push_back(set(0, "x", "a", 0, 1));
  h.push_back(del(0, "x", true, 2, 3));
  h.push_back(get(1, "x", "a", 4, 5));
  BOOST_TEST(!check_linearizable(h).linearizable);
  history h2;
  h2.push_back(del(0, "x", true, 0, 1));  // deleted a key nothing ever set
  BOOST_TEST(!check_linearizable(h2).linearizable);
}

BOOST_AUTO_TEST_CASE(an_unknown_write_may_be_seen_late_or_never) {
  history seen_late;
  seen_late.push_back(set_unknown(0, "x", "a", 0));
  seen_late.push_back(get_absent(1, "x", 10, 11));  // not in effect yet...
  seen_late.push_back(get(1, "x", "a", 500, 501));  // ...long after the client gave up
  seen_late.push_back(get(2, "x", "a", 600, 601));
  auto r = check_linearizable(seen_late);
  BOOST_TEST(r.linearizable, r.explanation);

  history never_seen;
  never_seen.push_back(set(0, "x", "a", 0, 1));
  never_seen.push_back(set_unknown(0, "x", "lost", 2));
  never_seen.push_back(get(1, "x", "a", 10, 11));
  never_seen.push_back(get(1, "x", "a", 500, 501));
  r = check_linearizable(never_seen);
  BOOST_TEST(r.linearizable, r.explanation);
  BOOST_TEST(r.dropped == 1u);  // nothing observed it: taken as never applied

  history deleted_maybe;
  deleted_maybe.push_back(set(0, "x", "a", 0, 1));
  deleted_maybe.push_back(del_unknown(0, "x", 2));
  deleted_maybe.push_back(get(1, "x", "a", 10, 11));
  deleted_maybe.push_back(get_absent(1, "x", 20, 21));
  r = check_linearizable(deleted_maybe);
  BOOST_TEST(r.linearizable, r.explanation);
}

BOOST_AUTO_TEST_CASE(an_unknown_write_cannot_take_effect_before_it_was_invoked_or_be_undone) {
  history early;
  early.push_back(get(1, "x", "a", 0, 1));
  early.push_back(set_unknown(0, "x", "a", 2));
  BOOST_TEST(!check_linearizable(early).linearizable);

  history undone;
  undone.push_back(set_unknown(0, "x", "a", 0));
  undone.push_back(get(1, "x", "a", 10, 11));
  undone.push_back(get_absent(1, "x", 20, 21));  // nothing deleted it
  BOOST_TEST(!check_linearizable(undone).linearizable);
}

BOOST_AUTO_TEST_CASE(deletes_with_an_unknown_outcome_each_apply_at_most_once_after_their_invocation) {
  history h;
  h.push_back(set(0, "x", "a", 0, 1));
  h.push_back(del_unknown(1, "x", 2));
  h.push_back(get_absent(2, "x", 5, 6));  // the first del applied
  h.push_back(set(0, "x", "b", 10, 11));
  h.push_back(del_unknown(1, "x", 20));
  h.push_back(get_absent(2, "x", 25, 26));  // the second one applied
  auto r = check_linearizable(h);
  BOOST_TEST(r.linearizable, r.explanation);

  h[5].invoked = t0 + 12ms;  // now the read ends before the second del begins
  h[5].completed = t0 + 13ms;
  BOOST_TEST(!check_linearizable(h).linearizable);
}

BOOST_AUTO_TEST_CASE(a_read_seeing_a_failed_write_fails) {
  history h;
  h.push_back(set(0, "x", "a", 0, 1));
  h.push_back(set_failed(0, "x", "refused", 2, 3));
  h.push_back(get(1, "x", "refused", 4, 5));
  auto r = check_linearizable(h);
  BOOST_TEST(!r.linearizable);
  BOOST_TEST(contains(r.explanation, "which failed (not applied)"), r.explanation);
}

BOOST_AUTO_TEST_CASE(operations_without_an_answer_but_reads_count_from_invocation) {
  history h;
  h.push_back(set(0, "x", "a", 0, 1));
  operation lost_read = get(1, "x", "", 2, 3);
  lost_read.outcome = op_outcome::unknown;
  h.push_back(lost_read);  // a read without an answer has no effect
  h.push_back(get(1, "x", "a", 4, 5));
  BOOST_TEST(check_linearizable(h).linearizable);
}

BOOST_AUTO_TEST_CASE(generated_histories_of_thousands_of_operations_per_key_check_quickly) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    auto h = generated(seed, 8, 1500, 3, 0.05);  // 12000 operations, ~4000 per key
    auto r = check_linearizable(h);
    BOOST_TEST(r.linearizable, "seed " << seed << ": " << r.explanation);
    BOOST_TEST(r.took < quick, "seed " << seed << ": " << r.took.count() << " us");
    BOOST_TEST_MESSAGE("seed " << seed << ": " << r.operations << " operations (" << r.dropped << " dropped) on "
                               << r.keys << " keys checked in " << r.took.count() / 1000.0 << " ms");
  }
}

BOOST_AUTO_TEST_CASE(one_stale_read_among_thousands_is_found) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    auto h = generated(seed, 8, 1500, 3, 0.05);
    // Make a read late in the history return the value of a write acknowledged long before it
    // began, and replaced since.
    std::optional<std::size_t> read;
    for (std::size_t i = 0; i < h.size() && !read; ++i) {
      if (h[i].kind == op_kind::get && h[i].outcome == op_outcome::ok && h[i].invoked > t0 + 1s) read = i;
    }
    BOOST_REQUIRE(read);
    std::optional<std::size_t> old;
    for (std::size_t i = 0; i < h.size() && !old; ++i) {
      const auto& o = h[i];
      if (o.kind == op_kind::set && o.key == h[*read].key && o.outcome == op_outcome::ok &&
          o.completed + 100ms < h[*read].invoked && o.value != h[*read].value) {
        old = i;
      }
    }
    BOOST_REQUIRE(old);
    h[*read].found = true;
    h[*read].value = h[*old].value;
    auto r = check_linearizable(h);
    BOOST_TEST(!r.linearizable, "seed " << seed);
    BOOST_TEST(r.took < quick, "seed " << seed << ": " << r.took.count() << " us");
    BOOST_TEST(contains(r.explanation, fmt::format("#{} ", *read)), r.explanation);
    BOOST_TEST_MESSAGE("seed " << seed << ": the stale read #" << *read << " found in " << r.took.count() / 1000.0
                               << " ms");
  }
}

BOOST_AUTO_TEST_SUITE_END()

// Compare-and-set registers and multi-key transactions: the same model, with guards.
BOOST_AUTO_TEST_SUITE(linearizability_checker_transactions)

BOOST_AUTO_TEST_CASE(a_valid_compare_and_set_history_passes) {
  history h;
  h.push_back(cas(0, "x", std::nullopt, "a", 0, 1));              // created: version == 0
  h.push_back(cas(1, "x", "a", "b", 2, 10));                       // concurrent with the next two
  h.push_back(cas_failed(2, "x", "a", "c", std::string("b"), 3, 12));  // lost the race to b
  h.push_back(get(3, "x", "a", 4, 5));                             // b not in effect yet
  h.push_back(cas_failed(0, "x", std::nullopt, "d", std::string("b"), 13, 14));  // exists
  h.push_back(set(1, "x", "e", 15, 16));
  h.push_back(cas(2, "x", "e", "f", 17, 18));
  h.push_back(del(3, "x", true, 19, 20));
  h.push_back(cas_failed(0, "x", "f", "g", std::nullopt, 21, 22));  // deleted
  auto r = check_linearizable(h);
  BOOST_TEST(r.linearizable, r.explanation);
  BOOST_TEST(r.components == 1u);
  BOOST_TEST(r.operations == h.size());
}

BOOST_AUTO_TEST_CASE(two_compare_and_sets_from_one_value_cannot_both_succeed) {
  history h;
  h.push_back(set(0, "x", "a", 0, 1));
  h.push_back(cas(1, "x", "a", "b", 2, 10));
  h.push_back(cas(2, "x", "a", "c", 3, 11));  // a lost update
  auto r = check_linearizable(h);
  BOOST_TEST(!r.linearizable);
  BOOST_TEST_MESSAGE(r.explanation);
  BOOST_TEST(contains(r.explanation, "key x: not linearizable"), r.explanation);
  BOOST_TEST(contains(r.explanation, "cas(x, \"a\" -> \"c\") -> ok"), r.explanation);
  BOOST_TEST(contains(r.explanation, "it found \"a\" but the register is"), r.explanation);
}

BOOST_AUTO_TEST_CASE(a_failed_compare_and_set_must_have_found_another_value) {
  history failed_on_its_value;
  failed_on_its_value.push_back(set(0, "x", "a", 0, 1));
  failed_on_its_value.push_back(cas_failed(1, "x", "a", "b", std::string("a"), 2, 3));
  auto r = check_linearizable(failed_on_its_value);
  BOOST_TEST(!r.linearizable);
  BOOST_TEST(contains(r.explanation, "it failed but its compares hold: the register is \"a\""), r.explanation);

  history failed_blind;  // without reading: the failure alone contradicts the register
  failed_blind.push_back(set(0, "x", "a", 0, 1));
  failed_blind.push_back(txn(1, {holds("x", "a")}, {holds("x", "b")}, false, {}, 2, 3));
  BOOST_TEST(!check_linearizable(failed_blind).linearizable);

  history absent_but_failed;
  absent_but_failed.push_back(cas_failed(1, "x", std::nullopt, "b", std::nullopt, 0, 1));
  BOOST_TEST(!check_linearizable(absent_but_failed).linearizable);
}

BOOST_AUTO_TEST_CASE(a_compare_and_set_on_an_absent_key_succeeds_only_while_it_is_absent) {
  history h;
  h.push_back(set(0, "x", "a", 0, 1));
  h.push_back(cas(1, "x", std::nullopt, "b", 2, 3));
  BOOST_TEST(!check_linearizable(h).linearizable);
  h.push_back(del(0, "x", true, 0, 4));  // a del overlapping both makes it possible
  h.back().invoked = t0 + 1ms;
  auto r = check_linearizable(h);
  BOOST_TEST(r.linearizable, r.explanation);
}

BOOST_AUTO_TEST_CASE(a_compare_and_set_reporting_its_own_value_as_a_failure_fails) {
  // What a write applied twice reports (a session that did not deduplicate a resent cas): the
  // second application fails on the value the first one wrote.
  history h;
  h.push_back(set(0, "x", "a", 0, 1));
  h.push_back(cas_failed(1, "x", "a", "b", std::string("b"), 2, 30));
  auto r = check_linearizable(h);
  BOOST_TEST(!r.linearizable);
  BOOST_TEST(contains(r.explanation, "read a value that no applied write wrote"), r.explanation);
}

BOOST_AUTO_TEST_CASE(an_unknown_compare_and_set_takes_effect_only_where_its_guard_holds) {
  history seen_late;
  seen_late.push_back(set(0, "x", "a", 0, 1));
  seen_late.push_back(cas_unknown(1, "x", "a", "b", 2));
  seen_late.push_back(get(2, "x", "a", 10, 11));
  seen_late.push_back(get(2, "x", "b", 500, 501));
  auto r = check_linearizable(seen_late);
  BOOST_TEST(r.linearizable, r.explanation);

  history never_seen;
  never_seen.push_back(set(0, "x", "a", 0, 1));
  never_seen.push_back(cas_unknown(1, "x", "a", "b", 2));
  never_seen.push_back(get(2, "x", "a", 500, 501));
  r = check_linearizable(never_seen);
  BOOST_TEST(r.linearizable, r.explanation);
  BOOST_TEST(r.dropped == 1u);

  history guard_never_held;
  guard_never_held.push_back(set(0, "x", "a", 0, 1));
  guard_never_held.push_back(cas_unknown(1, "x", "z", "b", 2));  // x never held "z"
  guard_never_held.push_back(get(2, "x", "b", 500, 501));
  BOOST_TEST(!check_linearizable(guard_never_held).linearizable);

  history guard_gone;
  guard_gone.push_back(set(0, "x", "a", 0, 1));
  guard_gone.push_back(set(0, "x", "c", 2, 3));
  guard_gone.push_back(cas_unknown(1, "x", "a", "b", 4));  // begun after "a" was replaced
  guard_gone.push_back(get(2, "x", "b", 500, 501));
  BOOST_TEST(!check_linearizable(guard_gone).linearizable);
}

BOOST_AUTO_TEST_CASE(a_failure_without_a_read_keeps_unknown_writes_that_may_explain_it) {
  // The cas failed without saying what it found: only the unknown set, applied before it, can
  // explain that. It must not be dropped as unobserved.
  history h;
  h.push_back(set(0, "x", "a", 0, 1));
  h.push_back(set_unknown(1, "x", "b", 2));
  h.push_back(txn(2, {holds("x", "a")}, {holds("x", "c")}, false, {}, 5, 6));
  auto r = check_linearizable(h);
  BOOST_TEST(r.linearizable, r.explanation);
  BOOST_TEST(r.dropped == 0u);
}

BOOST_AUTO_TEST_CASE(a_valid_transfer_history_passes) {
  history h;
  h.push_back(txn(0, {absent_key("a"), absent_key("b")}, {holds("a", "a0"), holds("b", "b0")}, true, {}, 0, 1));
  h.push_back(mget(1, {holds("a", "a0"), holds("b", "b0")}, 2, 3));
  h.push_back(txn(0, {holds("a", "a0"), holds("b", "b0")}, {holds("a", "a1"), holds("b", "b1")}, true, {}, 4, 10));
  h.push_back(txn(1, {holds("a", "a0"), holds("b", "b0")}, {holds("a", "a2"), holds("b", "b2")}, false,
                  {holds("a", "a1"), holds("b", "b1")}, 5, 12));  // lost the race
  h.push_back(mget(2, {holds("a", "a0"), holds("b", "b0")}, 5, 6));  // before the transfer
  h.push_back(mget(3, {holds("a", "a1"), holds("b", "b1")}, 6, 7));  // after it
  h.push_back(get(2, "a", "a1", 13, 14));
  h.push_back(set(4, "c", "alone", 0, 1));  // another component
  auto r = check_linearizable(h);
  BOOST_TEST(r.linearizable, r.explanation);
  BOOST_TEST(r.components == 2u);
  BOOST_TEST(r.keys == 3u);
}

BOOST_AUTO_TEST_CASE(a_read_of_half_a_transaction_fails) {
  history h;
  h.push_back(txn(0, {}, {holds("a", "a0"), holds("b", "b0")}, true, {}, 0, 1));
  h.push_back(txn(0, {holds("a", "a0"), holds("b", "b0")}, {holds("a", "a1"), holds("b", "b1")}, true, {}, 2, 10));
  h.push_back(mget(1, {holds("a", "a1"), holds("b", "b0")}, 3, 9));  // torn: one key before, one after
  auto r = check_linearizable(h);
  BOOST_TEST(!r.linearizable);
  BOOST_TEST_MESSAGE(r.explanation);
  BOOST_TEST(contains(r.explanation, "keys a, b: not linearizable"), r.explanation);
  BOOST_TEST(contains(r.explanation, "mget(a, b) -> a=\"a1\" b=\"b0\""), r.explanation);
  BOOST_TEST(contains(r.explanation, "the keys hold a=\"a"), r.explanation);
}

BOOST_AUTO_TEST_CASE(two_transfers_from_one_state_cannot_both_succeed) {
  history h;
  h.push_back(txn(0, {}, {holds("a", "a0"), holds("b", "b0"), holds("c", "c0")}, true, {}, 0, 1));
  h.push_back(txn(1, {holds("a", "a0"), holds("b", "b0")}, {holds("a", "a1"), holds("b", "b1")}, true, {}, 2, 10));
  h.push_back(txn(2, {holds("b", "b0"), holds("c", "c0")}, {holds("b", "b2"), holds("c", "c2")}, true, {}, 3, 11));
  auto r = check_linearizable(h);
  BOOST_TEST(!r.linearizable);
  BOOST_TEST(contains(r.explanation, "keys a, b, c"), r.explanation);
  BOOST_TEST(contains(r.explanation, "it found b=\"b0\" but b is"), r.explanation);
}

BOOST_AUTO_TEST_CASE(an_unknown_transfer_applies_all_or_nothing) {
  history whole;
  whole.push_back(txn(0, {}, {holds("a", "a0"), holds("b", "b0")}, true, {}, 0, 1));
  whole.push_back(txn(1, {holds("a", "a0"), holds("b", "b0")}, {holds("a", "a1"), holds("b", "b1")}, false, {}, 2, -1));
  whole.push_back(get(2, "a", "a1", 100, 101));
  whole.push_back(get(2, "b", "b1", 102, 103));
  auto r = check_linearizable(whole);
  BOOST_TEST(r.linearizable, r.explanation);

  auto half = whole;
  half[3].value = "b0";  // a took the transfer, b did not
  BOOST_TEST(!check_linearizable(half).linearizable);

  auto never = whole;
  never.resize(2);
  never.push_back(mget(2, {holds("a", "a0"), holds("b", "b0")}, 100, 101));
  r = check_linearizable(never);
  BOOST_TEST(r.linearizable, r.explanation);
  BOOST_TEST(r.dropped == 1u);
}

BOOST_AUTO_TEST_CASE(generated_compare_and_set_histories_check_quickly_and_a_lost_update_is_found) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    auto h = simulated(seed, 8, 1000, 3, sim_workload::cas, 0.05);
    auto r = check_linearizable(h);
    BOOST_TEST(r.linearizable, "seed " << seed << ": " << r.explanation);
    BOOST_TEST(r.took < quick, "seed " << seed << ": " << r.took.count() << " us");
    std::size_t succeeded = 0;
    std::size_t failed = 0;
    for (const auto& o : h) {
      if (o.is_cas() && o.outcome == op_outcome::ok) ++(o.succeeded ? succeeded : failed);
    }
    BOOST_TEST_MESSAGE("seed " << seed << ": " << r.operations << " operations (" << r.dropped << " dropped; "
                               << succeeded << " cas succeeded, " << failed << " failed) checked in "
                               << r.took.count() / 1000.0 << " ms");
    BOOST_TEST(succeeded > 500u);
    BOOST_TEST(failed > 500u);
    // A late cas that succeeded now expects a value its key held long before it began: a lost
    // update.
    auto late = late_op(h, 1s, [](const operation& o) { return o.is_cas() && o.succeeded && o.guards[0].value; });
    BOOST_REQUIRE(late);
    std::optional<std::size_t> old;
    for (std::size_t i = 0; i < h.size() && !old; ++i) {
      if (h[i].kind == op_kind::set && h[i].key == h[*late].key && h[i].outcome == op_outcome::ok &&
          h[i].completed + 100ms < h[*late].invoked && h[i].value != *h[*late].guards[0].value) {
        old = i;
      }
    }
    BOOST_REQUIRE(old);
    h[*late].guards[0].value = h[*old].value;
    r = check_linearizable(h);
    BOOST_TEST(!r.linearizable, "seed " << seed);
    BOOST_TEST(r.took < quick, "seed " << seed << ": " << r.took.count() << " us");
    BOOST_TEST(contains(r.explanation, fmt::format("#{} ", *late)), r.explanation);
    BOOST_TEST_MESSAGE("seed " << seed << ": the lost update #" << *late << " found in " << r.took.count() / 1000.0
                               << " ms");
  }
}

BOOST_AUTO_TEST_CASE(generated_transfer_histories_check_quickly_and_a_torn_read_is_found) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    auto h = simulated(seed, 6, 1000, 3, sim_workload::transfers, 0.05);
    auto r = check_linearizable(h);
    BOOST_TEST(r.linearizable, "seed " << seed << ": " << r.explanation);
    BOOST_TEST(r.took < quick, "seed " << seed << ": " << r.took.count() << " us");
    BOOST_TEST(r.components == 1u);
    std::size_t succeeded = 0;
    for (const auto& o : h) succeeded += o.kind == op_kind::txn && !o.writes.empty() && o.succeeded ? 1 : 0;
    BOOST_TEST_MESSAGE("seed " << seed << ": " << r.operations << " operations (" << r.dropped << " dropped; "
                               << succeeded << " transfers succeeded) checked in " << r.took.count() / 1000.0
                               << " ms, " << r.configurations << " configurations");
    BOOST_TEST(succeeded > 500u);
    // A late mget now reports one account as it was long before.
    auto late = late_op(h, 1s, [](const operation& o) { return o.kind == op_kind::txn && o.writes.empty(); });
    BOOST_REQUIRE(late);
    std::optional<std::size_t> old;
    for (std::size_t i = 0; i < h.size() && !old; ++i) {
      const auto& o = h[i];
      if (o.kind == op_kind::txn && o.succeeded && !o.writes.empty() && o.outcome == op_outcome::ok &&
          o.completed + 100ms < h[*late].invoked && o.writes[0].key == h[*late].reads[0].key &&
          o.writes[0].value != h[*late].reads[0].value) {
        old = i;
      }
    }
    BOOST_REQUIRE(old);
    h[*late].reads[0].value = h[*old].writes[0].value;
    r = check_linearizable(h);
    BOOST_TEST(!r.linearizable, "seed " << seed);
    BOOST_TEST(r.took < quick, "seed " << seed << ": " << r.took.count() << " us");
    BOOST_TEST(contains(r.explanation, fmt::format("#{} ", *late)), r.explanation);
    BOOST_TEST_MESSAGE("seed " << seed << ": the torn read #" << *late << " found in " << r.took.count() / 1000.0
                               << " ms");
  }
}

BOOST_AUTO_TEST_SUITE_END()
