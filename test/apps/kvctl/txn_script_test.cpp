// kvctl txn's input: etcdctl's compare and op syntax, the sections, and errors naming the line.

#include "apps/kvctl/txn_script.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using namespace kv::kvctl;

namespace {

kv::txn parsed(std::string_view text, byte_notation notation = byte_notation::text) {
  auto t = parse_txn_script(text, notation);
  BOOST_REQUIRE_MESSAGE(t.ok(), t.message());
  return *t;
}

std::string error_of(std::string_view text) {
  auto t = parse_txn_script(text, byte_notation::text);
  BOOST_REQUIRE(!t.ok());
  BOOST_TEST((t.error() == kv::make_error_code(kv::errc::bad_request)));
  return t.message();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kvctl_txn_script)

BOOST_AUTO_TEST_CASE(compares_then_ops_then_else_ops) {
  auto t = parsed(
      "value(\"k\") = \"v\"\n"
      "version(\"k\") > \"3\"\n"
      "create(\"n\") = \"0\"\n"
      "mod(\"k\") < \"10\"\n"
      "val(\"k\") != \"w\"\n"
      "\n"
      "put k v2\n"
      "get a b --limit 2\n"
      "\n"
      "del --prefix p --prev-kv\n"
      "incr counter -5\n");
  BOOST_TEST_REQUIRE(t.compares.size() == 5u);
  BOOST_TEST(t.compares[0].key == "k");
  BOOST_TEST((t.compares[0].target == kv::compare_target::value));
  BOOST_TEST((t.compares[0].op == kv::compare_op::equal));
  BOOST_TEST(t.compares[0].value == "v");
  BOOST_TEST((t.compares[1].target == kv::compare_target::version));
  BOOST_TEST((t.compares[1].op == kv::compare_op::greater));
  BOOST_TEST(t.compares[1].number == 3u);
  BOOST_TEST((t.compares[2].target == kv::compare_target::create_revision));
  BOOST_TEST(t.compares[2].number == 0u);
  BOOST_TEST((t.compares[3].target == kv::compare_target::mod_revision));
  BOOST_TEST((t.compares[3].op == kv::compare_op::less));
  BOOST_TEST((t.compares[4].op == kv::compare_op::not_equal));

  BOOST_TEST_REQUIRE(t.then_ops.size() == 2u);
  BOOST_TEST((t.then_ops[0].type == kv::txn_op_type::put));
  BOOST_TEST(t.then_ops[0].value == "v2");
  BOOST_TEST((t.then_ops[1].type == kv::txn_op_type::range));
  BOOST_TEST(t.then_ops[1].end == "b");
  BOOST_TEST(t.then_ops[1].limit == 2u);

  BOOST_TEST_REQUIRE(t.else_ops.size() == 2u);
  BOOST_TEST((t.else_ops[0].type == kv::txn_op_type::delete_range));
  BOOST_TEST(t.else_ops[0].key == "p");
  BOOST_TEST(t.else_ops[0].end == "q");
  BOOST_TEST(t.else_ops[0].flags == kv::op_prev_kv);
  BOOST_TEST((t.else_ops[1].type == kv::txn_op_type::incr));
  BOOST_TEST(t.else_ops[1].delta == -5);
}

BOOST_AUTO_TEST_CASE(sections_may_be_empty_and_the_input_may_end_early) {
  auto no_compares = parsed("\nput k v\n");
  BOOST_TEST(no_compares.compares.empty());
  BOOST_TEST(no_compares.then_ops.size() == 1u);
  BOOST_TEST(no_compares.else_ops.empty());

  auto only_else = parsed("value(\"k\") = \"v\"\n\n\nget k");  // no newline at the end
  BOOST_TEST(only_else.then_ops.empty());
  BOOST_TEST(only_else.else_ops.size() == 1u);

  auto spaces = parsed("  mod(\"k\")>\"1\"  \n \t \nput k v\r\n\n\n");  // a line of spaces is blank
  BOOST_TEST(spaces.compares.size() == 1u);
  BOOST_TEST(spaces.then_ops.size() == 1u);
  BOOST_TEST(spaces.then_ops[0].value == "v");
}

BOOST_AUTO_TEST_CASE(quotes_and_escapes_as_etcdctl) {
  auto t = parsed(
      "value(\"a \\\"b\\\"\\n\\x00\\u00e9\\101\") = \"\"\n"
      "\n"
      "put \"key with spaces\" 'single \\n as is'\n"
      "put k \"\"\n");
  BOOST_TEST(t.compares[0].key == std::string("a \"b\"\n\0\xc3\xa9"
                                              "A",
                                              10));
  BOOST_TEST(t.compares[0].value.empty());
  BOOST_TEST(t.then_ops[0].key == "key with spaces");
  BOOST_TEST(t.then_ops[0].value == "single \\n as is");
  BOOST_TEST(t.then_ops[1].value.empty());
}

BOOST_AUTO_TEST_CASE(hex_keys_and_values) {
  auto t = parsed("value(\"6b00\") = \"ff\"\n\nput 6b00 00\nget 6b --prefix\n", byte_notation::hex);
  BOOST_TEST(t.compares[0].key == std::string("k\0", 2));
  BOOST_TEST(t.compares[0].value == "\xff");
  BOOST_TEST(t.then_ops[0].value == std::string(1, '\0'));
  BOOST_TEST(t.then_ops[1].end == "l");
}

BOOST_AUTO_TEST_CASE(ttl_ops) {
  auto t = parsed("\nput k v --ttl 30s\nexpire e 2m\npersist p\nttl q\n\nput k v --keep-ttl\n");
  BOOST_TEST_REQUIRE(t.then_ops.size() == 4u);
  BOOST_TEST(t.then_ops[0].flags == kv::op_ttl);
  BOOST_TEST(t.then_ops[0].ttl_ms == 30'000);
  BOOST_TEST((t.then_ops[1].type == kv::txn_op_type::expire));
  BOOST_TEST(t.then_ops[1].ttl_ms == 120'000);
  BOOST_TEST((t.then_ops[2].type == kv::txn_op_type::expire));
  BOOST_TEST(t.then_ops[2].ttl_ms == 0);
  BOOST_TEST((t.then_ops[3].type == kv::txn_op_type::ttl));
  BOOST_TEST(t.then_ops[3].key == "q");
  BOOST_TEST_REQUIRE(t.else_ops.size() == 1u);
  BOOST_TEST(t.else_ops[0].flags == kv::op_keep_ttl);
}

BOOST_AUTO_TEST_CASE(errors_name_the_line) {
  BOOST_TEST(error_of("put k v\n").starts_with("txn: line 1: not a compare"));
  BOOST_TEST(error_of("value(\"k\") = \"v\"\nlease(\"k\") = \"1\"\n")
                 .starts_with("txn: line 2: unknown compare target \"lease\""));
  BOOST_TEST(error_of("value(\"k\") == \"v\"\n").starts_with("txn: line 1: expected a double-quoted string"));
  BOOST_TEST(error_of("value(k) = \"v\"\n").starts_with("txn: line 1: expected a double-quoted string"));
  BOOST_TEST(error_of("version(\"k\") = \"x\"\n") ==
             "txn: line 1: version: the operand takes a non-negative integer, got \"x\"");
  BOOST_TEST(error_of("version(\"k\") = 3\n").starts_with("txn: line 1: expected a double-quoted string"));
  BOOST_TEST(error_of("value(\"k\") = \"v\" extra\n").starts_with("txn: line 1: text after the operand"));
  BOOST_TEST(error_of("value(\"k) = \"v\"\n").starts_with("txn: line 1: "));
  BOOST_TEST(error_of("value(\"\\q\") = \"v\"\n") == "txn: line 1: unknown escape \\q");
  BOOST_TEST(error_of("\nput k\n") == "txn: line 2: put takes KEY VALUE");
  BOOST_TEST(error_of("\nput k v\nfrob k\n") ==
             "txn: line 3: unknown op \"frob\": put, get, del, incr, expire, persist or ttl");
  BOOST_TEST(error_of("\nput k v --keep-ttl --ttl 5s\n") ==
             "txn: line 2: put: --ttl and --keep-ttl cannot be combined");
  BOOST_TEST(error_of("\nexpire k 0s\n") == "txn: line 2: expire: DURATION must be at least 1ms, got \"0s\"");
  BOOST_TEST(error_of("\nttl k --ms\n") == "txn: line 2: ttl: unknown option \"--ms\"");
  BOOST_TEST(error_of("\n\nget k --stale\n") == "txn: line 3: get: unknown option \"--stale\"");
  BOOST_TEST(error_of("\nincr k x\n") == "txn: line 2: incr: BY must be a decimal 64-bit integer, got \"x\"");
  BOOST_TEST(error_of("\nput \"k v\n") == "txn: line 2: a double-quoted string does not end");
  BOOST_TEST(error_of("\nput 'k v\n") == "txn: line 2: a single-quoted word does not end");
  BOOST_TEST(error_of("\nput \"k\"x v\n") == "txn: line 2: a closing quote must end its word");
  BOOST_TEST(error_of("\nput k v\n\nput k w\n\nput k x\n") ==
             "txn: line 6: text after the else ops (their section ends at a blank line)");
  BOOST_TEST(error_of("\nput \"\" v\n") == "txn: line 2: put: a KEY cannot be empty");
  BOOST_TEST(error_of("").starts_with("txn: the input holds no compares and no ops"));
  BOOST_TEST(error_of("\n\n\n").starts_with("txn: the input holds no compares and no ops"));
}

BOOST_AUTO_TEST_SUITE_END()
