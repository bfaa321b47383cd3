#pragma once
// Skipping a whole test executable where something it needs is missing (root, nft, a file
// system feature): it prints why and exits with skip_exit_code before any test runs, which ctest
// reports as skipped (SKIP_RETURN_CODE 77 in test/CMakeLists.txt) rather than passed.

#include "harness/partitions.hpp"

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

}  // namespace kv::test
