#include "core/base/units.hpp"

#include <boost/test/unit_test.hpp>

using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(units)

BOOST_AUTO_TEST_CASE(sizes) {
  BOOST_TEST(*kv::parse_size("64MiB") == 64ull << 20);
  BOOST_TEST(*kv::parse_size("512B") == 512u);
  BOOST_TEST(*kv::parse_size("4KiB") == 4096u);
  BOOST_TEST(*kv::parse_size("1.5GiB") == 3ull << 29);
  BOOST_TEST(*kv::parse_size("10MB") == 10'000'000u);
  BOOST_TEST(*kv::parse_size("1TiB") == 1ull << 40);
}

BOOST_AUTO_TEST_CASE(bad_sizes) {
  for (const char* bad : {"", "64", "MiB", "64 MiB", "-1KiB", "64mib", "64XB", "1.5B", "1e3B", "0x10B", "64MiB "}) {
    BOOST_TEST(!kv::parse_size(bad).has_value(), "accepted \"" << bad << "\"");
  }
}

BOOST_AUTO_TEST_CASE(durations) {
  BOOST_TEST((*kv::parse_duration("100ms") == 100ms));
  BOOST_TEST((*kv::parse_duration("1.5s") == 1500ms));
  BOOST_TEST((*kv::parse_duration("250us") == 250us));
  BOOST_TEST((*kv::parse_duration("2m") == 120s));
  BOOST_TEST((*kv::parse_duration("1h") == 3600s));
  BOOST_TEST((*kv::parse_duration("7ns") == 7ns));
}

BOOST_AUTO_TEST_CASE(bad_durations) {
  for (const char* bad : {"", "100", "ms", "10 ms", "-5s", "5sec", "1.5ns", "5S"}) {
    BOOST_TEST(!kv::parse_duration(bad).has_value(), "accepted \"" << bad << "\"");
  }
}

BOOST_AUTO_TEST_CASE(formatting_round_trips) {
  BOOST_TEST(kv::format_size(64ull << 20) == "64MiB");
  BOOST_TEST(kv::format_size(1000) == "1000B");
  BOOST_TEST(kv::format_duration(1500ms) == "1500ms");
  BOOST_TEST(kv::format_duration(2s) == "2s");
  for (std::uint64_t v : {1ull, 4096ull, 3ull << 29, 12345ull}) BOOST_TEST(*kv::parse_size(kv::format_size(v)) == v);
}

BOOST_AUTO_TEST_SUITE_END()
