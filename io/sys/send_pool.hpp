#pragma once
// Threads that send connections' output (outbox.hpp), so that the send system calls, which on
// loopback also deliver the bytes and wake the reader, run beside the event loop instead of on it.
//
// Each thread runs an io_context of its own; connections are spread over them round-robin.
// Threading: construct, next() and destroy on one thread (the server's event loop).

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <vector>

namespace kv::io {

class send_pool {
 public:
  // Starts `threads` threads (none for 0).
  send_pool(unsigned threads, std::chrono::milliseconds drain_timeout);
  // Lets the threads send what they have queued for up to the drain timeout (a graceful
  // shutdown's last replies), then stops and joins them; output still queued is dropped.
  ~send_pool();
  send_pool(const send_pool&) = delete;
  send_pool& operator=(const send_pool&) = delete;

  unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()); }
  // The context of the next thread in turn; nullptr when there are none.
  asio::io_context* next() noexcept;

 private:
  struct worker {
    asio::io_context context{1};
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(context);
    std::promise<void> ran_out;  // run() returned
    std::thread thread;
  };
  std::chrono::milliseconds drain_timeout_;
  std::vector<std::unique_ptr<worker>> workers_;
  unsigned next_ = 0;
};

}  // namespace kv::io
