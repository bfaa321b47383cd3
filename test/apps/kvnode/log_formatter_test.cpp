#include "apps/kvnode/log_formatter.hpp"

#include "support/json_object.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using namespace std::chrono_literals;

namespace {

// 2026-12-02T20:15:01.123Z
const auto example_time = std::chrono::sys_days{std::chrono::year{2026} / 12 / 2} + 20h + 15min + 1s + 123ms;

std::string line_of(kv::logging::log_formatter& f, std::string_view message,
                    spdlog::level::level_enum level = spdlog::level::info,
                    std::chrono::system_clock::time_point time = example_time) {
  spdlog::details::log_msg msg(time, spdlog::source_loc{}, "kvnode", level, message);
  spdlog::memory_buf_t out;
  f.format(msg, out);
  return {out.data(), out.size()};
}

std::string line_of(kv::log_format format, std::string_view message,
                    spdlog::level::level_enum level = spdlog::level::info) {
  kv::logging::log_formatter f(format, 7);
  return line_of(f, message, level);
}

std::string escaped(std::string_view text) {
  spdlog::memory_buf_t out;
  kv::logging::append_json_escaped(text, out);
  return {out.data(), out.size()};
}

const std::string replacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

BOOST_AUTO_TEST_SUITE(log_formatter)

BOOST_AUTO_TEST_CASE(text_lines_have_utc_time_with_a_z_and_the_configs_level_names) {
  BOOST_TEST(line_of(kv::log_format::text, "disk is slow", spdlog::level::warn) ==
             "2026-12-02T20:15:01.123Z warn  disk is slow\n");
  BOOST_TEST(line_of(kv::log_format::text, "up", spdlog::level::info) == "2026-12-02T20:15:01.123Z info  up\n");
  BOOST_TEST(line_of(kv::log_format::text, "gone", spdlog::level::critical) ==
             "2026-12-02T20:15:01.123Z critical gone\n");
  // Every level a line can carry is spelled as [log] level takes it.
  for (auto level : {spdlog::level::trace, spdlog::level::debug, spdlog::level::info, spdlog::level::warn,
                     spdlog::level::err, spdlog::level::critical}) {
    auto name = std::string(kv::log_level_names[static_cast<std::size_t>(level)]);
    BOOST_TEST(kv::is_log_level(name));
    BOOST_TEST(line_of(kv::log_format::text, "m", level).starts_with("2026-12-02T20:15:01.123Z " + name + " "));
    auto members = kv::test::parse_json_object(line_of(kv::log_format::json, "m", level));
    BOOST_REQUIRE(members.has_value());
    BOOST_TEST(members->at("level") == name);
  }
}

BOOST_AUTO_TEST_CASE(a_colour_sink_paints_the_level_name) {
  kv::logging::log_formatter f(kv::log_format::text, 1);
  spdlog::details::log_msg msg(example_time, spdlog::source_loc{}, "kvnode", spdlog::level::err, "m");
  spdlog::memory_buf_t out;
  f.format(msg, out);
  std::string line(out.data(), out.size());
  BOOST_TEST(line.substr(msg.color_range_start, msg.color_range_end - msg.color_range_start) == "error");
}

BOOST_AUTO_TEST_CASE(the_time_follows_each_message_across_seconds) {
  kv::logging::log_formatter f(kv::log_format::text, 1);
  BOOST_TEST(line_of(f, "a").starts_with("2026-12-02T20:15:01.123Z "));
  BOOST_TEST(line_of(f, "b", spdlog::level::info, example_time + 877ms).starts_with("2026-12-02T20:15:02.000Z "));
  BOOST_TEST(line_of(f, "c", spdlog::level::info, example_time + 877ms + 4h).starts_with("2026-12-03T00:15:02.000Z "));
  BOOST_TEST(line_of(f, "d", spdlog::level::info, example_time - 124ms).starts_with("2026-12-02T20:15:00.999Z "));
}

BOOST_AUTO_TEST_CASE(json_lines_carry_time_level_node_and_message) {
  BOOST_TEST(line_of(kv::log_format::json, "say \"hi\"", spdlog::level::warn) ==
             R"({"ts":"2026-12-02T20:15:01.123Z","level":"warn","node":7,"msg":"say \"hi\""})" "\n");
}

BOOST_AUTO_TEST_CASE(json_escapes) {
  BOOST_TEST(escaped(R"(a"b\c/d)") == R"(a\"b\\c/d)");
  BOOST_TEST(escaped("\n\r\t\b\f") == R"(\n\r\t\b\f)");
  BOOST_TEST(escaped(std::string("a\0b", 3)) == R"(a\u0000b)");
  BOOST_TEST(escaped("\x01\x1f\x7f") == R"(\u0001\u001f\u007f)");
  BOOST_TEST(escaped("na\xC3\xAFve \xE2\x9C\x93 \xF0\x9F\x98\x80") == "na\xC3\xAFve \xE2\x9C\x93 \xF0\x9F\x98\x80");
  BOOST_TEST(escaped("\xEF\xBF\xBF\xF4\x8F\xBF\xBF") == "\xEF\xBF\xBF\xF4\x8F\xBF\xBF");  // U+FFFF, U+10FFFF
  // Bytes that are not UTF-8: each becomes U+FFFD and what follows is kept.
  BOOST_TEST(escaped("\xFF") == replacement);
  BOOST_TEST(escaped("a\xC3") == "a" + replacement);                                   // truncated at the end
  BOOST_TEST(escaped("\xE2\x82x") == replacement + replacement + "x");                 // truncated in the middle
  BOOST_TEST(escaped("\xC0\xAF") == replacement + replacement);                        // overlong '/'
  BOOST_TEST(escaped("\xE0\x80\xAF") == replacement + replacement + replacement);      // overlong '/'
  BOOST_TEST(escaped("\xED\xA0\x80") == replacement + replacement + replacement);      // surrogate U+D800
  BOOST_TEST(escaped("\xF4\x90\x80\x80") == replacement + replacement + replacement + replacement);  // > U+10FFFF
  BOOST_TEST(escaped("\x80\"") == replacement + "\\\"");                               // lone continuation byte
}

// Whatever the message holds, the line is one JSON object a strict reader accepts, and a
// message that was UTF-8 reads back unchanged.
BOOST_AUTO_TEST_CASE(every_line_is_valid_json) {
  std::vector<std::string> utf8{"", "plain", "\"\\\"", "tab\there\nnewline", "\xF0\x9F\x98\x80 emoji"};
  for (int b = 0; b < 0x80; ++b) utf8.push_back("<" + std::string(1, static_cast<char>(b)) + ">");
  std::vector<std::string> not_utf8;
  for (int b = 0x80; b < 0x100; ++b) not_utf8.push_back("<" + std::string(1, static_cast<char>(b)) + ">");
  for (int b = 0xC2; b < 0xF5; ++b) not_utf8.push_back(std::string(1, static_cast<char>(b)) + "\x80\x80\x80\x80");
  auto members_of = [](const std::string& message) {
    auto line = line_of(kv::log_format::json, message);
    BOOST_TEST(line.find('\n') == line.size() - 1, line);
    std::string why;
    auto members = kv::test::parse_json_object(std::string_view(line).substr(0, line.size() - 1), &why);
    BOOST_TEST(members.has_value(), why << " in " << line);
    if (members) {
      BOOST_TEST(members->at("ts") == "2026-12-02T20:15:01.123Z");
      BOOST_TEST(members->at("node") == "7");
    }
    return members;
  };
  for (const auto& m : utf8) {
    auto members = members_of(m);
    if (members) BOOST_TEST(members->at("msg") == m);
  }
  for (const auto& m : not_utf8) members_of(m);
}

BOOST_AUTO_TEST_SUITE_END()
