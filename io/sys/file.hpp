#pragma once
// Small POSIX file helpers: an owning file descriptor, directory listing and syncing, an
// exclusive lock on a data directory, and read-only mappings for recovery.
//
// Errors are thrown as std::system_error naming the path: these run at startup, where the
// caller turns them into a clear message and an exit code.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace kv::io {

class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
  unique_fd& operator=(unique_fd&& o) noexcept;
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// open(2) that throws std::system_error("<what> <path>") on failure.
unique_fd open_file(const std::filesystem::path& path, int flags, unsigned mode = 0644);
unique_fd open_directory(const std::filesystem::path& path);

// fsync(2) of a directory, so that created, renamed and deleted entries are durable.
void sync_directory(const std::filesystem::path& path);

// Names of the regular files in `dir` that start with `prefix` and end with `suffix`, sorted.
std::vector<std::string> list_files(const std::filesystem::path& dir, std::string_view prefix,
                                    std::string_view suffix);

// Holds an exclusive flock(2) on <dir>/LOCK for the life of the object. Throws
// std::runtime_error naming the directory (and the holder's pid when known) if another process
// holds it.
class directory_lock {
 public:
  explicit directory_lock(const std::filesystem::path& dir);

 private:
  unique_fd fd_;
};

// A read-only private mapping of a whole file (empty files map to an empty span).
class mapped_file {
 public:
  explicit mapped_file(const std::filesystem::path& path);
  mapped_file(mapped_file&& o) noexcept;
  mapped_file& operator=(mapped_file&&) = delete;
  ~mapped_file();

  std::span<const char> data() const noexcept { return {data_, size_}; }
  std::size_t size() const noexcept { return size_; }

 private:
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

// pwrite(2) of the whole buffer or throws. For startup repairs, not for the write path.
void write_all_at(int fd, std::string_view data, std::uint64_t offset, const std::filesystem::path& path);

}  // namespace kv::io
