#include "apps/kvnode/log_file_sink.hpp"

#include <spdlog/common.h>

#include <cerrno>

namespace kv::logging {

log_file_sink::log_file_sink(std::filesystem::path path) : path_(std::move(path)) {
  std::error_code ec;
  file_ = open(ec);
  if (!file_) throw std::system_error(ec);
}

log_file_sink::file_ptr log_file_sink::open(std::error_code& ec) const {
  if (path_.has_parent_path()) {
    std::filesystem::create_directories(path_.parent_path(), ec);
    if (ec) return nullptr;
  }
  file_ptr f(std::fopen(path_.c_str(), "ae"));  // "e": O_CLOEXEC
  if (!f) ec = std::error_code(errno, std::system_category());
  return f;
}

std::error_code log_file_sink::reopen() {
  std::lock_guard lock(mutex_);
  std::error_code ec;
  auto fresh = open(ec);
  if (!fresh) return ec;
  file_ = std::move(fresh);  // closing the old file flushes it
  return {};
}

void log_file_sink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t line;
  formatter_->format(msg, line);
  if (std::fwrite(line.data(), 1, line.size(), file_.get()) != line.size()) {
    throw spdlog::spdlog_ex("cannot write to the log file " + path_.string(), errno);
  }
}

void log_file_sink::flush_() { std::fflush(file_.get()); }

}  // namespace kv::logging
