// SCAN and RANDOMKEY through real kvnode processes: walks that return every key live throughout
// exactly once while writes go on between the calls, a walk continued on another node after
// the leader dies, MATCH / COUNT / TYPE, binary keys, Redis 7.0's errors byte for byte (checked
// against a redis-server 7.0), and redis-cli --scan driving it as users do.

#include "harness/cluster.hpp"
#include "harness/node_process.hpp"
#include "harness/process.hpp"
#include "harness/resp_client.hpp"
#include "support/resp_expect.hpp"

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace kv::harness;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

std::string command(const std::vector<std::string>& args) {
  std::string out = fmt::format("*{}\r\n", args.size());
  for (const auto& a : args) out += fmt::format("${}\r\n{}\r\n", a.size(), a);
  return out;
}

// A RESP2 reply, parsed: an error's text, or an array's elements (nested), or a bulk string.
struct reply_value {
  char type = 0;  // '$', '*', '-', '+', ':'
  std::string text;
  std::vector<reply_value> items;
  bool null = false;
};

// Parses one reply at `at`; nullopt while `b` holds only part of one.
std::optional<reply_value> parse(std::string_view b, std::size_t& at) {
  auto eol = b.find("\r\n", at);
  if (eol == std::string_view::npos) return std::nullopt;
  reply_value v;
  v.type = b[at];
  std::string head(b.substr(at + 1, eol - at - 1));
  at = eol + 2;
  if (v.type == '$' || v.type == '*') {
    const auto n = std::stol(head);
    if (n < 0) {
      v.null = true;
      return v;
    }
    if (v.type == '$') {
      if (b.size() < at + static_cast<std::size_t>(n) + 2) return std::nullopt;
      v.text = std::string(b.substr(at, static_cast<std::size_t>(n)));
      at += static_cast<std::size_t>(n) + 2;
      return v;
    }
    for (long i = 0; i < n; ++i) {
      auto item = parse(b, at);
      if (!item) return std::nullopt;
      v.items.push_back(std::move(*item));
    }
    return v;
  }
  v.text = head;
  return v;
}

reply_value ask(raw_client& c, const std::vector<std::string>& args) {
  c.send(command(args));
  std::string buffer;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::size_t at = 0;
    if (auto v = parse(buffer, at)) return *v;
    buffer += c.read(1);
  }
  throw std::runtime_error("no whole reply to " + args.front() + ": " + buffer);
}

// One SCAN call: the next cursor and the keys.
struct scan_page {
  std::string cursor;
  std::vector<std::string> keys;
};

scan_page scan(raw_client& c, std::vector<std::string> args) {
  args.insert(args.begin(), "SCAN");
  auto v = ask(c, args);
  if (v.type != '*' || v.items.size() != 2) throw std::runtime_error("SCAN answered " + v.type + v.text);
  scan_page p{v.items[0].text, {}};
  for (const auto& k : v.items[1].items) p.keys.push_back(k.text);
  return p;
}

void set_keys(raw_client& c, const std::vector<std::string>& keys, const std::string& value = "v") {
  for (std::size_t i = 0; i < keys.size(); i += 50) {
    std::vector<std::string> args{"MSET"};
    for (std::size_t j = i; j < std::min(keys.size(), i + 50); ++j) {
      args.push_back(keys[j]);
      args.push_back(value);
    }
    BOOST_REQUIRE_EQUAL(ask(c, args).text, "OK");
  }
}

std::vector<std::string> numbered(std::string_view prefix, int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(fmt::format("{}{}", prefix, i));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resp_scan)

// A walk in pages of COUNT keys while other keys come and go, and the walked ones are rewritten
// (a value too large for its block moves the key's newest version): every key live for the whole
// walk comes exactly once, no key twice, and every page but the last holds exactly COUNT keys.
BOOST_AUTO_TEST_CASE(a_walk_returns_every_steady_key_once_while_writes_go_on) {
  resp_node n;
  raw_client c(n.port);
  const auto steady = numbered("steady:", 0, 300);
  const auto doomed = numbered("doomed:", 0, 100);
  set_keys(c, steady);
  set_keys(c, doomed);
  std::multiset<std::string> seen;
  std::string cursor = "0";
  int call = 0;
  do {
    auto p = scan(c, {cursor, "COUNT", "7"});
    if (p.cursor != "0") BOOST_TEST(p.keys.size() == 7u, "page " << call);
    seen.insert(p.keys.begin(), p.keys.end());
    cursor = p.cursor;
    // Between calls: a new key, a deleted one, and a steady key rewritten with a long value.
    BOOST_REQUIRE_EQUAL(ask(c, {"SET", fmt::format("new:{}", call), "x"}).text, "OK");
    if (call < 100) BOOST_REQUIRE_EQUAL(ask(c, {"DEL", doomed[static_cast<std::size_t>(call)]}).text, "1");
    BOOST_REQUIRE_EQUAL(ask(c, {"SET", steady[static_cast<std::size_t>(call) % steady.size()], std::string(500, 'y')}).text,
                        "OK");
    ++call;
  } while (cursor != "0" && call < 1000);
  BOOST_TEST(cursor == "0");
  for (const auto& k : steady) BOOST_TEST(seen.count(k) == 1u, k);
  for (const auto& k : seen) {
    BOOST_TEST(seen.count(k) == 1u, k);
    BOOST_TEST((k.starts_with("steady:") || k.starts_with("doomed:") || k.starts_with("new:")), k);
  }
}

// The errors, each as redis-server 7.0 gives it: the cursor is checked before the options.
BOOST_AUTO_TEST_CASE(errors_are_redis_7_0s) {
  resp_node n;
  raw_client c(n.port);
  const std::string invalid = "-ERR invalid cursor\r\n";
  const std::string syntax = "-ERR syntax error\r\n";
  const std::string not_integer = "-ERR value is not an integer or out of range\r\n";
  expect(c, cmd({"SCAN", "abc"}), invalid);
  expect(c, cmd({"SCAN", " 1"}), invalid);
  expect(c, cmd({"SCAN", "1 "}), invalid);
  expect(c, cmd({"SCAN", "0x1"}), invalid);
  expect(c, cmd({"SCAN", "18446744073709551616"}), invalid);
  expect(c, cmd({"SCAN", "abc", "COUNT", "0"}), invalid);
  expect(c, cmd({"SCAN", "0", "COUNT", "0"}), syntax);
  expect(c, cmd({"SCAN", "0", "COUNT", "-1"}), syntax);
  expect(c, cmd({"SCAN", "0", "COUNT", "abc"}), not_integer);
  expect(c, cmd({"SCAN", "0", "COUNT", "99999999999999999999"}), not_integer);
  expect(c, cmd({"SCAN", "0", "COUNT"}), syntax);
  expect(c, cmd({"SCAN", "0", "MATCH"}), syntax);
  expect(c, cmd({"SCAN", "0", "TYPE"}), syntax);
  expect(c, cmd({"SCAN", "0", "foo", "bar"}), syntax);
  expect(c, cmd({"SCAN"}), "-ERR wrong number of arguments for 'scan' command\r\n");
  expect(c, cmd({"RANDOMKEY", "x"}), "-ERR wrong number of arguments for 'randomkey' command\r\n");
  // Cursors strtoul takes: a sign, nothing at all, 2^64 - 1; past every key: an empty last page.
  const std::string empty_end = "*2\r\n$1\r\n0\r\n*0\r\n";
  expect(c, cmd({"SCAN", "0"}), empty_end);
  expect(c, cmd({"RANDOMKEY"}), "$-1\r\n");
  expect(c, cmd({"SET", "k", "v"}), "+OK\r\n");
  const std::string just_k = "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n";
  expect(c, cmd({"SCAN", ""}), just_k);
  expect(c, cmd({"SCAN", "+0"}), just_k);
  expect(c, cmd({"SCAN", "-0"}), just_k);
  expect(c, cmd({"SCAN", "-1"}), empty_end);
  expect(c, cmd({"SCAN", "18446744073709551615"}), empty_end);
  expect(c, cmd({"SCAN", "0", "count", "1", "COUNT", "5", "match", "*", "type", "STRING"}), just_k);
  expect(c, cmd({"RANDOMKEY"}), "$1\r\nk\r\n");
  c.send(cmd({"HELLO", "3"}));
  std::string hello;
  while (!hello.ends_with("$7\r\nmodules\r\n*0\r\n") && hello.size() < 4096) {
    const auto more = c.read(1);
    BOOST_REQUIRE(!more.empty());
    hello += more;
  }
  expect(c, cmd({"SCAN", "0"}), just_k);
  expect(c, cmd({"DEL", "k"}), ":1\r\n");
  expect(c, cmd({"RANDOMKEY"}), "_\r\n");
}

// MATCH filters the COUNT keys a call looks at (a page can be empty mid-walk), TYPE string keeps
// every key and any other type name none, and every cursor is still a step of the same walk.
BOOST_AUTO_TEST_CASE(match_count_and_type_filter_the_walk) {
  resp_node n;
  raw_client c(n.port);
  auto users = numbered("user:", 0, 40);
  auto others = numbered("other:", 0, 60);
  set_keys(c, users);
  set_keys(c, others);
  std::set<std::string> all(users.begin(), users.end());
  all.insert(others.begin(), others.end());

  auto walk = [&](std::vector<std::string> options, std::size_t* empty_pages = nullptr) {
    std::multiset<std::string> seen;
    std::string cursor = "0";
    int calls = 0;
    do {
      std::vector<std::string> args{cursor};
      args.insert(args.end(), options.begin(), options.end());
      auto p = scan(c, args);
      if (empty_pages != nullptr && p.keys.empty() && p.cursor != "0") ++*empty_pages;
      seen.insert(p.keys.begin(), p.keys.end());
      cursor = p.cursor;
    } while (cursor != "0" && ++calls < 1000);
    return seen;
  };
  auto full = walk({});
  BOOST_TEST(std::set<std::string>(full.begin(), full.end()) == all);
  BOOST_TEST(full.size() == all.size());
  std::size_t empty_pages = 0;
  auto matched = walk({"MATCH", "user:*", "COUNT", "2"}, &empty_pages);
  BOOST_TEST(std::set<std::string>(matched.begin(), matched.end()) == std::set<std::string>(users.begin(), users.end()));
  BOOST_TEST(matched.size() == users.size());
  BOOST_TEST(empty_pages > 0u, "60 of 100 keys fail the pattern: some pages of 2 hold none of it");
  auto one = walk({"MATCH", "user:1?", "TYPE", "string", "COUNT", "1000"});
  BOOST_TEST(one.size() == 10u);
  BOOST_TEST(walk({"TYPE", "String"}).size() == all.size());
  BOOST_TEST(walk({"TYPE", "list", "COUNT", "3"}).empty());
  BOOST_TEST(walk({"TYPE", "nosuchtype"}).empty());
  // One call of COUNT 1000 is the whole walk, in the same order as pages of 9 give it.
  auto whole = scan(c, {"0", "COUNT", "1000"});
  BOOST_TEST(whole.cursor == "0");
  std::vector<std::string> paged;
  std::string cursor = "0";
  do {
    auto p = scan(c, {cursor, "COUNT", "9"});
    paged.insert(paged.end(), p.keys.begin(), p.keys.end());
    cursor = p.cursor;
  } while (cursor != "0");
  BOOST_TEST(paged == whole.keys);
}

// Keys with NUL bytes, CR LF and bytes past 0x7f come back byte for byte, and MATCH and KEYS
// compare patterns with NUL bytes in them as Redis does.
BOOST_AUTO_TEST_CASE(binary_keys_and_patterns) {
  resp_node n;
  raw_client c(n.port);
  const std::vector<std::string> keys{std::string("a\0b", 3), std::string("a\0c", 3), "a\r\nb", "\xff\x80", "ab"};
  for (const auto& k : keys) BOOST_REQUIRE_EQUAL(ask(c, {"SET", k, "v"}).text, "OK");
  auto p = scan(c, {"0", "COUNT", "100"});
  BOOST_TEST(std::set<std::string>(p.keys.begin(), p.keys.end()) == std::set<std::string>(keys.begin(), keys.end()));
  const std::string nul_pattern("a\0*", 3);
  auto m = scan(c, {"0", "MATCH", nul_pattern, "COUNT", "100"});
  BOOST_TEST(std::set<std::string>(m.keys.begin(), m.keys.end()) == std::set<std::string>({keys[0], keys[1]}));
  auto k = ask(c, {"KEYS", nul_pattern});
  BOOST_REQUIRE_EQUAL(k.items.size(), 2u);
  BOOST_TEST(k.items[0].text == keys[0]);
  BOOST_TEST(k.items[1].text == keys[1]);
  auto high = scan(c, {"0", "MATCH", "[\x80-\xff]*", "COUNT", "100"});
  BOOST_TEST(high.keys == std::vector<std::string>({keys[3]}));
  auto negated = ask(c, {"KEYS", "a[^a-z]b"});
  BOOST_REQUIRE_EQUAL(negated.items.size(), 1u);
  BOOST_TEST(negated.items[0].text == keys[0]);
}

// RANDOMKEY answers live keys only, and over many calls many different ones.
BOOST_AUTO_TEST_CASE(randomkey_picks_among_the_live_keys) {
  resp_node n;
  raw_client c(n.port);
  auto keys = numbered("r:", 0, 50);
  set_keys(c, keys);
  BOOST_REQUIRE_EQUAL(ask(c, {"DEL", "r:0", "r:1", "r:2"}).text, "3");
  std::set<std::string> live(keys.begin() + 3, keys.end());
  std::set<std::string> picked;
  for (int i = 0; i < 300; ++i) {
    auto v = ask(c, {"RANDOMKEY"});
    BOOST_REQUIRE(v.type == '$' && !v.null);
    BOOST_REQUIRE_MESSAGE(live.contains(v.text), v.text);
    picked.insert(v.text);
  }
  BOOST_TEST(picked.size() >= 25u, picked.size() << " different keys in 300 calls");
}

// redis-cli --scan walks the cursor to 0 (it parses it with strtoull), with and without a pattern.
BOOST_AUTO_TEST_CASE(redis_cli_scan_lists_every_key) {
  resp_node n;
  raw_client c(n.port);
  auto users = numbered("user:", 0, 120);
  auto others = numbered("other:", 0, 80);
  set_keys(c, users);
  set_keys(c, others);
  auto lines = [](const std::string& out) {
    std::multiset<std::string> got;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) got.insert(line);
    return got;
  };
  const auto port = std::to_string(n.port);
  auto all = run_command({"/usr/bin/redis-cli", "-p", port, "--scan"});
  BOOST_REQUIRE_EQUAL(all.exit_code, 0);
  auto want = std::multiset<std::string>(users.begin(), users.end());
  auto user_set = want;
  want.insert(others.begin(), others.end());
  BOOST_TEST(lines(all.out) == want);
  auto some = run_command({"/usr/bin/redis-cli", "-p", port, "--scan", "--pattern", "user:*"});
  BOOST_REQUIRE_EQUAL(some.exit_code, 0);
  BOOST_TEST(lines(some.out) == user_set);
}

// A walk begun on the leader goes on on another member after the leader dies: the cursor is a
// position every member shares. READONLY answers on every member are the same bytes.
BOOST_AUTO_TEST_CASE(a_cursor_survives_the_leaders_death) {
  cluster cl(3);
  // The leader: the member whose INFO says master.
  auto leader = [&](std::uint64_t skip) -> std::uint64_t {
    for (int attempt = 0; attempt < 200; ++attempt) {
      for (auto id : cl.ids()) {
        if (id == skip) continue;
        raw_client probe(cl.member(id).resp_port());
        auto info = ask(probe, {"INFO", "replication"});
        if (info.text.find("role:master") != std::string::npos) return id;
      }
      std::this_thread::sleep_for(50ms);
    }
    throw std::runtime_error("no leader");
  };
  const auto first = leader(0);
  raw_client w(cl.member(first).resp_port());
  const auto keys = numbered("key:", 0, 200);
  set_keys(w, keys);
  // Every member, READONLY, once it has applied the writes: the same page for the same cursor.
  std::vector<std::string> pages;
  for (auto id : cl.ids()) {
    raw_client r(cl.member(id).resp_port());
    BOOST_REQUIRE_EQUAL(ask(r, {"READONLY"}).text, "OK");
    for (int i = 0; i < 200 && ask(r, {"DBSIZE"}).text != "200"; ++i) std::this_thread::sleep_for(20ms);
    auto first_page = scan(r, {"0", "COUNT", "30"});
    auto second_page = scan(r, {first_page.cursor, "COUNT", "30"});
    pages.push_back(fmt::format("{}|{}", fmt::join(second_page.keys, ","), second_page.cursor));
  }
  BOOST_TEST(pages[0] == pages[1]);
  BOOST_TEST(pages[0] == pages[2]);

  std::multiset<std::string> seen;
  std::string cursor = "0";
  for (int i = 0; i < 3; ++i) {
    auto p = scan(w, {cursor, "COUNT", "20"});
    seen.insert(p.keys.begin(), p.keys.end());
    cursor = p.cursor;
  }
  BOOST_REQUIRE(cursor != "0");
  cl.member(first).kill9();
  const auto second = leader(first);
  raw_client r(cl.member(second).resp_port());
  do {
    auto p = scan(r, {cursor, "COUNT", "20"});
    seen.insert(p.keys.begin(), p.keys.end());
    cursor = p.cursor;
  } while (cursor != "0");
  BOOST_TEST(seen == std::multiset<std::string>(keys.begin(), keys.end()));
}

// A key whose deadline has passed but whose delete cannot commit (both followers stopped): SCAN
// and RANDOMKEY pass over it on the node that holds it, while GET still sees it (docs/redis.md).
BOOST_AUTO_TEST_CASE(a_due_key_is_passed_over_until_its_delete_commits) {
  cluster cl(3);
  std::uint64_t leading = 0;
  for (int attempt = 0; attempt < 200 && leading == 0; ++attempt) {
    for (auto id : cl.ids()) {
      raw_client probe(cl.member(id).resp_port());
      if (ask(probe, {"INFO", "replication"}).text.find("role:master") != std::string::npos) leading = id;
    }
    if (leading == 0) std::this_thread::sleep_for(50ms);
  }
  BOOST_REQUIRE(leading != 0);
  raw_client c(cl.member(leading).resp_port());
  BOOST_REQUIRE_EQUAL(ask(c, {"SET", "stays", "v"}).text, "OK");
  BOOST_REQUIRE_EQUAL(ask(c, {"SET", "due", "v", "PX", "300"}).text, "OK");
  for (auto id : cl.ids()) {
    if (id != leading) cl.member(id).pause();
  }
  std::this_thread::sleep_for(800ms);
  BOOST_REQUIRE_EQUAL(ask(c, {"READONLY"}).text, "OK");
  BOOST_TEST(ask(c, {"GET", "due"}).text == "v", "the delete of the due key must not have committed");
  expect(c, cmd({"SCAN", "0"}), "*2\r\n$1\r\n0\r\n*1\r\n$5\r\nstays\r\n");
  for (int i = 0; i < 20; ++i) expect(c, cmd({"RANDOMKEY"}), "$5\r\nstays\r\n");
  for (auto id : cl.ids()) {
    if (id != leading) cl.member(id).resume();
  }
}

BOOST_AUTO_TEST_SUITE_END()
