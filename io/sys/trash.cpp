#include "io/sys/trash.hpp"

#include "io/sys/file.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kv::io {

trash::trash(const std::filesystem::path& dir, options o) : dir_(dir), opts_(o) {
  for (const auto& name : list_files(dir_, "", suffix)) queue_.push_back(dir_ / name);
  if (!queue_.empty()) spdlog::info("{} file(s) left in the trash of {}: deleting them", queue_.size(), dir_.string());
  thread_ = std::thread([this] { run(); });
}

trash::~trash() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  // What is left goes at once: a node that stops has no writes to keep waiting.
  for (const auto& path : queue_) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("cannot delete {}: {}", path.string(), std::strerror(errno));
    }
  }
}

void trash::add(std::string_view name) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(dir_ / trash_name(name));
  }
  wake_.notify_all();
}

std::size_t trash::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size() + (busy_ ? 1 : 0);
}

std::uint64_t trash::freed_bytes() const {
  std::lock_guard lock(mutex_);
  return freed_;
}

void trash::run() {
  pthread_setname_np(pthread_self(), "kv-trash");
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    auto path = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    bool done = shred(path);
    lock.lock();
    busy_ = false;
    if (!done) {
      queue_.push_front(std::move(path));  // the destructor unlinks it
      return;
    }
  }
}

bool trash::shred(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) spdlog::warn("cannot open {} to delete it: {}", path.string(), std::strerror(errno));
  } else {
    unique_fd file(fd);
    struct stat st {};
    std::uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    while (size > 0) {
      {
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, opts_.pause, [&] { return stopping_; })) return false;
      }
      const auto cut = std::min(size, opts_.chunk_bytes);
      if (::ftruncate(fd, static_cast<off_t>(size - cut)) != 0 || ::fdatasync(fd) != 0) {
        spdlog::warn("cannot shorten {} to delete it a slice at a time: {}; deleting it at once", path.string(),
                     std::strerror(errno));
        break;
      }
      size -= cut;
      std::lock_guard lock(mutex_);
      freed_ += cut;
    }
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("cannot delete {}: {}", path.string(), std::strerror(errno));
  }
  return true;
}

}  // namespace kv::io
