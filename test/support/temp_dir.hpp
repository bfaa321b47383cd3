#pragma once
// Unit tests name the harness's temp_dir (test/harness/temp_dir.hpp) kv::test::temp_dir.

#include "harness/temp_dir.hpp"

namespace kv::test {

using harness::temp_dir;

}  // namespace kv::test
