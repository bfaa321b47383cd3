// The Redis key commands of io/server/resp_keys.cpp through a real kvnode process: RENAME,
// RENAMENX, COPY, GETEX, MSETNX, EXPIRETIME, PEXPIRETIME and EXPIRE's family with NX | XX | GT |
// LT. Each expected reply is the one redis-server 7.0 gives for the same command (checked against
// it); where a TTL is involved, within a tolerance.

#include "harness/node_process.hpp"
#include "harness/resp_client.hpp"
#include "support/resp_expect.hpp"

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <string>

using namespace kv::harness;
using namespace kv::test;

namespace {

// A one-line reply (an integer, an error) to `request`.
std::string line(raw_client& c, std::string_view request) {
  c.send(request);
  return c.read_line();
}

// The integer a one-line reply (":n\r\n") carries.
std::int64_t integer(raw_client& c, std::string_view request) {
  const auto line = ::line(c, request);
  BOOST_REQUIRE_MESSAGE(line.size() > 3 && line.front() == ':', "request " << request << " got " << line);
  return std::stoll(line.substr(1, line.size() - 3));
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resp_front_end)

BOOST_AUTO_TEST_CASE(rename_moves_the_value_and_its_ttl) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"RENAME", "nokey", "b"}), "-ERR no such key\r\n");
  expect(c, cmd({"RENAMENX", "nokey", "b"}), "-ERR no such key\r\n");
  expect(c, cmd({"RENAME", "nokey", "nokey"}), "-ERR no such key\r\n");
  expect(c, cmd({"RENAME", "a"}), "-ERR wrong number of arguments for 'rename' command\r\n");
  expect(c, cmd({"SET", "a", "1"}), "+OK\r\n");
  expect(c, cmd({"RENAME", "a", "a"}), "+OK\r\n");
  expect(c, cmd({"RENAMENX", "a", "a"}), ":0\r\n");
  expect(c, cmd({"SET", "b", "2"}), "+OK\r\n");
  expect(c, cmd({"RENAMENX", "a", "b"}), ":0\r\n");
  expect(c, cmd({"MGET", "a", "b"}), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
  expect(c, cmd({"RENAMENX", "a", "c"}), ":1\r\n");
  expect(c, cmd({"MGET", "a", "c"}), "*2\r\n$-1\r\n$1\r\n1\r\n");

  // The TTL moves with the key; the destination's own goes.
  expect(c, cmd({"SET", "t", "3", "PX", "100000"}), "+OK\r\n");
  expect(c, cmd({"SET", "dst", "old", "EX", "5"}), "+OK\r\n");
  expect(c, cmd({"RENAME", "t", "dst"}), "+OK\r\n");
  const auto left = integer(c, cmd({"PTTL", "dst"}));
  BOOST_TEST(left > 95'000);  // the time the commands took: generous for a loaded machine
  BOOST_TEST(left <= 100'000);
  expect(c, cmd({"GET", "dst"}), "$1\r\n3\r\n");
  expect(c, cmd({"EXISTS", "t"}), ":0\r\n");
  expect(c, cmd({"SET", "plain", "4"}), "+OK\r\n");
  expect(c, cmd({"RENAME", "plain", "dst"}), "+OK\r\n");
  expect(c, cmd({"TTL", "dst"}), ":-1\r\n");
  expect(c, cmd({"GET", "dst"}), "$1\r\n4\r\n");
  expect(c, cmd({"SET", "t", "5", "EX", "100"}), "+OK\r\n");
  expect(c, cmd({"RENAME", "t", "t"}), "+OK\r\n");
  expect(c, cmd({"TTL", "t"}), ":100\r\n");
}

BOOST_AUTO_TEST_CASE(rename_refused_changes_nothing) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"SET", "src", "v", "EX", "100"}), "+OK\r\n");
  // A destination kvnode refuses (longer than max-key-size) fails the whole transaction.
  const std::string too_long(5000, 'k');
  const auto reply = line(c, cmd({"RENAME", "src", too_long}));
  BOOST_TEST(reply.rfind("-ERR ", 0) == 0, reply);
  expect(c, cmd({"GET", "src"}), "$1\r\nv\r\n");
  expect(c, cmd({"TTL", "src"}), ":100\r\n");
  expect(c, cmd({"DBSIZE"}), ":1\r\n");
  // Inside MULTI it is refused while queuing (it reads before it writes), and EXEC discards.
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"RENAME", "src", "dst"}),
         "-ERR 'RENAME' cannot run inside MULTI on kvnode (docs/redis.md)\r\n");
  expect(c, cmd({"EXEC"}), "-EXECABORT Transaction discarded because of previous errors.\r\n");
  expect(c, cmd({"EXISTS", "dst"}), ":0\r\n");
}

BOOST_AUTO_TEST_CASE(copy_copies_the_value_and_its_ttl) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"SET", "a", "1"}), "+OK\r\n");
  expect(c, cmd({"COPY", "a", "a"}), "-ERR source and destination objects are the same\r\n");
  expect(c, cmd({"COPY", "a", "a", "DB", "0"}), "-ERR source and destination objects are the same\r\n");
  expect(c, cmd({"COPY", "a", "x", "DB", "16"}), "-ERR DB index is out of range\r\n");
  expect(c, cmd({"COPY", "a", "x", "DB", "1"}), "-ERR DB index is out of range\r\n");  // Redis: 1 (16 dbs)
  expect(c, cmd({"COPY", "a", "x", "db", "abc"}), "-ERR value is not an integer or out of range\r\n");
  expect(c, cmd({"COPY", "a", "x", "db", "4294967296"}),
         "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n");
  expect(c, cmd({"COPY", "a", "x", "db"}), "-ERR syntax error\r\n");
  expect(c, cmd({"COPY", "a", "x", "foo"}), "-ERR syntax error\r\n");
  expect(c, cmd({"COPY", "a"}), "-ERR wrong number of arguments for 'copy' command\r\n");
  expect(c, cmd({"EXISTS", "x"}), ":0\r\n");
  expect(c, cmd({"COPY", "nokey", "x"}), ":0\r\n");
  expect(c, cmd({"COPY", "a", "x", "replace", "replace"}), ":1\r\n");
  expect(c, cmd({"SET", "b", "2", "EX", "100"}), "+OK\r\n");
  expect(c, cmd({"COPY", "a", "b"}), ":0\r\n");
  expect(c, cmd({"GET", "b"}), "$1\r\n2\r\n");
  // REPLACE: the destination takes the source's value and its (lack of) TTL.
  expect(c, cmd({"COPY", "a", "b", "DB", "0", "REPLACE"}), ":1\r\n");
  expect(c, cmd({"GET", "b"}), "$1\r\n1\r\n");
  expect(c, cmd({"TTL", "b"}), ":-1\r\n");
  expect(c, cmd({"SET", "t", "3", "PX", "100000"}), "+OK\r\n");
  expect(c, cmd({"COPY", "t", "u"}), ":1\r\n");
  const auto left = integer(c, cmd({"PTTL", "u"}));
  BOOST_TEST(left > 95'000);  // the time the commands took: generous for a loaded machine
  BOOST_TEST(left <= 100'000);
  expect(c, cmd({"MGET", "t", "u"}), "*2\r\n$1\r\n3\r\n$1\r\n3\r\n");
  expect(c, cmd({"TTL", "t"}), ":100\r\n");
}

BOOST_AUTO_TEST_CASE(getex_answers_as_redis) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"GETEX"}), "-ERR wrong number of arguments for 'getex' command\r\n");
  expect(c, cmd({"GETEX", "nokey"}), "$-1\r\n");
  // A bad time is an error only for a key that exists; a bad option always is.
  expect(c, cmd({"GETEX", "nokey", "EX", "abc"}), "$-1\r\n");
  expect(c, cmd({"GETEX", "nokey", "EX", "0"}), "$-1\r\n");
  expect(c, cmd({"GETEX", "nokey", "foo"}), "-ERR syntax error\r\n");
  expect(c, cmd({"SET", "b", "4"}), "+OK\r\n");
  expect(c, cmd({"GETEX", "b", "EX", "0"}), "-ERR invalid expire time in 'getex' command\r\n");
  expect(c, cmd({"GETEX", "b", "ex", "-1"}), "-ERR invalid expire time in 'getex' command\r\n");
  expect(c, cmd({"GETEX", "b", "EX", "abc"}), "-ERR value is not an integer or out of range\r\n");
  expect(c, cmd({"GETEX", "b", "EX", "9223372036854775807"}), "-ERR invalid expire time in 'getex' command\r\n");
  expect(c, cmd({"GETEX", "b", "PX", "9223372036854775807"}), "-ERR invalid expire time in 'getex' command\r\n");
  expect(c, cmd({"GETEX", "b", "EXAT", "9223372036854775807"}), "-ERR invalid expire time in 'getex' command\r\n");
  expect(c, cmd({"GETEX", "b", "EX", "10", "PX", "20"}), "-ERR syntax error\r\n");
  expect(c, cmd({"GETEX", "b", "PERSIST", "EX", "10"}), "-ERR syntax error\r\n");
  expect(c, cmd({"GETEX", "b", "EX", "10", "PERSIST"}), "-ERR syntax error\r\n");
  expect(c, cmd({"GETEX", "b", "EX"}), "-ERR syntax error\r\n");
  expect(c, cmd({"TTL", "b"}), ":-1\r\n");
  expect(c, cmd({"GETEX", "b", "EX", "10", "EX", "20"}), "$1\r\n4\r\n");  // the last one counts
  expect(c, cmd({"TTL", "b"}), ":20\r\n");
  expect(c, cmd({"GETEX", "b", "PERSIST", "PERSIST"}), "$1\r\n4\r\n");
  expect(c, cmd({"TTL", "b"}), ":-1\r\n");
  expect(c, cmd({"GETEX", "b", "PX", "50000"}), "$1\r\n4\r\n");
  expect(c, cmd({"TTL", "b"}), ":50\r\n");
  expect(c, cmd({"GETEX", "b"}), "$1\r\n4\r\n");
  expect(c, cmd({"TTL", "b"}), ":50\r\n");
  const auto at = unix_ms() / 1000 + 300;
  expect(c, cmd({"GETEX", "b", "EXAT", std::to_string(at)}), "$1\r\n4\r\n");
  const auto ttl = integer(c, cmd({"TTL", "b"}));
  BOOST_TEST(ttl >= 299);
  BOOST_TEST(ttl <= 300);
  expect(c, cmd({"GETEX", "b", "PXAT", std::to_string(unix_ms() + 40'000)}), "$1\r\n4\r\n");
  expect(c, cmd({"TTL", "b"}), ":40\r\n");
  // A time already past deletes the key, and still answers its value.
  expect(c, cmd({"GETEX", "b", "EXAT", "1"}), "$1\r\n4\r\n");
  expect(c, cmd({"EXISTS", "b"}), ":0\r\n");
  // Queued inside MULTI with EX, PX, PERSIST or nothing.
  expect(c, cmd({"SET", "m", "v"}), "+OK\r\n");
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"GETEX", "m", "EX", "100"}), "+QUEUED\r\n");
  expect(c, cmd({"TTL", "m"}), "+QUEUED\r\n");
  expect(c, cmd({"EXEC"}), "*2\r\n$1\r\nv\r\n:100\r\n");
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"GETEX", "m", "EXAT", "1"}), "-ERR GETEX inside MULTI takes only EX, PX or PERSIST in kvnode\r\n");
  expect(c, cmd({"EXEC"}), "-EXECABORT Transaction discarded because of previous errors.\r\n");
}

BOOST_AUTO_TEST_CASE(msetnx_sets_all_or_none) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"MSETNX"}), "-ERR wrong number of arguments for 'msetnx' command\r\n");
  expect(c, cmd({"MSETNX", "a"}), "-ERR wrong number of arguments for 'msetnx' command\r\n");
  expect(c, cmd({"MSETNX", "a", "1", "b"}), "-ERR wrong number of arguments for 'msetnx' command\r\n");
  expect(c, cmd({"MSETNX", "a", "1", "b", "2"}), ":1\r\n");
  expect(c, cmd({"MSETNX", "a", "3", "c", "4"}), ":0\r\n");
  expect(c, cmd({"MGET", "a", "b", "c"}), "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n");
  expect(c, cmd({"MSETNX", "x", "1", "x", "2"}), ":1\r\n");
  expect(c, cmd({"GET", "x"}), "$1\r\n2\r\n");
  // One transaction: at most max-txn-ops distinct keys.
  std::string many = "*259\r\n$6\r\nMSETNX\r\n";
  for (int i = 0; i < 129; ++i) many += cmd({"k" + std::to_string(i), "v"}).substr(4);
  expect(c, many,
         "-ERR 129 keys in one command; kvnode runs it as one transaction of at most max-txn-ops (128) keys\r\n");
  expect(c, cmd({"EXISTS", "k0"}), ":0\r\n");
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"MSETNX", "y", "1"}), "-ERR 'MSETNX' cannot run inside MULTI on kvnode (docs/redis.md)\r\n");
  expect(c, cmd({"DISCARD"}), "+OK\r\n");
}

BOOST_AUTO_TEST_CASE(expiretime_answers_unix_time) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"EXPIRETIME"}), "-ERR wrong number of arguments for 'expiretime' command\r\n");
  expect(c, cmd({"EXPIRETIME", "a", "b"}), "-ERR wrong number of arguments for 'expiretime' command\r\n");
  expect(c, cmd({"EXPIRETIME", "nokey"}), ":-2\r\n");
  expect(c, cmd({"PEXPIRETIME", "nokey"}), ":-2\r\n");
  expect(c, cmd({"SET", "e", "v"}), "+OK\r\n");
  expect(c, cmd({"EXPIRETIME", "e"}), ":-1\r\n");
  expect(c, cmd({"PEXPIRETIME", "e"}), ":-1\r\n");
  // The node's wall clock plus what the TTL has left: within milliseconds of the time given.
  const std::int64_t at = (unix_ms() / 1000 + 1000) * 1000 + 123;
  expect(c, cmd({"PEXPIREAT", "e", std::to_string(at)}), ":1\r\n");
  const auto ms = integer(c, cmd({"PEXPIRETIME", "e"}));
  BOOST_TEST(ms >= at - 50);
  BOOST_TEST(ms <= at + 50);
  expect(c, cmd({"EXPIRETIME", "e"}), fmt::format(":{}\r\n", at / 1000));
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"EXPIRETIME", "e"}), "+QUEUED\r\n");
  expect(c, cmd({"EXPIRETIME", "nokey"}), "+QUEUED\r\n");
  expect(c, cmd({"EXEC"}), fmt::format("*2\r\n:{}\r\n:-2\r\n", at / 1000));
}

BOOST_AUTO_TEST_CASE(expire_options_answer_as_redis) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"SET", "k", "v"}), "+OK\r\n");
  const std::string nx_error = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
  const std::string gt_lt_error = "-ERR GT and LT options at the same time are not compatible\r\n";
  expect(c, cmd({"EXPIRE", "k", "100", "NX", "XX"}), nx_error);
  expect(c, cmd({"EXPIRE", "k", "100", "nx", "gt"}), nx_error);
  expect(c, cmd({"EXPIRE", "k", "100", "nx", "lt"}), nx_error);
  expect(c, cmd({"EXPIRE", "k", "abc", "nx", "xx"}), nx_error);  // options first, as Redis
  expect(c, cmd({"EXPIRE", "k", "100", "gt", "lt"}), gt_lt_error);
  expect(c, cmd({"PEXPIRE", "k", "100", "xx", "gt", "lt"}), gt_lt_error);
  expect(c, cmd({"EXPIRE", "k", "100", "foo"}), "-ERR Unsupported option foo\r\n");
  expect(c, cmd({"EXPIRE", "k", "abc", "foo"}), "-ERR Unsupported option foo\r\n");
  expect(c, cmd({"EXPIRE", "k", "abc", "nx"}), "-ERR value is not an integer or out of range\r\n");
  expect(c, cmd({"EXPIRE", "k"}), "-ERR wrong number of arguments for 'expire' command\r\n");
  expect(c, cmd({"EXPIRE", "k", "9223372036854775807"}), "-ERR invalid expire time in 'expire' command\r\n");
  expect(c, cmd({"EXPIRE", "k", "-9223372036854775808"}), "-ERR invalid expire time in 'expire' command\r\n");
  expect(c, cmd({"PEXPIRE", "k", "9223372036854775000"}), "-ERR invalid expire time in 'pexpire' command\r\n");
  expect(c, cmd({"EXPIREAT", "k", "9223372036854775807"}), "-ERR invalid expire time in 'expireat' command\r\n");
  expect(c, cmd({"TTL", "k"}), ":-1\r\n");
  expect(c, cmd({"EXPIRE", "nokey", "100", "NX"}), ":0\r\n");
  expect(c, cmd({"EXPIRE", "nokey", "100", "LT"}), ":0\r\n");

  // The truth table, from a key without a TTL: NX and LT apply, XX and GT do not.
  expect(c, cmd({"EXPIRE", "k", "100", "XX"}), ":0\r\n");
  expect(c, cmd({"EXPIRE", "k", "100", "GT"}), ":0\r\n");
  expect(c, cmd({"TTL", "k"}), ":-1\r\n");
  expect(c, cmd({"EXPIRE", "k", "100", "nx", "nx"}), ":1\r\n");
  expect(c, cmd({"TTL", "k"}), ":100\r\n");
  expect(c, cmd({"PERSIST", "k"}), ":1\r\n");
  expect(c, cmd({"EXPIRE", "k", "100", "LT"}), ":1\r\n");
  expect(c, cmd({"TTL", "k"}), ":100\r\n");
  // From a key with a TTL of 100 s: NX does not apply, XX does, GT only later, LT only earlier.
  expect(c, cmd({"EXPIRE", "k", "200", "NX"}), ":0\r\n");
  expect(c, cmd({"EXPIRE", "k", "50", "GT"}), ":0\r\n");
  expect(c, cmd({"EXPIRE", "k", "300", "LT"}), ":0\r\n");
  expect(c, cmd({"TTL", "k"}), ":100\r\n");
  expect(c, cmd({"EXPIRE", "k", "200", "XX", "GT"}), ":1\r\n");
  expect(c, cmd({"TTL", "k"}), ":200\r\n");
  expect(c, cmd({"PEXPIRE", "k", "50000", "LT"}), ":1\r\n");
  expect(c, cmd({"TTL", "k"}), ":50\r\n");
  expect(c, cmd({"EXPIREAT", "k", std::to_string(unix_ms() / 1000 + 500), "GT"}), ":1\r\n");
  const auto ttl = integer(c, cmd({"TTL", "k"}));
  BOOST_TEST(ttl >= 499);
  BOOST_TEST(ttl <= 500);
  expect(c, cmd({"PEXPIREAT", "k", std::to_string(unix_ms() + 60'000), "XX"}), ":1\r\n");
  expect(c, cmd({"TTL", "k"}), ":60\r\n");
  // A time already past: GT never holds; LT and XX delete the key, as without options.
  expect(c, cmd({"EXPIRE", "k", "-1", "GT"}), ":0\r\n");
  expect(c, cmd({"EXISTS", "k"}), ":1\r\n");
  expect(c, cmd({"EXPIRE", "k", "-1", "LT"}), ":1\r\n");
  expect(c, cmd({"EXISTS", "k"}), ":0\r\n");
  expect(c, cmd({"SET", "k", "v"}), "+OK\r\n");
  expect(c, cmd({"EXPIRE", "k", "-1", "XX"}), ":0\r\n");
  expect(c, cmd({"EXISTS", "k"}), ":1\r\n");
  expect(c, cmd({"EXPIREAT", "k", "1", "NX"}), ":1\r\n");
  expect(c, cmd({"EXISTS", "k"}), ":0\r\n");
  // Without options the command is queued inside MULTI as before; with them it is refused.
  expect(c, cmd({"SET", "k", "v"}), "+OK\r\n");
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"EXPIRE", "k", "100", "NX"}), "-ERR 'EXPIRE' cannot run inside MULTI on kvnode (docs/redis.md)\r\n");
  expect(c, cmd({"DISCARD"}), "+OK\r\n");
  expect(c, cmd({"TTL", "k"}), ":-1\r\n");
}

// Pipelined, a command that reads before it writes sees every command before it and is seen by
// every command after it, though pipelined writes otherwise run in parallel.
BOOST_AUTO_TEST_CASE(pipelined_read_then_write_commands_keep_their_order) {
  resp_node n;
  raw_client c(n.port);
  for (int round = 0; round < 20; ++round) {
    expect(c,
           cmd({"SET", "a", "1"}) + cmd({"RENAME", "a", "b"}) + cmd({"SET", "b", "2"}) + cmd({"COPY", "b", "c"}) +
               cmd({"SET", "c", "3"}) + cmd({"EXPIRE", "c", "100", "NX"}) + cmd({"SET", "c", "4"}) +
               cmd({"MGET", "a", "b", "c"}) + cmd({"TTL", "c"}) + cmd({"DEL", "b", "c"}),
           "+OK\r\n+OK\r\n+OK\r\n:1\r\n+OK\r\n:1\r\n+OK\r\n*3\r\n$-1\r\n$1\r\n2\r\n$1\r\n4\r\n:-1\r\n:2\r\n");
    // The string commands that rewrite a value (resp_commands.cpp) the same way.
    expect(c,
           cmd({"SET", "s", "x"}) + cmd({"APPEND", "s", "y"}) + cmd({"SET", "s", "1.5"}) +
               cmd({"INCRBYFLOAT", "s", "1"}) + cmd({"SET", "s", "z"}) + cmd({"GET", "s"}),
           "+OK\r\n:2\r\n+OK\r\n$3\r\n2.5\r\n+OK\r\n$1\r\nz\r\n");
  }
}

BOOST_AUTO_TEST_SUITE_END()
