#pragma once
// A connection's output on its way to the socket, sent either on the connection's own thread or
// by a send thread (send_pool.hpp).
//
// - Without a send thread, send() writes on the owner's thread and completes once every byte is
//   with the kernel, as a connection's writer did before send threads existed.
// - With one, send() by way of the send thread appends the bytes to a queue and returns at once
//   (send() on the owner's thread, with nothing queued, writes as without one: handing a few
//   bytes to another thread costs more than writing them, unless this thread is the
//   bottleneck; the owner chooses, see server::offload_sends). The send thread writes
//   the queue on a duplicate of the socket's descriptor, in order, one batch per write, so
//   replies made while a write is under way leave together in the next. The owner reads the
//   original descriptor as before. unsent() counts what was handed over and not yet taken by the
//   kernel; when a write brings it from at or above `limit` to below, or a write fails, the
//   owner's `progress` callback is posted to the owner's executor (once per crossing), which is
//   how a reader that stopped on the output limit learns to go on.
//
// finish() sends what is queued, then shuts the socket down; abort() drops it and shuts down at
// once. Either is called once, last, by the owner, which then closes its own descriptor: the
// peer sees the end only when both descriptors are closed or the socket is shut down.
//
// Threading: send(), finish(), abort() and the callback run on the owner's executor; the send
// thread touches the queue under the mutex and the counters atomically. Owned by shared_ptr: the
// send thread holds one while it writes, so the rest of the output may leave after the owner is
// gone.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

namespace kv::io {

class outbox : public std::enable_shared_from_this<outbox> {
 public:
  // `socket`: the owner's, in non-blocking mode; it must stay open until finish() or abort().
  // `sender`: a send thread's context, or nullptr to send on the owner's thread. If the
  // descriptor cannot be duplicated (out of descriptors), the output is sent on the owner's
  // thread, with a warning. The send thread's context must outlive the outbox.
  static std::shared_ptr<outbox> make(asio::ip::tcp::socket& socket, asio::io_context* sender, std::size_t limit,
                                      std::function<void()> progress);
  outbox(const outbox&) = delete;
  outbox& operator=(const outbox&) = delete;
  ~outbox();

  bool offloaded() const noexcept { return sender_ != nullptr; }
  // Which thread writes, where there is a send thread.
  enum class route : std::uint8_t { owner, send_thread };
  // Hands `bytes` over and leaves it empty (dropping them if the connection failed). Sets `ec`
  // if the connection failed, now or in an earlier write of the send thread's, or was aborted.
  asio::awaitable<void> send(std::string& bytes, route r, std::error_code& ec);
  // Bytes handed to send() and not yet written to the kernel.
  std::size_t unsent() const noexcept { return unsent_.load(std::memory_order_acquire); }
  // Why the send thread's last write failed; none while it has not.
  std::error_code failure();
  // Both are idempotent, and finish() after abort() changes nothing.
  void finish();
  void abort();

 private:
  outbox(asio::ip::tcp::socket& socket, asio::io_context* sender, std::size_t limit, std::function<void()> progress);
  // On the send thread: writes the queue until it is empty or the socket is full, and then
  // again once the socket has room.
  void drain();
  void schedule_locked();
  void report_progress();
  void wait_writable();
  void close_sender_socket();

  asio::ip::tcp::socket& owner_socket_;
  asio::any_io_executor owner_;
  asio::io_context* sender_;
  int fd_ = -1;  // the duplicate descriptor, the send thread's
  std::unique_ptr<asio::posix::stream_descriptor> waiter_;  // fd_ on sender_, while it waits for room
  const std::size_t limit_;
  std::function<void()> progress_;
  std::string owner_sending_;  // the owner's write under way
  std::string sending_;        // the send thread's write under way
  std::size_t sent_ = 0;       // of sending_

  std::mutex mutex_;
  std::string queue_;        // guarded by mutex_
  bool scheduled_ = false;   // guarded by mutex_: drain() is running or posted
  bool finishing_ = false;   // guarded by mutex_
  bool aborted_ = false;     // guarded by mutex_
  std::error_code failure_;  // guarded by mutex_
  std::atomic<std::size_t> unsent_{0};
};

}  // namespace kv::io
