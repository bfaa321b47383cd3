#include "apps/kvnode/logging.hpp"

#include "apps/kvnode/log_formatter.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>

namespace kv::logging {

node_log::node_log(const log_config& cfg, std::uint64_t node_id) {
  spdlog::sink_ptr sink;
  if (cfg.file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  } else {
    file_ = std::make_shared<log_file_sink>(cfg.file);
    sink = file_;
  }
  auto logger = std::make_shared<spdlog::logger>("kvnode", std::move(sink));
  logger->set_formatter(std::make_unique<log_formatter>(cfg.format, node_id));
  logger->set_level(spdlog::level::from_str(cfg.level));  // validated by the config parser
  logger->flush_on(spdlog::level::info);                  // lifecycle lines reach the file at once
  spdlog::set_default_logger(std::move(logger));
  spdlog::flush_every(std::chrono::seconds(1));
}

void node_log::reopen() {
  if (!file_) {
    spdlog::info("received SIGHUP: the log goes to standard error, no log file to reopen");
    return;
  }
  spdlog::info("received SIGHUP: reopening the log file {}", file_->path().string());
  if (auto ec = file_->reopen()) {
    spdlog::error("cannot reopen the log file {}: {}; still writing to the file opened before", file_->path().string(),
                  ec.message());
    return;
  }
  spdlog::info("reopened the log file {} after SIGHUP", file_->path().string());
}

}  // namespace kv::logging
