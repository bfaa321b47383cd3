#include "apps/kvnode/huge_pages.hpp"

#include <sys/prctl.h>

#include <cerrno>

namespace kv::heap {

bool huge_pages_allowed() { return prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 0; }

std::error_code disable_huge_pages() {
  if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) return {errno, std::system_category()};
  return {};
}

}  // namespace kv::heap
