#include "io/sys/uring.hpp"

#include <asio/error.hpp>
#include <asio/use_awaitable.hpp>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>
#include <vector>

namespace kv::io {

// One submitted operation: one SQE, or two linked SQEs that complete together.
struct uring::op {
  int sqe_count = 1;
  int completed = 0;
  int results[2] = {0, 0};
  completion<void(int)> done;
};

uring::uring(asio::any_io_executor executor, unsigned queue_depth) : completions_(std::move(executor)) {
  // No task-run setup flags. DEFER_TASKRUN posts completions only when this thread asks
  // (GETEVENTS), a bounded number per call, and signals the eventfd only when its list of
  // completions to post was empty: completions left in that list wake nobody, and with many
  // in flight the event loop hangs. COOP_TASKRUN | TASKRUN_FLAG (+ SINGLE_ISSUER) works but
  // made no difference outside the noise (docs/benchmarks.md, "WAL direct I/O").
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE;
  params.cq_entries = completion_queue_entries;
  if (int rc = io_uring_queue_init_params(queue_depth, &ring_, &params); rc < 0) {
    throw std::system_error(-rc, std::generic_category(), "io_uring_queue_init");
  }
  if (int rc = io_uring_register_eventfd(&ring_, completions_.native_handle()); rc < 0) {
    io_uring_queue_exit(&ring_);
    throw std::system_error(-rc, std::generic_category(), "io_uring_register_eventfd");
  }
}

uring::~uring() {
  close();
  io_uring_queue_exit(&ring_);
}

void uring::close() {
  if (closed_) return;
  closed_ = true;
  completions_.close();
}

bool uring::consume_injected(op_kind kind) noexcept {
  if (injected_error_ == 0 || (injected_kind_ != kind && injected_kind_ != op_kind::any)) return false;
  return true;
}

asio::awaitable<int> uring::submit(int sqe_count, auto&& prepare, op_kind kind) {
  if (consume_injected(kind)) {
    int error = injected_error_;
    injected_error_ = 0;
    co_return -error;
  }
  if (closed_) co_return -ECANCELED;
  auto* o = new op;
  o->sqe_count = sqe_count;
  io_uring_sqe* sqes[2] = {};
  for (int i = 0; i < sqe_count; ++i) {
    sqes[i] = io_uring_get_sqe(&ring_);
    if (sqes[i] == nullptr) {  // submission queue full: hand what is queued to the kernel
      io_uring_submit(&ring_);
      sqes[i] = io_uring_get_sqe(&ring_);
    }
  }
  prepare(sqes);
  for (int i = 0; i < sqe_count; ++i) io_uring_sqe_set_data(sqes[i], o);
  if (int rc = io_uring_submit(&ring_); rc < 0) {
    delete o;
    co_return rc;
  }
  if (in_flight_++ == 0) wait_for_completions();
  co_return co_await async_park<int>([o](completion<void(int)> c) { o->done = std::move(c); },
                                     asio::use_awaitable);
}

// The read resets the eventfd's counter before reap() looks at the ring, and the kernel posts a
// completion before it signals it: a completion reap() misses was signalled after the read, so it
// wakes the next read, which reap() starts before it returns if anything is still in flight.
// operation_aborted means close(), and the uring may be gone. A read of an eventfd fails in no
// other way, but should it, reaping anyway and waiting again beats leaving every write hung.
void uring::wait_for_completions() {
  completions_.async_read([this](std::error_code ec, std::uint64_t) {
    if (ec != asio::error::operation_aborted) reap();
  });
}

void uring::reap() {
  for (;;) {
    io_uring_cqe* cqe = nullptr;
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      auto* o = static_cast<op*>(io_uring_cqe_get_data(cqe));
      o->results[o->completed++] = cqe->res;
      if (o->completed < o->sqe_count) continue;
      int result = o->results[o->sqe_count - 1];
      if (o->sqe_count == 2 && o->results[1] == -ECANCELED) result = o->results[0] < 0 ? o->results[0] : -EIO;
      --in_flight_;
      // submit() parks its completion before it yields, and reap() runs only from the event
      // loop, so `done` is always set here.
      o->done(result);
      delete o;
    }
    io_uring_cq_advance(&ring_, seen);
    // Completions beyond the CQ ring wait in the kernel's overflow list, which raises no
    // further eventfd signal: flush them into the ring and go round again.
    if (!io_uring_cq_has_overflow(&ring_)) break;
    io_uring_get_events(&ring_);
  }
  if (in_flight_ > 0 && !closed_) wait_for_completions();
}

std::span<const iovec> uring::apply_short_write(std::span<const iovec> bufs, std::vector<iovec>& cut) {
  if (short_write_bytes_ == 0) return bufs;
  for (std::size_t left = std::exchange(short_write_bytes_, 0); const auto& b : bufs) {
    if (left == 0) break;
    cut.push_back({b.iov_base, std::min(b.iov_len, left)});
    left -= cut.back().iov_len;
  }
  return cut;
}

asio::awaitable<int> uring::write(int fd, std::span<const iovec> bufs, std::uint64_t offset) {
  std::vector<iovec> cut;
  bufs = apply_short_write(bufs, cut);
  co_return co_await submit(
      1,
      [&](io_uring_sqe** s) {
        io_uring_prep_writev(s[0], fd, bufs.data(), static_cast<unsigned>(bufs.size()), offset);
      },
      op_kind::write);
}

asio::awaitable<int> uring::write_and_datasync(int fd, std::span<const iovec> bufs, std::uint64_t offset) {
  if (consume_injected(op_kind::fdatasync)) {
    // Let the write happen, then fail the sync, the way a dying disk would.
    int error = injected_error_;
    injected_error_ = 0;
    co_await write(fd, bufs, offset);
    co_return -error;
  }
  if (short_write_bytes_ != 0) {
    // Write the prefix, then fail as the kernel does when the write of a link comes up short:
    // the sync is cancelled, and reap() reports that as EIO.
    co_await write(fd, bufs, offset);
    co_return -EIO;
  }
  int rc = co_await submit(
      2,
      [&](io_uring_sqe** s) {
        io_uring_prep_writev(s[0], fd, bufs.data(), bufs.size(), offset);
        s[0]->flags |= IOSQE_IO_LINK;
        io_uring_prep_fsync(s[1], fd, IORING_FSYNC_DATASYNC);
      },
      op_kind::write);
  co_return rc;
}

asio::awaitable<int> uring::fdatasync(int fd) {
  co_return co_await submit(
      1, [&](io_uring_sqe** s) { io_uring_prep_fsync(s[0], fd, IORING_FSYNC_DATASYNC); }, op_kind::fdatasync);
}

asio::awaitable<int> uring::fsync(int fd) {
  co_return co_await submit(1, [&](io_uring_sqe** s) { io_uring_prep_fsync(s[0], fd, 0); }, op_kind::fsync);
}

asio::awaitable<int> uring::write_back(int fd, std::uint64_t offset, std::uint64_t length) {
  co_return co_await submit(
      1,
      [&](io_uring_sqe** s) {
        io_uring_prep_sync_file_range(s[0], fd, static_cast<unsigned>(length), offset,
                                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      },
      op_kind::writeback);
}

asio::awaitable<int> uring::openat(int dir_fd, std::string path, int flags, unsigned mode) {
  co_return co_await submit(
      1, [&](io_uring_sqe** s) { io_uring_prep_openat(s[0], dir_fd, path.c_str(), flags, mode); }, op_kind::any);
}

asio::awaitable<int> uring::unlinkat(int dir_fd, std::string path) {
  co_return co_await submit(
      1, [&](io_uring_sqe** s) { io_uring_prep_unlinkat(s[0], dir_fd, path.c_str(), 0); }, op_kind::any);
}

asio::awaitable<int> uring::renameat(int dir_fd, std::string from, std::string to) {
  co_return co_await submit(
      1,
      [&](io_uring_sqe** s) { io_uring_prep_renameat(s[0], dir_fd, from.c_str(), dir_fd, to.c_str(), 0); },
      op_kind::any);
}

}  // namespace kv::io
