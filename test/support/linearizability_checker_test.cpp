// The linearizability checker (test/support/linearizability.hpp) on hand-made histories, and on
// generated ones large enough to show its speed.

#include "support/linearizability.hpp"

#include <boost/test/unit_test.hpp>

#include <random>

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
  BOOST_TEST(contains(r.explanation, "no applied set wrote"), r.explanation);
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
