#pragma once
// The log file, reopened at its path on request (log rotation).

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <system_error>

namespace kv::logging {

// Appends formatted lines to the file at `path`, creating it (and its parent directories) if
// needed. reopen() opens the path anew, so that after logrotate renamed the file away, lines go
// to a fresh file at the configured path. Thread-safe: every member runs under base_sink's lock.
class log_file_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // Throws std::system_error (what(): the reason) if the file cannot be opened.
  explicit log_file_sink(std::filesystem::path path);

  // Writes to a newly opened file at path() from now on. If the path cannot be opened, keeps
  // writing to the file it has and returns why.
  std::error_code reopen();

  const std::filesystem::path& path() const { return path_; }

 protected:
  // Throws spdlog::spdlog_ex if the write fails (spdlog's error handler reports it).
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  struct closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  using file_ptr = std::unique_ptr<std::FILE, closer>;

  // The file at path_, opened for appending (close-on-exec), or the error.
  file_ptr open(std::error_code& ec) const;

  const std::filesystem::path path_;
  file_ptr file_;
};

}  // namespace kv::logging
