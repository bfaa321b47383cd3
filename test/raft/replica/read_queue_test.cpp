#include "raft/replica/read_queue.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace kv;

namespace {
// Records each answer as the read index or the error's code, in the order given.
struct answers {
  std::vector<std::string> got;
  read_queue::read_done reader(std::string name) {
    return [this, name](result<std::uint64_t> r) {
      got.push_back(name + (r.ok() ? "=" + std::to_string(*r) : ":" + r.failure().code.message()));
    };
  }
};
}  // namespace

BOOST_AUTO_TEST_SUITE(read_queue_rules)

BOOST_AUTO_TEST_CASE(no_round_without_readers) {
  read_queue q;
  BOOST_TEST(q.start_round(0) == 0u);
}

BOOST_AUTO_TEST_CASE(confirmed_reads_wait_for_the_applied_index_in_order) {
  read_queue q;
  answers a;
  q.add(a.reader("a"));
  auto first = q.start_round(0);
  q.add(a.reader("b"));
  auto second = q.start_round(1);
  BOOST_TEST(first != 0u);
  BOOST_TEST(second > first);
  BOOST_TEST(q.answer(raft::read_state{second, 5, true}).empty());
  BOOST_TEST(q.answer(raft::read_state{first, 7, true}).empty());
  q.release(4);
  BOOST_TEST(a.got.empty());
  q.release(7);
  BOOST_TEST((a.got == std::vector<std::string>{"b=5", "a=7"}));
}

BOOST_AUTO_TEST_CASE(a_refused_round_yields_its_readers) {
  read_queue q;
  answers a;
  q.add(a.reader("a"));
  q.add(a.reader("b"));
  auto ctx = q.start_round(0);
  auto refused = q.answer(raft::read_state{ctx, 0, false});
  BOOST_TEST(refused.size() == 2u);
  BOOST_TEST(q.answer(raft::read_state{ctx, 3, true}).empty());  // answered once only
  q.release(100);
  BOOST_TEST(a.got.empty());
}

BOOST_AUTO_TEST_CASE(rounds_expire_after_the_limit) {
  read_queue q;
  answers a;
  q.add(a.reader("old"));
  auto old_ctx = q.start_round(0);
  q.add(a.reader("new"));
  q.start_round(5);
  const error_info why{make_error_code(errc::unavailable), "timed out", {}};
  q.expire(9, 10, why);
  BOOST_TEST(a.got.empty());
  q.expire(10, 10, why);
  BOOST_TEST(a.got.size() == 1u);
  BOOST_TEST(a.got[0].rfind("old:", 0) == 0u);
  BOOST_TEST(q.answer(raft::read_state{old_ctx, 1, true}).empty());  // expired: ignored
}

BOOST_AUTO_TEST_CASE(failing_leaves_confirmed_reads_waiting) {
  read_queue q;
  answers a;
  q.add(a.reader("confirmed"));
  auto ctx = q.start_round(0);
  q.answer(raft::read_state{ctx, 2, true});
  q.add(a.reader("in_round"));
  q.start_round(1);
  q.add(a.reader("to_start"));
  q.fail_unconfirmed(errc::unavailable);
  BOOST_TEST(a.got.size() == 2u);
  BOOST_TEST(a.got[0].rfind("to_start:", 0) == 0u);
  BOOST_TEST(a.got[1].rfind("in_round:", 0) == 0u);
  q.release(2);
  BOOST_TEST(a.got.back() == "confirmed=2");
}

BOOST_AUTO_TEST_SUITE_END()
