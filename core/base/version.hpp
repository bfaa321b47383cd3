#pragma once
// kvnode's version, from the project() line of the top-level CMakeLists.txt: every binary and the
// status report print this one string.

#include <string_view>

namespace kv {

inline constexpr std::string_view version = KV_VERSION;

}  // namespace kv
