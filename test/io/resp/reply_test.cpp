// RESP replies, byte for byte as Redis 7 sends them, in RESP2 and RESP3.

#include "io/resp/reply.hpp"

#include <boost/test/unit_test.hpp>

#include <limits>

using namespace kv::resp;
using namespace std::string_literals;

BOOST_AUTO_TEST_SUITE(resp_reply)

BOOST_AUTO_TEST_CASE(resp2_values) {
  std::string out;
  reply r(out);
  r.simple("OK");
  r.error("ERR wrong number of arguments for 'get' command");
  r.integer(-42);
  r.integer(std::numeric_limits<std::int64_t>::min());
  r.bulk(std::string_view("a\0b", 3));
  r.bulk("");
  r.null();
  r.null_array();
  r.array(2);
  r.map(1);
  r.boolean(true);
  r.real(1.5);
  BOOST_TEST(out == "+OK\r\n-ERR wrong number of arguments for 'get' command\r\n:-42\r\n"
                    ":-9223372036854775808\r\n$3\r\na\0b\r\n$0\r\n\r\n$-1\r\n*-1\r\n*2\r\n*2\r\n:1\r\n"
                    "$3\r\n1.5\r\n"s);
}

BOOST_AUTO_TEST_CASE(resp3_values) {
  std::string out;
  reply r(out, version::resp3);
  r.null();
  r.null_array();
  r.map(2);
  r.set(3);
  r.boolean(false);
  r.real(-std::numeric_limits<double>::infinity());
  r.push(3);
  BOOST_TEST(out == "_\r\n_\r\n%2\r\n~3\r\n#f\r\n,-inf\r\n>3\r\n");
}

// INFO's and CLIENT LIST's text: a verbatim string of format txt in RESP3, a bulk string in RESP2.
BOOST_AUTO_TEST_CASE(verbatim_text) {
  std::string out;
  reply r(out, version::resp3);
  r.verbatim_text("a:1\r\n");
  BOOST_TEST(out == "=9\r\ntxt:a:1\r\n\r\n");
  out.clear();
  reply r2(out, version::resp2);
  r2.verbatim_text("a:1\r\n");
  BOOST_TEST(out == "$5\r\na:1\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(error_texts_lose_their_line_breaks) {
  std::string out;
  reply r(out);
  r.error("ERR bad\r\nthing");
  BOOST_TEST(out == "-ERR bad  thing\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
