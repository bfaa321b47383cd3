#pragma once
// Skipping a whole test executable where something it needs is missing (root, nft, a file
// system feature): it prints why and exits with skip_exit_code before any test runs, which ctest
// reports as skipped (SKIP_RETURN_CODE 77 in test/CMakeLists.txt) rather than passed.

#include "harness/partitions.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace kv::test {

inline constexpr int skip_exit_code = 77;

[[noreturn]] inline void skip_executable(const std::string& why) {
  std::printf("SKIPPED: %s\n", why.c_str());
  std::fflush(stdout);
  std::_Exit(skip_exit_code);
}

// A global fixture (BOOST_TEST_GLOBAL_FIXTURE(require_nft)) for executables that partition
// clusters: skips them where nftables cannot be used.
struct require_nft {
  require_nft() {
    if (const auto& why = harness::firewall::unusable_reason(); !why.empty()) skip_executable(why);
  }
};

// A precondition (BOOST_AUTO_TEST_CASE(name, *boost::unit_test::precondition(nft_usable))) for
// one test case that partitions clusters, in an executable whose other cases run anyway: where
// nftables cannot be used the case is skipped, and prints why ("SKIPPED: <case>: <reason>"),
// which ctest reports as skipped for an entry that runs the case alone (SKIP_REGULAR_EXPRESSION
// "SKIPPED: " in test/CMakeLists.txt). Boost.Test itself logs skips only at --log_level=test_suite.
inline boost::test_tools::assertion_result nft_usable(boost::unit_test::test_unit_id id) {
  const auto& why = harness::firewall::unusable_reason();
  if (why.empty()) return true;
  std::printf("SKIPPED: %s: %s\n", boost::unit_test::framework::get(id, boost::unit_test::TUT_ANY).full_name().c_str(),
              why.c_str());
  std::fflush(stdout);
  boost::test_tools::assertion_result skipped(false);
  skipped.message() << why;
  return skipped;
}

}  // namespace kv::test
