// kvctl's get, del, put, set, incr and TTL arguments: etcdctl's options, anywhere among the
// operands; Redis's TTL commands with durations.

#include "apps/kvctl/op_args.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace kv::kvctl;

namespace {

get_args get_of(std::vector<std::string> args, byte_notation notation = byte_notation::text) {
  auto g = parse_get(args, notation, op_source::command_line);
  BOOST_REQUIRE_MESSAGE(g.ok(), g.message());
  return *g;
}

std::string get_error(std::vector<std::string> args, op_source source = op_source::command_line) {
  auto g = parse_get(args, byte_notation::text, source);
  BOOST_REQUIRE(!g.ok());
  return g.message();
}

const std::string every(1, '\0');

}  // namespace

BOOST_AUTO_TEST_SUITE(kvctl_op_args)

BOOST_AUTO_TEST_CASE(get_of_one_key_and_of_ranges) {
  auto one = get_of({"k"});
  BOOST_TEST(one.one_key);
  BOOST_TEST(one.op.key == "k");
  BOOST_TEST(one.op.end.empty());
  BOOST_TEST(one.op.flags == 0);

  auto range = get_of({"a", "c"});
  BOOST_TEST(!range.one_key);
  BOOST_TEST(range.op.end == "c");

  auto prefix = get_of({"--prefix", "ab"});
  BOOST_TEST(!prefix.one_key);
  BOOST_TEST(prefix.op.key == "ab");
  BOOST_TEST(prefix.op.end == "ac");

  auto from = get_of({"b", "--from-key"});
  BOOST_TEST(from.op.key == "b");
  BOOST_TEST(from.op.end == every);

  auto all = get_of({"--prefix", ""});  // etcdctl's get --prefix "": every key
  BOOST_TEST(all.op.key == every);
  BOOST_TEST(all.op.end == every);
}

BOOST_AUTO_TEST_CASE(get_options_in_both_spellings_anywhere) {
  auto g = get_of({"--limit=2", "a", "--rev", "7", "--order", "DESCEND", "--keys-only", "z", "--count-only"});
  BOOST_TEST(g.op.limit == 2u);
  BOOST_TEST(g.op.revision == 7u);
  BOOST_TEST(g.op.flags == (kv::op_descending | kv::op_keys_only | kv::op_count_only));
  BOOST_TEST(g.op.end == "z");
  BOOST_TEST(get_of({"a", "--count"}).op.flags == kv::op_count_only);  // the spelling
  auto dashes = get_of({"--", "--odd-key"});
  BOOST_TEST(dashes.op.key == "--odd-key");
  auto hex = get_of({"6b00", "6b01"}, byte_notation::hex);
  BOOST_TEST(hex.op.key == std::string("k\0", 2));
  BOOST_TEST(hex.op.end == "k\x01");
}

BOOST_AUTO_TEST_CASE(get_usage_errors) {
  BOOST_TEST(get_error({}) == "get takes KEY [END]");
  BOOST_TEST(get_error({"a", "b", "c"}) == "get takes KEY [END]");
  BOOST_TEST(get_error({"--prefix", "--from-key", "a"}) == "get: --prefix and --from-key cannot be combined");
  BOOST_TEST(get_error({"--prefix", "a", "b"}) == "get: END cannot be combined with --prefix");
  BOOST_TEST(get_error({"--limit", "x", "a"}) == "get: --limit takes a non-negative integer, got \"x\"");
  BOOST_TEST(get_error({"--limit", "-1", "a"}) == "get: --limit takes a non-negative integer, got \"-1\"");
  BOOST_TEST(get_error({"a", "--rev"}) == "get: --rev needs a value");
  BOOST_TEST(get_error({"--order", "up", "a"}) == "get: --order takes ascend or descend, got \"up\"");
  BOOST_TEST(get_error({"--keys-only=yes", "a"}) == "get: --keys-only takes no value");
  BOOST_TEST(get_error({"--raw", "a", "b"}).starts_with("get: --raw prints one value"));
  BOOST_TEST(get_error({""}) == "get: a KEY cannot be empty");
  BOOST_TEST(get_error({"--raw", "a"}, op_source::txn_input) == "get: unknown option \"--raw\"");
}

BOOST_AUTO_TEST_CASE(del_put_and_incr) {
  auto d = parse_del({"--prefix", "p", "--prev-kv"}, byte_notation::text);
  BOOST_REQUIRE(d.ok());
  BOOST_TEST(!d->one_key);
  BOOST_TEST(d->op.end == "q");
  BOOST_TEST(d->op.flags == kv::op_prev_kv);
  auto one = parse_del({"k"}, byte_notation::text);
  BOOST_REQUIRE(one.ok());
  BOOST_TEST(one->one_key);
  BOOST_TEST(parse_del({"--from-key", "a", "b"}, byte_notation::text).message() ==
             "del: END cannot be combined with --from-key");

  auto put = parse_put({"k", "v", "--prev-kv"}, byte_notation::text);
  BOOST_REQUIRE(put.ok());
  BOOST_TEST(put->flags == kv::op_prev_kv);

  auto incr = parse_incr({"n", "-9223372036854775808"}, byte_notation::text);
  BOOST_REQUIRE(incr.ok());
  BOOST_TEST(incr->delta == std::numeric_limits<std::int64_t>::min());
  BOOST_TEST(parse_incr({"n"}, byte_notation::text)->delta == 1);
  BOOST_TEST(!parse_incr({"n", "9223372036854775808"}, byte_notation::text).ok());
  BOOST_TEST(!parse_incr({"n", "1", "2"}, byte_notation::text).ok());
}

BOOST_AUTO_TEST_CASE(set_with_a_lease_a_ttl_or_keep_ttl) {
  auto plain = parse_set({"k", "v"}, byte_notation::text);
  BOOST_REQUIRE_MESSAGE(plain.ok(), plain.message());
  BOOST_TEST(plain->op.flags == 0);  // a plain set request, no transaction
  BOOST_TEST(!plain->from_input);

  auto ttl = parse_set({"--ttl", "1.5s", "k", "v", "--lease=a"}, byte_notation::text);
  BOOST_REQUIRE_MESSAGE(ttl.ok(), ttl.message());
  BOOST_TEST(ttl->op.flags == (kv::op_ttl | kv::op_lease));
  BOOST_TEST(ttl->op.ttl_ms == 1500);
  BOOST_TEST(ttl->op.lease == 10u);
  BOOST_TEST(ttl->op.value == "v");

  auto keep = parse_set({"k", "-", "--keep-ttl"}, byte_notation::text);
  BOOST_REQUIRE_MESSAGE(keep.ok(), keep.message());
  BOOST_TEST(keep->op.flags == kv::op_keep_ttl);
  BOOST_TEST(keep->op.ttl_ms == 0);
  BOOST_TEST(keep->from_input);

  BOOST_TEST(parse_set({"k", "v", "--ttl", "5s", "--keep-ttl"}, byte_notation::text).message() ==
             "set: --ttl and --keep-ttl cannot be combined");
  BOOST_TEST(parse_set({"k", "v", "--ttl"}, byte_notation::text).message() == "set: --ttl needs a value");
  BOOST_TEST(parse_set({"k"}, byte_notation::text).message() == "set takes KEY VALUE");

  auto put = parse_put({"k", "v", "--ttl=2m", "--prev-kv"}, byte_notation::text);
  BOOST_REQUIRE_MESSAGE(put.ok(), put.message());
  BOOST_TEST(put->flags == (kv::op_ttl | kv::op_prev_kv));
  BOOST_TEST(put->ttl_ms == 120'000);
  BOOST_TEST(parse_put({"k", "v", "--keep-ttl"}, byte_notation::text)->flags == kv::op_keep_ttl);
}

BOOST_AUTO_TEST_CASE(ttl_durations_are_whole_milliseconds_from_1ms) {
  BOOST_TEST(*parse_ttl_ms("set", "--ttl", "30s") == 30'000);
  BOOST_TEST(*parse_ttl_ms("set", "--ttl", "1500ms") == 1500);
  BOOST_TEST(*parse_ttl_ms("set", "--ttl", "1ms") == 1);
  BOOST_TEST(*parse_ttl_ms("set", "--ttl", "2000us") == 2);
  BOOST_TEST(*parse_ttl_ms("set", "--ttl", "1h") == 3'600'000);
  BOOST_TEST(parse_ttl_ms("set", "--ttl", "30").message() ==
             "set: --ttl takes a duration such as 30s, 1500ms or 2m (a number then ns, us, ms, s, m or h), "
             "got \"30\"");
  BOOST_TEST(parse_ttl_ms("expire", "DURATION", "soon").message().starts_with("expire: DURATION takes a duration"));
  BOOST_TEST(parse_ttl_ms("set", "--ttl", "0s").message() == "set: --ttl must be at least 1ms, got \"0s\"");
  BOOST_TEST(parse_ttl_ms("set", "--ttl", "-5s").message() == "set: --ttl must be at least 1ms, got \"-5s\"");
  BOOST_TEST(parse_ttl_ms("set", "--ttl", "999us").message() == "set: --ttl must be at least 1ms, got \"999us\"");
  BOOST_TEST(parse_ttl_ms("set", "--ttl", "1500us").message() == "set: --ttl takes whole milliseconds, got \"1500us\"");
}

BOOST_AUTO_TEST_CASE(expire_persist_and_ttl) {
  auto expire = parse_expire({"k", "10s"}, byte_notation::text);
  BOOST_REQUIRE_MESSAGE(expire.ok(), expire.message());
  BOOST_TEST((expire->type == kv::txn_op_type::expire));
  BOOST_TEST(expire->key == "k");
  BOOST_TEST(expire->ttl_ms == 10'000);
  BOOST_TEST(parse_expire({"k"}, byte_notation::text).message() == "expire takes KEY DURATION");
  BOOST_TEST(parse_expire({"k", "0ms"}, byte_notation::text).message() ==
             "expire: DURATION must be at least 1ms, got \"0ms\"");

  auto persist = parse_persist({"6b"}, byte_notation::hex);
  BOOST_REQUIRE_MESSAGE(persist.ok(), persist.message());
  BOOST_TEST((persist->type == kv::txn_op_type::expire));
  BOOST_TEST(persist->key == "k");
  BOOST_TEST(persist->ttl_ms == 0);  // 0: remove the TTL
  BOOST_TEST(parse_persist({"a", "b"}, byte_notation::text).message() == "persist takes KEY");

  auto ttl = parse_ttl({"k"}, byte_notation::text, op_source::command_line);
  BOOST_REQUIRE_MESSAGE(ttl.ok(), ttl.message());
  BOOST_TEST((ttl->op.type == kv::txn_op_type::ttl));
  BOOST_TEST((ttl->unit == ttl_unit::seconds));
  BOOST_TEST((parse_ttl({"--ms", "k"}, byte_notation::text, op_source::command_line)->unit == ttl_unit::milliseconds));
  BOOST_TEST(parse_ttl({"k", "--ms"}, byte_notation::text, op_source::txn_input).message() ==
             "ttl: unknown option \"--ms\"");
  BOOST_TEST(parse_ttl({}, byte_notation::text, op_source::command_line).message() == "ttl takes KEY");
  BOOST_TEST(parse_ttl({""}, byte_notation::text, op_source::command_line).message() == "ttl: a KEY cannot be empty");
}

BOOST_AUTO_TEST_SUITE_END()
