// The RESP request parser: multibulk and inline commands as Redis 7 reads them, fed whole, byte by
// byte and pipelined; Redis's protocol errors; and random commands split at random points.

#include "io/resp/parser.hpp"

#include <boost/test/unit_test.hpp>

#include <random>
#include <string>
#include <vector>

using namespace kv::resp;

namespace {

std::string multibulk(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

// Every command in `bytes`, as owned strings; fails the test on a protocol error.
std::vector<std::vector<std::string>> parse_all(std::string_view bytes, parser_limits limits = {}) {
  parser p(limits);
  std::vector<std::vector<std::string>> out;
  while (!bytes.empty()) {
    auto s = p.next(bytes);
    if (s == parser::status::need_more) break;
    BOOST_REQUIRE_MESSAGE(s == parser::status::command, p.error());
    out.emplace_back(p.args().begin(), p.args().end());
    bytes.remove_prefix(p.consumed());
  }
  return out;
}

std::string error_of(std::string_view bytes, parser_limits limits = {}) {
  parser p(limits);
  auto s = p.next(bytes);
  return s == parser::status::error ? p.error() : std::string("(no error)");
}

using args = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(resp_parser)

BOOST_AUTO_TEST_CASE(multibulk_commands_pipelined) {
  auto cmds = parse_all(multibulk({"SET", "k", "v"}) + multibulk({"GET", "k"}));
  BOOST_REQUIRE(cmds.size() == 2u);
  BOOST_TEST((cmds[0] == args{"SET", "k", "v"}));
  BOOST_TEST((cmds[1] == args{"GET", "k"}));
}

BOOST_AUTO_TEST_CASE(binary_arguments_keep_every_byte) {
  std::string value("a\r\nb\0c", 6);
  auto cmds = parse_all(multibulk({"SET", "", value}));
  BOOST_REQUIRE(cmds.size() == 1u);
  BOOST_TEST(cmds[0][1].empty());
  BOOST_TEST(cmds[0][2] == value);
}

BOOST_AUTO_TEST_CASE(a_command_fed_byte_by_byte_completes_once) {
  const auto bytes = multibulk({"MSET", "a", "1", "bb", "22"});
  parser p;
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    BOOST_TEST((p.next(std::string_view(bytes).substr(0, n)) == parser::status::need_more), "at " << n);
  }
  BOOST_REQUIRE((p.next(bytes) == parser::status::command));
  BOOST_TEST(p.consumed() == bytes.size());
  BOOST_TEST(p.args().size() == 5u);
}

BOOST_AUTO_TEST_CASE(a_partial_bulk_says_how_much_is_missing) {
  parser p;
  BOOST_REQUIRE((p.next("*1\r\n$10\r\nabc") == parser::status::need_more));
  BOOST_TEST(p.missing() == 9u);  // 7 bytes of the value and its CRLF
}

BOOST_AUTO_TEST_CASE(inline_commands_with_redis_quoting) {
  auto cmds = parse_all("PING\r\nset k \"a b\\x41\\n\" 'it\\'s'\n\r\n   \nGET   k\n");
  BOOST_REQUIRE(cmds.size() == 3u);
  BOOST_TEST((cmds[0] == args{"PING"}));
  BOOST_TEST((cmds[1] == args{"set", "k", "a bA\n", "it's"}));
  BOOST_TEST((cmds[2] == args{"GET", "k"}));
}

BOOST_AUTO_TEST_CASE(empty_multibulks_are_skipped) {
  auto cmds = parse_all("*0\r\n*-1\r\n" + multibulk({"PING"}));
  BOOST_REQUIRE(cmds.size() == 1u);
  BOOST_TEST((cmds[0] == args{"PING"}));
}

BOOST_AUTO_TEST_CASE(protocol_errors_are_redis_texts) {
  BOOST_TEST(error_of("*1\r\n+x\r\n") == "Protocol error: expected '$', got '+'");
  BOOST_TEST(error_of("*1\r\n$-3\r\n") == "Protocol error: invalid bulk length");
  BOOST_TEST(error_of("*1\r\n$abc\r\n") == "Protocol error: invalid bulk length");
  BOOST_TEST(error_of("*x\r\n") == "Protocol error: invalid multibulk length");
  BOOST_TEST(error_of("set k \"unterminated\n") == "Protocol error: unbalanced quotes in request");
  BOOST_TEST(error_of("set k \"a\"b\n") == "Protocol error: unbalanced quotes in request");
  parser_limits small;
  small.max_bulk_bytes = 100;
  small.max_args = 3;
  small.max_inline_bytes = 16;
  // A 512 MB header is refused when it arrives, before any of the value is buffered.
  BOOST_TEST(error_of("*1\r\n$536870912\r\n", small) == "Protocol error: invalid bulk length");
  BOOST_TEST(error_of("*4\r\n", small) == "Protocol error: invalid multibulk length");
  BOOST_TEST(error_of(std::string(17, 'a'), small) == "Protocol error: too big inline request");
  BOOST_TEST(error_of("*1" + std::string(17, '1'), small) == "Protocol error: too big mbulk count string");
  BOOST_TEST(error_of("*1\r\n$1" + std::string(17, '1'), small) == "Protocol error: too big bulk count string");
}

// Random commands, encoded and cut into random pieces as a socket might deliver them: the
// commands parsed, whatever the cuts, are the commands sent.
BOOST_AUTO_TEST_CASE(random_commands_survive_random_cuts) {
  std::mt19937_64 rng(42);
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  for (int round = 0; round < 300; ++round) {
    std::vector<args> sent;
    std::string bytes;
    for (auto n = 1 + pick(8); n > 0; --n) {
      args a;
      for (auto k = 1 + pick(5); k > 0; --k) {
        std::string arg;
        for (auto len = pick(40); len > 0; --len) arg.push_back(static_cast<char>(pick(256)));
        a.push_back(arg);
      }
      bytes += multibulk(a);
      sent.push_back(std::move(a));
    }
    parser p;
    std::string buffer;
    std::vector<args> got;
    std::size_t fed = 0;
    while (fed < bytes.size()) {
      const auto piece = 1 + pick(std::min<std::size_t>(64, bytes.size() - fed));
      buffer.append(bytes, fed, piece);
      fed += piece;
      for (;;) {
        auto s = p.next(buffer);
        if (s == parser::status::need_more) break;
        BOOST_REQUIRE_MESSAGE(s == parser::status::command, p.error());
        got.emplace_back(p.args().begin(), p.args().end());
        buffer.erase(0, p.consumed());
      }
    }
    BOOST_TEST(buffer.empty());
    BOOST_REQUIRE(got == sent);
  }
}

BOOST_AUTO_TEST_SUITE_END()
