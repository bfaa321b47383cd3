#include "core/base/fail_stop.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace kv {

void fail_stop(const std::string& what) {
  spdlog::critical("fatal: {}; stopping the node (fail-stop) to protect acknowledged data", what);
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  std::_Exit(fail_stop_exit_code);
}

}  // namespace kv
