#include "apps/kvnode/logging.hpp"

#include "apps/kvnode/log_formatter.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>

namespace kv::logging {

void install_log(const log_config& cfg, std::uint64_t node_id) {
  spdlog::sink_ptr sink;
  if (cfg.file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(cfg.file);
  }
  auto logger = std::make_shared<spdlog::logger>("kvnode", std::move(sink));
  logger->set_formatter(std::make_unique<log_formatter>(cfg.format, node_id));
  logger->set_level(spdlog::level::from_str(cfg.level));  // validated by the config parser
  logger->flush_on(spdlog::level::info);                  // lifecycle lines reach the file at once
  spdlog::set_default_logger(std::move(logger));
  spdlog::flush_every(std::chrono::seconds(1));
}

}  // namespace kv::logging
