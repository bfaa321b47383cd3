#include "bench/load_shape.hpp"

#include "core/base/bytes.hpp"
#include "core/model/txn.hpp"
#include "io/protocol/protocol.hpp"

#include <boost/test/unit_test.hpp>

using namespace kv;
using namespace kv::bench;

namespace {

// The transaction in the one request frame of `out`.
txn_view request_txn(const std::string& out, std::uint16_t* flags = nullptr) {
  auto r = protocol::parse_frame(out, 1u << 20);
  BOOST_REQUIRE(r.status == protocol::parse_status::ok);
  BOOST_REQUIRE_EQUAL(r.f.size, out.size());
  BOOST_REQUIRE(r.f.code == static_cast<std::uint8_t>(protocol::op::txn));
  if (flags != nullptr) *flags = r.f.flags;
  auto t = decode_txn(r.f.body);
  BOOST_REQUIRE(t);
  return *t;
}

// A reply with one range result holding `keys` (mod_revision `mod` each).
std::string range_reply(const std::vector<std::string>& keys, std::uint64_t mod = 5) {
  std::string out;
  append_reply_header(out, 9, true, 1);
  out.push_back(static_cast<char>(txn_op_type::range));
  append_fixed<std::uint64_t>(out, keys.size());
  out.push_back(0);
  append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(keys.size()));
  for (const auto& k : keys) append_kv(out, k, "v", 1, mod, 1);
  return out;
}

std::string put_reply(bool succeeded) {
  std::string out;
  append_reply_header(out, 10, succeeded, succeeded ? 1 : 0);
  if (succeeded) {
    out.push_back(static_cast<char>(txn_op_type::put));
    out.push_back(0);  // no previous version
  }
  return out;
}

std::vector<std::string> keys_under(std::uint64_t prefix, std::uint32_t n) {
  std::vector<std::string> keys;
  for (std::uint32_t i = 0; i < n; ++i) keys.push_back(range_key(prefix, i));
  return keys;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(load_shape_suite)

BOOST_AUTO_TEST_CASE(range_keys_sort_under_their_prefix) {
  // Comparisons of strings in double parentheses: BOOST_TEST compares collections its own way.
  const auto first = range_key(7, 0), ninth = range_key(7, 9), tenth = range_key(7, 10), last = range_key(7, 99);
  const auto prefix = range_prefix(7), next_prefix = range_prefix(8);
  BOOST_TEST(first.starts_with(prefix));
  BOOST_TEST((ninth < tenth));
  BOOST_TEST((last < next_prefix));
}

BOOST_AUTO_TEST_CASE(a_range_counts_only_with_every_key_of_its_prefix) {
  shape_options o;
  o.op = load_op::range;
  o.prefixes = 50;
  o.range_keys = 4;
  o.stale = true;
  load_shape shape(o);
  BOOST_TEST(shape.read_only());
  BOOST_TEST(shape.name() == "range-stale");
  std::mt19937_64 rng(1);
  slot s;
  std::string out;
  shape.begin(s, out, 1, rng, {});
  std::uint16_t flags = 0;
  auto t = request_txn(out, &flags);
  BOOST_TEST(flags == protocol::flag_stale_read);
  BOOST_TEST(read_only(t));
  BOOST_REQUIRE_EQUAL(t.then_ops.size(), 1u);
  const auto prefix = range_prefix(s.target), last = range_key(s.target, 3), next_prefix = range_prefix(s.target + 1);
  BOOST_TEST(t.then_ops[0].key == prefix);
  BOOST_TEST((last < t.then_ops[0].end));
  BOOST_TEST((next_prefix >= t.then_ops[0].end));

  using enum answer_outcome;
  BOOST_TEST((shape.on_answer(s, protocol::status::ok, range_reply(keys_under(s.target, 4))).outcome == done));
  auto shorter = shape.on_answer(s, protocol::status::ok, range_reply(keys_under(s.target, 3)));
  BOOST_TEST((shorter.outcome == failed));
  BOOST_TEST(shorter.kind == "bad_answer");
  auto elsewhere = shape.on_answer(s, protocol::status::ok, range_reply(keys_under(s.target + 1, 4)));
  BOOST_TEST((elsewhere.outcome == failed));
  auto refused = shape.on_answer(s, protocol::status::unavailable, "");
  BOOST_TEST((refused.outcome == failed));
  BOOST_TEST(refused.kind == "unavailable");
}

BOOST_AUTO_TEST_CASE(cas_reads_then_writes_on_the_revision_read_and_retries_a_conflict) {
  shape_options o;
  o.op = load_op::cas;
  o.hot_keys = 3;
  load_shape shape(o);
  BOOST_TEST(!shape.read_only());
  std::mt19937_64 rng(2);
  slot s;
  std::string out;
  shape.begin(s, out, 1, rng, {});
  auto read = request_txn(out);
  BOOST_TEST(read_only(read));
  BOOST_TEST(read.then_ops[0].key == cas_key(s.target));

  using enum answer_outcome;
  BOOST_TEST((shape.on_answer(s, protocol::status::ok, range_reply({cas_key(s.target)}, 1234)).outcome == next));
  out.clear();
  shape.follow(s, out, 2);
  auto write = request_txn(out);
  BOOST_REQUIRE_EQUAL(write.compares.size(), 1u);
  BOOST_TEST(write.compares[0].key == cas_key(s.target));
  BOOST_TEST((write.compares[0].target == compare_target::mod_revision));
  BOOST_TEST(write.compares[0].number == 1234u);
  BOOST_TEST((write.then_ops[0].type == txn_op_type::put));

  BOOST_TEST((shape.on_answer(s, protocol::status::ok, put_reply(false)).outcome == conflict));
  out.clear();
  shape.follow(s, out, 3);
  BOOST_TEST(read_only(request_txn(out)));
  // A key that does not exist yet: the write compares against mod_revision 0.
  BOOST_TEST((shape.on_answer(s, protocol::status::ok, range_reply({})).outcome == next));
  out.clear();
  shape.follow(s, out, 4);
  BOOST_TEST(request_txn(out).compares[0].number == 0u);
  BOOST_TEST((shape.on_answer(s, protocol::status::ok, put_reply(true)).outcome == done));
}

BOOST_AUTO_TEST_CASE(a_missing_key_is_not_found_for_gets_and_an_error_for_sets) {
  shape_options o;
  o.reads = 1;
  load_shape gets(o);
  std::mt19937_64 rng(3);
  slot s;
  std::string out;
  gets.begin(s, out, 1, rng, {});
  BOOST_TEST(s.read);
  BOOST_TEST((gets.on_answer(s, protocol::status::not_found, "").outcome == answer_outcome::not_found));
  o.reads = 0;
  load_shape sets(o);
  sets.begin(s, out, 2, rng, {});
  BOOST_TEST(!s.read);
  BOOST_TEST((sets.on_answer(s, protocol::status::not_found, "").outcome == answer_outcome::failed));
}

BOOST_AUTO_TEST_SUITE_END()
