#pragma once
// io_uring for file I/O, driven from an Asio event loop.
//
// The ring signals completions through an eventfd that the event loop reads (eventfd_reader.hpp:
// no epoll_ctl per wait), so every operation is an awaitable that never blocks the event-loop
// thread: the kernel runs blocking work (fdatasync, unlink) on its own io-wq workers.
//
// Threading: a uring belongs to one executor (one thread). All member functions must be called
// from that thread; completions resume their callers there.

#include "io/sys/completion.hpp"
#include "io/sys/eventfd_reader.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <liburing.h>
#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kv::io {

// The kinds of operation a test can make fail (see uring::inject_failure).
enum class op_kind : std::uint8_t { write, fdatasync, fsync, writeback, any };

class uring {
 public:
  // queue_depth: submission queue entries. Any number of operations may be in flight: the
  // submission queue is flushed when full, and completions that overflow the completion queue
  // are collected from the kernel.
  explicit uring(asio::any_io_executor executor, unsigned queue_depth = 64);
  ~uring();
  uring(const uring&) = delete;
  uring& operator=(const uring&) = delete;

  asio::any_io_executor executor() noexcept { return completions_.get_executor(); }

  // Each call returns what the system call would: bytes or 0 on success, -errno on failure.
  // A write shorter than requested is returned as is; callers treat it as an error.

  // Writes `bufs` at `offset` of `fd`.
  asio::awaitable<int> write(int fd, std::span<const iovec> bufs, std::uint64_t offset);
  // Writes `bufs` at `offset`, then fdatasync(fd), as one linked submission. Returns the
  // fdatasync result, or the write's (short count or -errno) if the write did not complete.
  asio::awaitable<int> write_and_datasync(int fd, std::span<const iovec> bufs, std::uint64_t offset);
  asio::awaitable<int> fdatasync(int fd);
  asio::awaitable<int> fsync(int fd);
  // Writes [offset, offset + length) back and waits until it is on the device (SYNC_FILE_RANGE_
  // WAIT_BEFORE | WRITE | WAIT_AFTER): spreads the flushing of a large file over its writing and
  // bounds how much of it queues at the device at once. Not a durability barrier: no metadata,
  // no cache flush.
  asio::awaitable<int> write_back(int fd, std::uint64_t offset, std::uint64_t length);
  asio::awaitable<int> openat(int dir_fd, std::string path, int flags, unsigned mode);
  asio::awaitable<int> unlinkat(int dir_fd, std::string path);
  asio::awaitable<int> renameat(int dir_fd, std::string from, std::string to);

  // Test hook: the next operation of `kind` fails with -error instead of running.
  void inject_failure(op_kind kind, int error) noexcept {
    injected_kind_ = kind;
    injected_error_ = error;
  }
  // Test hook: the next write() or write_and_datasync() writes only the first `bytes` of its buffers (a real, partial
  // write), as a device or file system may, and returns that count. `bytes` > 0; for O_DIRECT
  // files a multiple of the device's logical block size.
  void inject_short_write(std::size_t bytes) noexcept { short_write_bytes_ = bytes; }

  // Cancels the completion reaper. Call only once no operation is in flight.
  void close();

 private:
  static constexpr unsigned completion_queue_entries = 4096;
  struct op;
  asio::awaitable<int> submit(int sqe_count, auto&& prepare, op_kind kind);
  void wait_for_completions();
  void reap();
  bool consume_injected(op_kind kind) noexcept;
  // `bufs` cut to an injected short write's length (kept in `cut`), or `bufs` if none is injected.
  std::span<const iovec> apply_short_write(std::span<const iovec> bufs, std::vector<iovec>& cut);

  io_uring ring_{};
  eventfd_reader completions_;  // the eventfd registered with ring_
  // Operations submitted and not yet completed. While it is above zero, a read of completions_
  // is waiting or the reap() it started is queued: exactly one, so every completion is reaped.
  unsigned in_flight_ = 0;
  bool closed_ = false;
  op_kind injected_kind_ = op_kind::any;
  int injected_error_ = 0;
  std::size_t short_write_bytes_ = 0;  // 0: none injected
};

}  // namespace kv::io
