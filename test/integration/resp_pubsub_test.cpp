// Redis's pub/sub through a real kvnode process: SUBSCRIBE, PSUBSCRIBE, their UNSUBSCRIBEs,
// PUBLISH and PUBSUB answered byte for byte as redis-server 7.0 answers them, the subscribed
// context's RESP2 rules and RESP3's pushes, keyspace notifications from the node's applied writes
// (set, del, expiry by TTL), a slow subscriber closed at the output limit, and redis-cli's
// subscribe and psubscribe as a user runs them.

#include "harness/cluster.hpp"
#include "harness/node_process.hpp"
#include "harness/process.hpp"
#include "harness/resp_client.hpp"
#include "support/resp_expect.hpp"

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace kv::harness;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

// Expects exactly `bytes` to arrive next, with nothing sent.
void expect_pushed(raw_client& c, std::string_view bytes) {
  auto got = c.read(bytes.size());
  BOOST_TEST(got == bytes);
}

std::string message(std::string_view channel, std::string_view text) {
  return fmt::format("*3\r\n$7\r\nmessage\r\n${}\r\n{}\r\n${}\r\n{}\r\n", channel.size(), channel, text.size(), text);
}

std::string pmessage(std::string_view pattern, std::string_view channel, std::string_view text) {
  return fmt::format("*4\r\n$8\r\npmessage\r\n${}\r\n{}\r\n${}\r\n{}\r\n${}\r\n{}\r\n", pattern.size(), pattern,
                     channel.size(), channel, text.size(), text);
}

template <typename Pred>
bool eventually(Pred p, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (p()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return p();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resp_pubsub)

// The replies redis-server 7.0 gives to this session, byte for byte.
BOOST_AUTO_TEST_CASE(subscribed_context_answers_as_redis) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"SUBSCRIBE"}), "-ERR wrong number of arguments for 'subscribe' command\r\n");
  expect(c, cmd({"UNSUBSCRIBE"}), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
  expect(c, cmd({"subscribe", "a", "b", "a"}),
         "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
         "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:2\r\n");
  expect(c, cmd({"Get", "x"}),
         "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
         "context\r\n");
  expect(c, cmd({"config", "get", "x"}),
         "-ERR Can't execute 'config|get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed "
         "in this context\r\n");
  expect(c, cmd({"foo"}), "-ERR unknown command 'foo', with args beginning with: \r\n");
  expect(c, cmd({"ping"}), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
  expect(c, cmd({"ping", "hi"}), "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
  expect(c, cmd({"unsubscribe", "z"}), "*3\r\n$11\r\nunsubscribe\r\n$1\r\nz\r\n:2\r\n");
  expect(c, cmd({"unsubscribe"}),
         "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n");
  expect(c, cmd({"unsubscribe"}), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
  expect(c, cmd({"punsubscribe"}), "*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n");
  expect(c, cmd({"psubscribe", "h*"}), "*3\r\n$10\r\npsubscribe\r\n$2\r\nh*\r\n:1\r\n");
  expect(c, cmd({"pubsub", "numpat"}),
         "-ERR Can't execute 'pubsub|numpat': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
         "allowed in this context\r\n");
  expect(c, cmd({"subscribe", "c", "d"}),
         "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:2\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nd\r\n:3\r\n");
  expect(c, cmd({"reset", "x"}), "-ERR wrong number of arguments for 'reset' command\r\n");
  expect(c, cmd({"reset"}), "+RESET\r\n");
  expect(c, cmd({"set", "x", "2"}), "+OK\r\n");  // RESET left every subscription
  expect(c, cmd({"get", "x"}), "$1\r\n2\r\n");
  expect(c, cmd({"ping"}), "+PONG\r\n");
  expect(c, cmd({"subscribe", "q"}), "*3\r\n$9\r\nsubscribe\r\n$1\r\nq\r\n:1\r\n");
  expect(c, cmd({"quit"}), "+OK\r\n");
  BOOST_TEST(c.closed());
}

BOOST_AUTO_TEST_CASE(publish_reaches_channel_and_pattern_subscribers) {
  resp_node n;
  raw_client a(n.port);
  raw_client b(n.port);
  raw_client p(n.port);
  expect(a, cmd({"subscribe", "news"}), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
  expect(b, cmd({"psubscribe", "n*"}), "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n");
  expect(b, cmd({"subscribe", "news"}), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:2\r\n");
  expect(p, cmd({"PUBLISH", "news", "hello"}), ":3\r\n");
  expect_pushed(a, message("news", "hello"));
  expect_pushed(b, message("news", "hello") + pmessage("n*", "news", "hello"));
  expect(p, cmd({"publish", "nothing", "x"}), ":1\r\n");  // n*
  expect_pushed(b, pmessage("n*", "nothing", "x"));
  expect(p, cmd({"publish", "other", "x"}), ":0\r\n");
  expect(p, cmd({"publish", "a"}), "-ERR wrong number of arguments for 'publish' command\r\n");
  expect(p, cmd({"pubsub"}), "-ERR wrong number of arguments for 'pubsub' command\r\n");
  expect(p, cmd({"pubsub", "channels"}), "*1\r\n$4\r\nnews\r\n");
  expect(p, cmd({"pubsub", "channels", "x*"}), "*0\r\n");
  expect(p, cmd({"pubsub", "CHANNELS", "a", "b"}),
         "-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.\r\n");
  expect(p, cmd({"pubsub", "numsub"}), "*0\r\n");
  expect(p, cmd({"pubsub", "numsub", "news", "b"}), "*4\r\n$4\r\nnews\r\n:2\r\n$1\r\nb\r\n:0\r\n");
  expect(p, cmd({"pubsub", "numpat"}), ":1\r\n");
  expect(p, cmd({"pubsub", "numpat", "x"}), "-ERR wrong number of arguments for 'pubsub|numpat' command\r\n");
  expect(p, cmd({"PUBSUB", "Foo"}), "-ERR unknown subcommand 'Foo'. Try PUBSUB HELP.\r\n");
  // The subcommands (no sharded ones: no sharded pub/sub here), one simple string per line.
  expect(p, cmd({"pubsub", "help"}),
         "*10\r\n+PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+CHANNELS [<pattern>]\r\n"
         "+    The channels with subscribers on this node, matching <pattern> (default: all).\r\n+NUMPAT\r\n"
         "+    How many pattern subscriptions this node has.\r\n+NUMSUB [<channel> ...]\r\n"
         "+    Each channel with its number of subscribers on this node (pattern\r\n"
         "+    subscriptions not counted).\r\n+HELP\r\n+    This text.\r\n");
  // A subscriber that goes away is forgotten.
  {
    raw_client gone(n.port);
    expect(gone, cmd({"subscribe", "news"}), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
  }
  BOOST_TEST(eventually([&] { return p.ask(cmd({"pubsub", "numsub", "news"}), "*2\r\n$4\r\nnews\r\n:2\r\n") ==
                                     "*2\r\n$4\r\nnews\r\n:2\r\n"; }));
}

// RESP3 (HELLO 3): confirmations and messages are pushes, and every command runs while subscribed.
BOOST_AUTO_TEST_CASE(resp3_subscribers_get_pushes_and_run_any_command) {
  resp_node n;
  raw_client c(n.port);
  c.send(cmd({"hello", "3"}));
  c.read(150);
  expect(c, cmd({"subscribe", "a"}), ">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
  expect(c, cmd({"get", "x"}), "_\r\n");
  expect(c, cmd({"ping"}), "+PONG\r\n");
  expect(c, cmd({"unsubscribe"}), ">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n");
  expect(c, cmd({"unsubscribe"}), ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
  expect(c, cmd({"psubscribe", "*"}), ">3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n");
  // Its own message comes before PUBLISH's count, as from Redis.
  expect(c, cmd({"publish", "a", "m"}), ">4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\na\r\n$1\r\nm\r\n:1\r\n");
  raw_client other(n.port);
  expect(other, cmd({"publish", "b", "n"}), ":1\r\n");
  expect_pushed(c, ">4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\nb\r\n$1\r\nn\r\n");
  expect(c, cmd({"punsubscribe"}), ">3\r\n$12\r\npunsubscribe\r\n$1\r\n*\r\n:0\r\n");
  // The notification of its own write comes before the write's reply, as from Redis.
  expect(c, cmd({"config", "set", "notify-keyspace-events", "K$"}), "+OK\r\n");
  expect(c, cmd({"subscribe", "__keyspace@0__:k"}), ">3\r\n$9\r\nsubscribe\r\n$16\r\n__keyspace@0__:k\r\n:1\r\n");
  expect(c, cmd({"set", "k", "w"}), ">3\r\n$7\r\nmessage\r\n$16\r\n__keyspace@0__:k\r\n$3\r\nset\r\n+OK\r\n");
  expect(c, cmd({"reset"}), "+RESET\r\n");
  expect(c, cmd({"get", "x"}), "$-1\r\n");  // RESP2 again, no subscription left
}

BOOST_AUTO_TEST_CASE(keyspace_notifications_follow_applied_writes) {
  resp_node n;
  raw_client s(n.port);
  raw_client w(n.port);
  expect(w, cmd({"config", "get", "notify-keyspace-events"}), "*2\r\n$22\r\nnotify-keyspace-events\r\n$0\r\n\r\n");
  expect(s, cmd({"psubscribe", "__key*__:*"}), "*3\r\n$10\r\npsubscribe\r\n$10\r\n__key*__:*\r\n:1\r\n");
  // Off by default, as in Redis: this write publishes nothing.
  expect(w, cmd({"set", "quiet", "v"}), "+OK\r\n");
  expect(w, cmd({"config", "set", "notify-keyspace-events", "KEX"}),
         "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class "
         "character. Use 'Ag$lshzxeKEtmdn'.\r\n");
  expect(w, cmd({"config", "set", "notify-keyspace-events", "KEA"}), "+OK\r\n");
  expect(w, cmd({"config", "get", "notify-keyspace-events"}), "*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n");
  const std::string pattern = "__key*__:*";
  expect(w, cmd({"set", "k", "v"}), "+OK\r\n");
  expect_pushed(s, pmessage(pattern, "__keyspace@0__:k", "set") + pmessage(pattern, "__keyevent@0__:set", "k"));
  expect(w, cmd({"del", "k", "missing"}), ":1\r\n");
  expect_pushed(s, pmessage(pattern, "__keyspace@0__:k", "del") + pmessage(pattern, "__keyevent@0__:del", "k"));
  expect(w, cmd({"set", "t", "v", "px", "100"}), "+OK\r\n");
  expect_pushed(s, pmessage(pattern, "__keyspace@0__:t", "set") + pmessage(pattern, "__keyevent@0__:set", "t"));
  // The leader's expiry deletes it: `expired`, not `del`.
  expect_pushed(s, pmessage(pattern, "__keyspace@0__:t", "expired") +
                       pmessage(pattern, "__keyevent@0__:expired", "t"));
  // Only the classes asked for: x (expired) and E (keyevent).
  expect(w, cmd({"config", "set", "notify-keyspace-events", "Ex"}), "+OK\r\n");
  expect(w, cmd({"set", "u", "v", "px", "50"}), "+OK\r\n");
  expect_pushed(s, pmessage(pattern, "__keyevent@0__:expired", "u"));
  expect(w, cmd({"config", "set", "notify-keyspace-events", ""}), "+OK\r\n");
  expect(w, cmd({"set", "k", "again"}), "+OK\r\n");
  // Off again: the next thing the subscriber gets is this message, no notification before it.
  expect(w, cmd({"publish", "__keyspace@0__:marker", "m"}), ":1\r\n");
  expect_pushed(s, pmessage(pattern, "__keyspace@0__:marker", "m"));
}

// A subscriber that reads nothing is closed once its unsent messages pass the output limit,
// with a log line; the others go on.
BOOST_AUTO_TEST_CASE(slow_subscriber_is_closed_at_the_output_limit) {
  resp_node n;
  raw_client slow(n.port);
  raw_client p(n.port);
  expect(slow, cmd({"subscribe", "big"}), "*3\r\n$9\r\nsubscribe\r\n$3\r\nbig\r\n:1\r\n");
  const std::string payload(512 << 10, 'x');
  const auto publish = cmd({"publish", "big", payload});
  bool dropped = false;
  for (int i = 0; i < 200 && !dropped; ++i) {
    auto answer = p.ask(publish, ":1\r\n");
    dropped = answer == ":0\r\n";
  }
  BOOST_TEST(dropped);
  BOOST_TEST(n.node.log().find("unsent pub/sub messages passed the output limit") != std::string::npos);
  // What it was sent before the close, then the end of the stream.
  while (!slow.read(64u << 20).empty()) {
  }
  BOOST_TEST(slow.closed());
  expect(p, cmd({"pubsub", "numsub", "big"}), "*2\r\n$3\r\nbig\r\n:0\r\n");
  // One message larger than the limit still reaches a subscriber that keeps up.
  raw_client reader(n.port);
  expect(reader, cmd({"subscribe", "huge"}), "*3\r\n$9\r\nsubscribe\r\n$4\r\nhuge\r\n:1\r\n");
  const std::string huge(6 << 20, 'y');
  expect(p, cmd({"publish", "huge", huge}), ":1\r\n");
  expect_pushed(reader, message("huge", huge));
}

// In a cluster of three every node publishes keyspace notifications to its own subscribers as it
// applies each write, followers too; PUBLISH reaches the subscribers of the node it is sent to.
BOOST_AUTO_TEST_CASE(every_node_notifies_and_publish_stays_on_its_node) {
  cluster nodes(3);
  std::vector<std::unique_ptr<raw_client>> subscribers;
  const std::string pattern = "__keyspace@0__:*";
  for (std::uint64_t id = 1; id <= 3; ++id) {
    auto& s = *subscribers.emplace_back(std::make_unique<raw_client>(nodes.member(id).resp_port()));
    expect(s, cmd({"config", "set", "notify-keyspace-events", "K$"}), "+OK\r\n");
    expect(s, cmd({"psubscribe", pattern}), "*3\r\n$10\r\npsubscribe\r\n$16\r\n__keyspace@0__:*\r\n:1\r\n");
  }
  // Written on the leader, whichever it is (followers refuse writes).
  std::uint64_t leader = 0;
  BOOST_TEST(eventually(
      [&] {
        for (std::uint64_t id = 1; id <= 3 && leader == 0; ++id) {
          raw_client w(nodes.member(id).resp_port());
          if (w.ask(cmd({"set", "k", "v"}), "+OK\r\n") == "+OK\r\n") leader = id;
        }
        return leader != 0;
      },
      20000ms));
  for (auto& s : subscribers) expect_pushed(*s, pmessage(pattern, "__keyspace@0__:k", "set"));
  const auto other = leader % 3 + 1;
  raw_client p(nodes.member(other).resp_port());
  expect(p, cmd({"publish", "__keyspace@0__:x", "hi"}), ":1\r\n");
  expect_pushed(*subscribers[other - 1], pmessage(pattern, "__keyspace@0__:x", "hi"));
  // The next thing the leader's subscriber gets is the next write's notification: the publish
  // stayed on its node.
  raw_client w(nodes.member(leader).resp_port());
  expect(w, cmd({"set", "k2", "v"}), "+OK\r\n");
  expect_pushed(*subscribers[leader - 1], pmessage(pattern, "__keyspace@0__:k2", "set"));
}

// redis-cli subscribe and psubscribe, as a user runs them: they print each message until killed.
BOOST_AUTO_TEST_CASE(redis_cli_subscribes) {
  resp_node n;
  const auto port = std::to_string(n.port);
  raw_client p(n.port);
  temp_dir dir;
  for (auto [command, target, expected] :
       {std::tuple{"subscribe", "ch", "subscribe\nch\n1\nmessage\nch\nhello\n"},
        std::tuple{"psubscribe", "c*", "psubscribe\nc*\n1\npmessage\nc*\nch\nhello\n"}}) {
    const auto out = dir / (std::string(command) + ".out");
    auto pid = spawn({"/usr/bin/redis-cli", "-p", port, command, target}, out, dir / "err");
    const auto wanted = std::string(command) == "subscribe" ? "*2\r\n$2\r\nch\r\n:1\r\n" : ":1\r\n";
    const auto ask = std::string(command) == "subscribe" ? cmd({"pubsub", "numsub", "ch"}) : cmd({"pubsub", "numpat"});
    BOOST_TEST(eventually([&] { return p.ask(ask, wanted) == wanted; }));
    expect(p, cmd({"publish", "ch", "hello"}), ":1\r\n");
    BOOST_TEST(eventually([&] { return slurp(out) == expected; }), slurp(out));
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
}

BOOST_AUTO_TEST_SUITE_END()
