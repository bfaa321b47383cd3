// The Redis protocol front end through a real kvnode process: replies byte for byte as Redis 7
// gives them (RESP2 and RESP3), pipelines answered in order with each command seeing the ones
// before it, Redis's errors for bad input (the connection closed after a protocol error, the
// node serving everyone else), TTLs, and redis-cli and redis-benchmark (Debian's redis-tools)
// driving it as users do.

#include "harness/node_process.hpp"
#include "harness/process.hpp"
#include "harness/resp_client.hpp"
#include "support/resp_expect.hpp"

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace kv::harness;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

// A /proc/<pid>/status field in kB (VmRSS, VmHWM: the peak).
long status_kb(pid_t pid, std::string_view field) {
  const auto value = proc_status_field(pid, field);
  return value.empty() ? -1 : std::stol(value);
}

// Reads until what came ends with `end` (or 5 s passed without it).
std::string read_until(raw_client& c, std::string_view end) {
  std::string got;
  while (!got.ends_with(end)) {
    auto more = c.read(1);
    if (more.empty()) break;
    got += more;
  }
  return got;
}

// Sends `request` from a thread while the caller reads `reply_bytes` (a client that wrote the
// whole pipeline before reading would deadlock once the node stops reading), and whether the
// replies are `reply` repeated.
bool pipeline_answered(raw_client& c, const std::string& request, std::string_view reply, std::size_t count) {
  std::thread sender([&] { c.send(request); });
  auto got = read_all(c, reply.size() * count, 300s);
  sender.join();
  if (got.size() != reply.size() * count) return false;
  for (std::size_t i = 0; i < count; ++i) {
    if (std::string_view(got).substr(i * reply.size(), reply.size()) != reply) return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resp_front_end)

BOOST_AUTO_TEST_CASE(string_commands_answer_as_redis) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"PING"}), "+PONG\r\n");
  expect(c, cmd({"ping", "hi"}), "$2\r\nhi\r\n");
  expect(c, cmd({"SET", "k", "v"}), "+OK\r\n");
  expect(c, cmd({"GET", "k"}), "$1\r\nv\r\n");
  expect(c, cmd({"GET", "nope"}), "$-1\r\n");
  expect(c, cmd({"SET", "k", "w", "NX"}), "$-1\r\n");
  expect(c, cmd({"SET", "k", "w", "XX", "GET"}), "$1\r\nv\r\n");
  expect(c, cmd({"SET", "new", "x", "XX"}), "$-1\r\n");
  expect(c, cmd({"SET", "k", "v", "NX", "XX"}), "-ERR syntax error\r\n");
  expect(c, cmd({"SET", "k", "v", "EX", "0"}), "-ERR invalid expire time in 'set' command\r\n");
  expect(c, cmd({"SET", "k", "v", "EX", "ten"}), "-ERR value is not an integer or out of range\r\n");
  expect(c, cmd({"SETNX", "k", "z"}), ":0\r\n");
  expect(c, cmd({"GETSET", "k", "z"}), "$1\r\nw\r\n");
  expect(c, cmd({"MSET", "a", "1", "b", "2", "a", "3"}), "+OK\r\n");
  expect(c, cmd({"MGET", "a", "b", "zz"}), "*3\r\n$1\r\n3\r\n$1\r\n2\r\n$-1\r\n");
  expect(c, cmd({"INCR", "a"}), ":4\r\n");
  expect(c, cmd({"INCRBY", "a", "-10"}), ":-6\r\n");
  expect(c, cmd({"DECRBY", "a", "x"}), "-ERR value is not an integer or out of range\r\n");
  expect(c, cmd({"INCR", "k"}), "-ERR value is not an integer or out of range\r\n");
  expect(c, cmd({"SET", "big", "9223372036854775807"}), "+OK\r\n");
  expect(c, cmd({"INCR", "big"}), "-ERR increment or decrement would overflow\r\n");
  expect(c, cmd({"EXISTS", "a", "a", "zz"}), ":2\r\n");
  expect(c, cmd({"TYPE", "a"}), "+string\r\n");
  expect(c, cmd({"TYPE", "zz"}), "+none\r\n");
  expect(c, cmd({"DEL", "a", "b", "zz"}), ":2\r\n");
  expect(c, cmd({"GETDEL", "k"}), "$1\r\nz\r\n");
  expect(c, cmd({"GETDEL", "k"}), "$-1\r\n");
  expect(c, cmd({"SELECT", "0"}), "+OK\r\n");
  expect(c, cmd({"SELECT", "1"}), "-ERR DB index is out of range\r\n");
  expect(c, cmd({"GET"}), "-ERR wrong number of arguments for 'get' command\r\n");
  expect(c, cmd({"LPUSH", "l", "x"}), "-ERR unknown command 'LPUSH', with args beginning with: 'l' 'x' \r\n");
  expect(c, cmd({"SET", "s", "Hello World"}), "+OK\r\n");
  expect(c, cmd({"STRLEN", "s"}), ":11\r\n");
  expect(c, cmd({"STRLEN", "zz"}), ":0\r\n");
  expect(c, cmd({"GETRANGE", "s", "0", "4"}), "$5\r\nHello\r\n");
  expect(c, cmd({"GETRANGE", "s", "-5", "-1"}), "$5\r\nWorld\r\n");
  expect(c, cmd({"GETRANGE", "s", "0", "-100"}), "$1\r\nH\r\n");
  expect(c, cmd({"GETRANGE", "s", "-1", "-5"}), "$0\r\n\r\n");
  expect(c, cmd({"GETRANGE", "s", "5", "100"}), "$6\r\n World\r\n");
  // The examples of Redis's own command pages.
  expect(c, cmd({"APPEND", "a1", "Hello"}), ":5\r\n");
  expect(c, cmd({"APPEND", "a1", " World"}), ":11\r\n");
  expect(c, cmd({"GET", "a1"}), "$11\r\nHello World\r\n");
  expect(c, cmd({"SET", "key1", "Hello World"}), "+OK\r\n");
  expect(c, cmd({"SETRANGE", "key1", "6", "Redis"}), ":11\r\n");
  expect(c, cmd({"GET", "key1"}), "$11\r\nHello Redis\r\n");
  expect(c, cmd({"SETRANGE", "key2", "6", "Redis"}), ":11\r\n");
  expect(c, cmd({"GET", "key2"}), std::string("$11\r\n\0\0\0\0\0\0Redis\r\n", 18));
  expect(c, cmd({"SETRANGE", "key2", "-1", "x"}), "-ERR offset is out of range\r\n");
  expect(c, cmd({"SET", "f", "10.50"}), "+OK\r\n");
  expect(c, cmd({"INCRBYFLOAT", "f", "0.1"}), "$4\r\n10.6\r\n");
  expect(c, cmd({"INCRBYFLOAT", "f", "-5"}), "$3\r\n5.6\r\n");
  expect(c, cmd({"SET", "f", "5.0e3"}), "+OK\r\n");
  expect(c, cmd({"INCRBYFLOAT", "f", "2.0e2"}), "$4\r\n5200\r\n");
  expect(c, cmd({"INCRBYFLOAT", "s", "1"}), "-ERR value is not a valid float\r\n");
  expect(c, cmd({"INCRBYFLOAT", "f", "x"}), "-ERR value is not a valid float\r\n");
  expect(c, cmd({"SET", "t", "v", "EX", "100"}), "+OK\r\n");
  expect(c, cmd({"APPEND", "t", "w"}), ":2\r\n");
  expect(c, cmd({"TTL", "t"}), ":100\r\n");  // APPEND keeps the TTL, as in Redis
  expect(c, cmd({"MSET", "user:1", "a", "user:2", "b", "other", "c"}), "+OK\r\n");
  expect(c, cmd({"KEYS", "user:*"}), "*2\r\n$6\r\nuser:1\r\n$6\r\nuser:2\r\n");
  expect(c, cmd({"KEYS", "*th?r"}), "*1\r\n$5\r\nother\r\n");
  expect(c, cmd({"KEYS", "nothing"}), "*0\r\n");
  expect(c, cmd({"FLUSHDB", "LAZY"}), "-ERR syntax error\r\n");
  expect(c, cmd({"FLUSHALL"}), "+OK\r\n");
  expect(c, cmd({"DBSIZE"}), ":0\r\n");
  expect(c, cmd({"CONFIG", "GET", "appendonly"}), "*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n");
  expect(c, cmd({"CONFIG", "GET", "nonexistent"}), "*0\r\n");
  expect(c, cmd({"WAIT", "1", "0"}), ":0\r\n");  // a node alone: no replica
  expect(c, cmd({"AUTH", "pw"}),
         "-ERR AUTH <password> called without any password configured for the default user. Are you sure your "
         "configuration is correct?\r\n");
}

BOOST_AUTO_TEST_CASE(ttls_answer_as_redis) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"TTL", "k"}), ":-2\r\n");
  expect(c, cmd({"SET", "k", "v"}), "+OK\r\n");
  expect(c, cmd({"TTL", "k"}), ":-1\r\n");
  expect(c, cmd({"EXPIRE", "k", "100"}), ":1\r\n");
  expect(c, cmd({"TTL", "k"}), ":100\r\n");
  expect(c, cmd({"PERSIST", "k"}), ":1\r\n");
  expect(c, cmd({"PERSIST", "k"}), ":0\r\n");
  expect(c, cmd({"SET", "k", "v", "PX", "300"}), "+OK\r\n");
  std::this_thread::sleep_for(1s);
  expect(c, cmd({"GET", "k"}), "$-1\r\n");
  expect(c, cmd({"SET", "k", "v", "EX", "100"}), "+OK\r\n");
  expect(c, cmd({"SET", "k", "w", "KEEPTTL"}), "+OK\r\n");
  expect(c, cmd({"TTL", "k"}), ":100\r\n");
  expect(c, cmd({"SET", "k", "w"}), "+OK\r\n");
  expect(c, cmd({"TTL", "k"}), ":-1\r\n");
  expect(c, cmd({"SETEX", "k", "50", "v"}), "+OK\r\n");
  expect(c, cmd({"TTL", "k"}), ":50\r\n");
  expect(c, cmd({"EXPIRE", "k", "0"}), ":1\r\n");  // a time not in the future deletes the key
  expect(c, cmd({"EXISTS", "k"}), ":0\r\n");
  expect(c, cmd({"EXPIRE", "k", "10"}), ":0\r\n");
}

// A pipeline is answered in order, and each command sees the ones before it: a GET right after
// a SET in the same write sees the SET, and a SET after a GET does not change what the GET saw.
BOOST_AUTO_TEST_CASE(pipelines_answer_in_order_and_see_their_own_writes) {
  resp_node n;
  raw_client c(n.port);
  std::string request;
  std::string reply;
  for (int i = 0; i < 200; ++i) {
    const auto v = std::to_string(i);
    request += cmd({"SET", "p", v}) + cmd({"GET", "p"}) + cmd({"INCR", "n"});
    reply += fmt::format("+OK\r\n${}\r\n{}\r\n:{}\r\n", v.size(), v, i + 1);
  }
  expect(c, request, reply);
  // Thousands of reads behind one write wait in the input, read as room allows, and are answered.
  std::string many = cmd({"SET", "q", "x"});
  std::string answers = "+OK\r\n";
  for (int i = 0; i < 50'000; ++i) {
    many += cmd({"GET", "q"});
    answers += "$1\r\nx\r\n";
  }
  expect(c, many, answers);
  // A command cut in two around a write's answer: the node runs it once all of it has arrived, not
  // from the bytes of a read still under way.
  c.send(cmd({"SET", "cut", "whole"}) + "*2\r\n$3\r\nGET\r\n$3\r\n");
  std::this_thread::sleep_for(200ms);  // the SET is answered meanwhile
  expect(c, "cut\r\n", "+OK\r\n$5\r\nwhole\r\n");
  // Inline commands, as a telnet user types them.
  expect(c, "PING\r\nSET x \"a b\"\r\nGET x\r\n", "+PONG\r\n+OK\r\n$3\r\na b\r\n");
}

BOOST_AUTO_TEST_CASE(hello_3_switches_to_resp3) {
  resp_node n;
  raw_client c(n.port);
  c.send(cmd({"HELLO", "3"}));
  auto hello = c.read(16);
  BOOST_TEST(hello.substr(0, 4) == "%7\r\n");
  c.read(1 << 16);  // the rest of the map
  expect(c, cmd({"GET", "nope"}), "_\r\n");
  expect(c, cmd({"HELLO", "4"}), "-NOPROTO unsupported protocol version\r\n");
}

// A protocol error is answered with Redis's text and closes that connection only.
BOOST_AUTO_TEST_CASE(a_protocol_error_closes_only_its_connection) {
  resp_node n;
  raw_client bad(n.port);
  raw_client good(n.port);
  expect(bad, "*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n");
  BOOST_TEST(bad.closed());
  raw_client huge(n.port);
  // A 512 MB bulk header: refused before any of it is read, memory untouched.
  expect(huge, "*2\r\n$3\r\nSET\r\n$536870912\r\n", "-ERR Protocol error: invalid bulk length\r\n");
  BOOST_TEST(huge.closed());
  expect(good, cmd({"PING"}), "+PONG\r\n");
}

// MULTI/EXEC is one kvnode transaction; WATCH makes it conditional on the watched keys.
BOOST_AUTO_TEST_CASE(multi_exec_and_watch_as_redis) {
  resp_node n;
  raw_client c(n.port);
  raw_client other(n.port);
  expect(c, cmd({"EXEC"}), "-ERR EXEC without MULTI\r\n");
  expect(c, cmd({"DISCARD"}), "-ERR DISCARD without MULTI\r\n");
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"MULTI"}), "-ERR MULTI calls can not be nested\r\n");
  expect(c, cmd({"SET", "a", "1"}), "+QUEUED\r\n");
  expect(c, cmd({"INCR", "n"}), "+QUEUED\r\n");
  expect(c, cmd({"GET", "a"}), "+QUEUED\r\n");
  expect(c, cmd({"MGET", "a", "zz"}), "+QUEUED\r\n");
  expect(c, cmd({"EXEC"}), "*4\r\n+OK\r\n:1\r\n$1\r\n1\r\n*2\r\n$1\r\n1\r\n$-1\r\n");
  // A key written twice (which a kvnode transaction refuses) runs against the node's state, in
  // order, as in Redis; a command failing at EXEC still fails the whole of it, nothing applied.
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"SET", "a", "5"}), "+QUEUED\r\n");
  expect(c, cmd({"INCR", "a"}), "+QUEUED\r\n");
  expect(c, cmd({"EXEC"}), "*2\r\n+OK\r\n:6\r\n");
  expect(c, cmd({"GET", "a"}), "$1\r\n6\r\n");
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"SET", "a", "x"}), "+QUEUED\r\n");
  expect(c, cmd({"SET", "b9", "1"}), "+QUEUED\r\n");
  expect(c, cmd({"INCR", "a"}), "+QUEUED\r\n");
  expect(c, cmd({"EXEC"}), "-ERR value is not an integer or out of range\r\n");
  expect(c, cmd({"MGET", "a", "b9"}), "*2\r\n$1\r\n6\r\n$-1\r\n");
  // ... and a watched key changed by another client makes it answer the null array.
  expect(c, cmd({"WATCH", "a"}), "+OK\r\n");
  expect(other, cmd({"SET", "a", "7"}), "+OK\r\n");
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"INCR", "a"}), "+QUEUED\r\n");
  expect(c, cmd({"INCR", "a"}), "+QUEUED\r\n");
  expect(c, cmd({"EXEC"}), "*-1\r\n");
  expect(c, cmd({"GET", "a"}), "$1\r\n7\r\n");
  expect(c, cmd({"SET", "a", "1"}), "+OK\r\n");
  // A queuing error discards the transaction.
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"SET", "b", "1"}), "+QUEUED\r\n");
  expect(c, cmd({"NOSUCH"}), "-ERR unknown command 'NOSUCH', with args beginning with: \r\n");
  expect(c, cmd({"EXEC"}), "-EXECABORT Transaction discarded because of previous errors.\r\n");
  expect(c, cmd({"EXISTS", "b"}), ":0\r\n");
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"SET", "b", "1"}), "+QUEUED\r\n");
  expect(c, cmd({"DISCARD"}), "+OK\r\n");
  expect(c, cmd({"EXISTS", "b"}), ":0\r\n");
  // WATCH: a change by another client between WATCH and EXEC makes EXEC run nothing.
  expect(c, cmd({"WATCH", "a"}), "+OK\r\n");
  expect(other, cmd({"SET", "a", "changed"}), "+OK\r\n");
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"SET", "b", "2"}), "+QUEUED\r\n");
  expect(c, cmd({"EXEC"}), "*-1\r\n");
  expect(c, cmd({"EXISTS", "b"}), ":0\r\n");
  // Unchanged, it runs; WATCH inside MULTI is refused.
  expect(c, cmd({"WATCH", "a"}), "+OK\r\n");
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"WATCH", "b"}), "-ERR WATCH inside MULTI is not allowed\r\n");
  expect(c, cmd({"SET", "b", "2"}), "+QUEUED\r\n");
  expect(c, cmd({"EXEC"}), "*1\r\n+OK\r\n");
  expect(c, cmd({"GET", "b"}), "$1\r\n2\r\n");
  // A failure at EXEC fails the whole transaction (kvnode's all or nothing; docs/redis.md).
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"SET", "c", "1"}), "+QUEUED\r\n");
  expect(c, cmd({"INCR", "a"}), "+QUEUED\r\n");
  expect(c, cmd({"EXEC"}), "-ERR value is not an integer or out of range\r\n");
  expect(c, cmd({"EXISTS", "c"}), ":0\r\n");
  // Queued TTLs: seconds whose milliseconds overflow are refused, a TTL past the longest is cut
  // to it, as outside MULTI.
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"SET", "c", "1", "EX", "9223372036854775"}), "+QUEUED\r\n");
  expect(c, cmd({"EXPIRE", "c", "9223372036854776"}),
         "-ERR EXPIRE inside MULTI takes a time in the future in kvnode\r\n");
  expect(c, cmd({"DISCARD"}), "+OK\r\n");
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"SET", "c", "1", "EX", "9223372036854775"}), "+QUEUED\r\n");
  expect(c, cmd({"PTTL", "c"}), "+QUEUED\r\n");
  expect(c, cmd({"EXEC"}), "*2\r\n+OK\r\n:9000000000000\r\n");
}

BOOST_AUTO_TEST_CASE(info_names_the_raft_role_and_the_keyspace) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"SET", "k", "v", "EX", "100"}), "+OK\r\n");
  c.send(cmd({"INFO"}));
  auto text = c.read(200);
  text += c.read(1 << 16);
  for (auto field : {"# Server", "redis_version:", "# Replication", "role:master", "raft_role:leader",
                     "# Keyspace", "db0:keys=1,expires=1", "# Stats", "total_commands_processed:"}) {
    BOOST_TEST(text.find(field) != std::string::npos, "no " << field << " in " << text);
  }
}

// redis-cli as a user drives it: commands, inline quoting, and its exit status.
BOOST_AUTO_TEST_CASE(redis_cli_drives_it) {
  resp_node n;
  const auto port = std::to_string(n.port);
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/redis-cli", "-p", port};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  };
  BOOST_REQUIRE_MESSAGE(run({"PING"}).out == "PONG\n", "redis-cli (Debian's redis-tools) must be installed");
  BOOST_TEST(run({"SET", "greeting", "hello world"}).out == "OK\n");
  BOOST_TEST(run({"GET", "greeting"}).out == "hello world\n");
  BOOST_TEST(run({"INCRBY", "n", "5"}).out == "5\n");
  BOOST_TEST(run({"MGET", "greeting", "n", "none"}).out == "hello world\n5\n\n");
  auto err = run({"INCR", "greeting"});
  BOOST_TEST(err.out.rfind("ERR value is not an integer or out of range\n", 0) == 0, err.out);
  // Mass insertion as Redis's documentation shows it: the commands' bytes piped into --pipe.
  std::string mass;
  for (int i = 0; i < 20000; ++i) mass += cmd({"SET", fmt::format("mass:{}", i), fmt::format("value {}", i)});
  std::vector<std::string> pipe{"/usr/bin/redis-cli", "-p", port, "--pipe"};
  auto piped = run_command(pipe, mass, std::chrono::seconds(60));
  BOOST_TEST(piped.exit_code == 0, piped.out << piped.err);
  BOOST_TEST(piped.out.find("errors: 0, replies: 20000") != std::string::npos, piped.out);
  BOOST_TEST(run({"DBSIZE"}).out == "20002\n");
  BOOST_TEST(run({"GET", "mass:19999"}).out == "value 19999\n");
}

// The server's idle-timeout closes a silent Redis connection as it does a binary one, but not a
// subscriber's, which waits for messages (Redis's timeout spares those too).
BOOST_AUTO_TEST_CASE(idle_connections_close_but_subscribers_stay) {
  resp_node n("idle-timeout = \"300ms\"\n");
  raw_client silent(n.port);
  raw_client busy(n.port);
  raw_client subscriber(n.port);
  expect(subscriber, cmd({"SUBSCRIBE", "news"}), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
  for (int i = 0; i < 8; ++i) {
    expect(busy, cmd({"PING"}), "+PONG\r\n");
    std::this_thread::sleep_for(100ms);
  }
  BOOST_TEST(silent.closed());
  expect(busy, cmd({"PING"}), "+PONG\r\n");
  raw_client publisher(n.port);
  expect(publisher, cmd({"PUBLISH", "news", "hi"}), ":1\r\n");
  const std::string message = "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n";
  BOOST_TEST(subscriber.read(message.size()) == message);
}

// Every redis-benchmark test of the commands kvnode has (PING inline and multibulk, SET, GET,
// INCR, MSET), pipelined, to completion and without an error reply.
BOOST_AUTO_TEST_CASE(redis_benchmark_runs_to_completion) {
  resp_node n;
  auto r = run_command({"/usr/bin/redis-benchmark", "-p", std::to_string(n.port), "-t",
                        "ping_inline,ping_mbulk,set,get,incr,mset", "-n", "5000", "-c", "10", "-P", "8", "-q"},
                       {}, std::chrono::seconds(120));
  BOOST_TEST(r.exit_code == 0, r.err);
  for (auto test : {"PING_INLINE: ", "PING_MBULK: ", "SET: ", "GET: ", "INCR: ", "MSET (10 keys): "}) {
    BOOST_TEST(r.out.find(test) != std::string::npos, "no " << test << "in " << r.out);
  }
  BOOST_TEST(r.out.find("rror") == std::string::npos, r.out);
  BOOST_TEST(r.err.find("rror") == std::string::npos, r.err);
  raw_client c(n.port);
  expect(c, cmd({"GET", "counter:__rand_int__"}), "$4\r\n5000\r\n");  // every INCR of its one key
}

// A million pipelined PINGs, then 200,000 SETs, over one connection: answered in order, while
// other connections are served, and the node's memory stays bounded (the reader stops reading
// while max-pipeline replies wait or the output is full, so the pipeline waits in the socket).
BOOST_AUTO_TEST_CASE(a_million_pipelined_commands_in_bounded_memory) {
  resp_node n;
  const auto pid = n.node.pid();
  const auto peak_before = status_kb(pid, "VmHWM");
  raw_client c(n.port);
  std::string pings;
  for (int i = 0; i < 1'000'000; ++i) pings += "*1\r\n$4\r\nPING\r\n";
  std::thread other_client([&] {
    raw_client other(n.port);
    for (int i = 0; i < 20; ++i) {
      expect(other, cmd({"SET", "other", std::to_string(i)}), "+OK\r\n");
      std::this_thread::sleep_for(20ms);
    }
  });
  BOOST_TEST(pipeline_answered(c, pings, "+PONG\r\n", 1'000'000));
  other_client.join();
  std::string sets;
  for (int i = 0; i < 200'000; ++i) sets += cmd({"SET", "k", std::to_string(i)});
  BOOST_TEST(pipeline_answered(c, sets, "+OK\r\n", 200'000));
  expect(c, cmd({"GET", "k"}), "$6\r\n199999\r\n");
  const auto peak_after = status_kb(pid, "VmHWM");
  BOOST_TEST_MESSAGE("kvnode peak RSS " << peak_before << " kB before, " << peak_after << " kB after");
  // The requests alone are 14 MB and 5 MB; their replies 7 MB and 1 MB.
  BOOST_TEST(peak_after - peak_before < 64 * 1024, "peak RSS grew by " << peak_after - peak_before << " kB");
}

// Frames cut off by a client that then closes, and frames over the limits: each costs only its
// own connection, and the node serves the others throughout.
BOOST_AUTO_TEST_CASE(unterminated_and_oversized_frames) {
  resp_node n;
  raw_client good(n.port);
  for (auto cut : {"*2\r\n$3\r\nSET\r\n$5\r\nab", "*3\r\n$3\r\nSET\r\n", "*2\r\n$3", "PING", "SET k \"unterminated"}) {
    raw_client c(n.port);
    c.send(cut);
    expect(good, cmd({"PING"}), "+PONG\r\n");
  }  // each closes here, its command never complete
  // A bulk string one byte over max-frame-size (16 MiB): refused from its header.
  raw_client big(n.port);
  expect(big, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16777217\r\n", "-ERR Protocol error: invalid bulk length\r\n");
  BOOST_TEST(big.closed());
  // A multibulk count over 1048576 arguments: refused from its header.
  raw_client many(n.port);
  expect(many, "*1048577\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
  BOOST_TEST(many.closed());
  // An inline line over 64 KiB without its end.
  raw_client line(n.port);
  expect(line, std::string(70'000, 'a'), "-ERR Protocol error: too big inline request\r\n");
  BOOST_TEST(line.closed());
  // Non-UTF-8 keys and values round-trip.
  const std::string key("\xff\xfe\x00k", 4);
  expect(good, cmd({"SET", key, "\xc3\x28"}), "+OK\r\n");
  expect(good, cmd({"GET", key}), "$2\r\n\xc3\x28\r\n");
  expect(good, cmd({"PING"}), "+PONG\r\n");
}

// Commands of other Redis types: WRONGTYPE on a string key (compared with Redis in
// resp_golden_test.cpp), Redis's unknown-command error on a missing key or inside MULTI.
BOOST_AUTO_TEST_CASE(other_types_commands_never_answer_wrongly) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"LPUSH", "l", "x"}), "-ERR unknown command 'LPUSH', with args beginning with: 'l' 'x' \r\n");
  expect(c, cmd({"EXISTS", "l"}), ":0\r\n");
  expect(c, cmd({"HGETALL", "h"}), "-ERR unknown command 'HGETALL', with args beginning with: 'h' \r\n");
  expect(c, cmd({"XREAD", "STREAMS", "s", "0"}),
         "-ERR unknown command 'XREAD', with args beginning with: 'STREAMS' 's' '0' \r\n");
  // Pipelined behind a SET of its key: it sees the SET.
  expect(c, cmd({"SET", "l", "v"}) + cmd({"LPUSH", "l", "x"}),
         "+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"LPUSH", "l", "x"}), "-ERR unknown command 'LPUSH', with args beginning with: 'l' 'x' \r\n");
  expect(c, cmd({"EXEC"}), "-EXECABORT Transaction discarded because of previous errors.\r\n");
  expect(c, cmd({"EVAL", "return 1", "0"}),
         "-ERR unknown command 'EVAL', with args beginning with: 'return 1' '0' \r\n");
}

// COMMAND describes the command table; CLIENT INFO and LIST give Redis's line for a connection.
BOOST_AUTO_TEST_CASE(command_and_client_list_describe_the_node) {
  resp_node n;
  raw_client c(n.port);
  c.send(cmd({"COMMAND", "COUNT"}));
  const auto count = read_until(c, "\r\n");
  c.send(cmd({"COMMAND", "LIST"}));
  const auto list = read_until(c, "watch\r\n");  // the last name, in name order
  BOOST_TEST(list.starts_with("*" + count.substr(1)), "COMMAND COUNT " << count << " COMMAND LIST " << list);
  expect(c,
         cmd({"CLIENT", "SETNAME", "me"}) + cmd({"CLIENT", "NO-EVICT", "on"}) +
             cmd({"CLIENT", "SETINFO", "LIB-NAME", "x"}),
         "+OK\r\n+OK\r\n+OK\r\n");
  c.send(cmd({"CLIENT", "INFO"}));
  const auto info = read_until(c, "\n\r\n");
  const std::vector<std::string> fields{"id=", " addr=127.0.0.1:", fmt::format(" laddr=127.0.0.1:{} ", n.port),
                                        " fd=", " name=me age=", " flags=e db=0 sub=0 psub=0 ssub=0 multi=-1 ",
                                        " cmd=client|info user=default ", " resp=2 lib-name=x lib-ver=\n"};
  for (const auto& field : fields) BOOST_TEST(info.find(field) != std::string::npos, "no " << field << " in " << info);
  raw_client other(n.port);
  expect(other, cmd({"MULTI"}), "+OK\r\n");
  c.send(cmd({"CLIENT", "LIST"}));
  const auto all = read_until(c, "\n\r\n");
  BOOST_TEST(all.find("name=me") != std::string::npos, all);
  BOOST_TEST(all.find("flags=x ") != std::string::npos, all);
  BOOST_TEST(all.find("cmd=multi ") != std::string::npos, all);
}

// redis-cli's help, built from COMMAND DOCS, shows each command's arguments as Redis's does.
// (Interactive redis-cli on a pseudo-terminal from script(1); TERM=dumb spares linenoise's cursor
// queries.)
BOOST_AUTO_TEST_CASE(redis_cli_help_comes_from_command_docs) {
  resp_node n;
  const auto shell = fmt::format(
      "(printf 'help set\\nhelp client list\\nhelp mset\\n'; sleep 1) | TERM=dumb /usr/bin/script -qc "
      "'/usr/bin/redis-cli -p {}' /dev/null",
      n.port);
  auto r = run_command({"/bin/sh", "-c", shell});
  for (auto help :
       {"SET\x1b[0m \x1b[90mkey value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT "
        "unix-time-milliseconds|KEEPTTL]",
        "CLIENT LIST\x1b[0m \x1b[90m[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]",
        "MSET\x1b[0m \x1b[90mkey value [key value ...]", "summary:\x1b[0m Writes a key's value"}) {
    BOOST_TEST(r.out.find(help) != std::string::npos, "no " << help << " in " << r.out << r.err);
  }
}

BOOST_AUTO_TEST_SUITE_END()
