#include "io/sys/outbox.hpp"

#include "io/sys/socket_write.hpp"

#include <algorithm>
#include <cerrno>

#include <asio/post.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <unistd.h>

namespace kv::io {

namespace {
constexpr std::size_t idle_buffer = 1u << 20;  // a larger idle send buffer is given back
}  // namespace

std::shared_ptr<outbox> outbox::make(asio::ip::tcp::socket& socket, asio::io_context* sender, std::size_t limit,
                                     std::function<void()> progress) {
  if (sender != nullptr) {
    try {
      return std::shared_ptr<outbox>(new outbox(socket, sender, limit, progress));
    } catch (const std::system_error& e) {
      spdlog::warn("sending a connection's output on the event loop: {}", e.what());
    }
  }
  return std::shared_ptr<outbox>(new outbox(socket, nullptr, limit, std::move(progress)));
}

outbox::outbox(asio::ip::tcp::socket& socket, asio::io_context* sender, std::size_t limit,
               std::function<void()> progress)
    : owner_socket_(socket),
      owner_(socket.get_executor()),
      sender_(sender),
      limit_(limit),
      progress_(std::move(progress)) {
  if (sender_ == nullptr) return;
  fd_ = ::dup(socket.native_handle());
  if (fd_ < 0) throw std::system_error(errno, std::system_category(), "dup of a connection's socket");
}

outbox::~outbox() {
  // The send thread closed it (finish, abort, a failure) unless its context is being destroyed.
  if (waiter_) waiter_->release();
  if (fd_ >= 0) ::close(fd_);
}

asio::awaitable<void> outbox::send(std::string& bytes, route r, std::error_code& ec) {
  // With nothing queued, the send thread has written everything handed over before, so bytes
  // written here keep their order; and since only send() queues bytes, it has nothing of this
  // outbox's to write while the write below is under way (abort() makes that write fail).
  bool here = sender_ == nullptr;
  if (!here && r == route::owner) {
    std::lock_guard lock(mutex_);
    here = !scheduled_;
  }
  if (here) {
    // Taken first: the owner may append more while the write waits for the socket.
    owner_sending_.swap(bytes);
    const auto n = owner_sending_.size();
    unsent_.fetch_add(n, std::memory_order_acq_rel);
    co_await write_all(owner_socket_, asio::buffer(owner_sending_), ec);
    unsent_.fetch_sub(n, std::memory_order_acq_rel);
    owner_sending_.clear();
    if (owner_sending_.capacity() > idle_buffer) std::string().swap(owner_sending_);
    co_return;
  }
  std::lock_guard lock(mutex_);
  if (failure_ || aborted_) {
    // Dropped, as a write to a closed socket drops them: the caller must not find them again.
    ec = aborted_ ? make_error_code(asio::error::operation_aborted) : failure_;
    bytes.clear();
    co_return;
  }
  unsent_.fetch_add(bytes.size(), std::memory_order_acq_rel);
  if (queue_.empty()) {
    queue_.swap(bytes);  // bytes takes the queue's old buffer, empty, with its capacity
  } else {
    queue_.append(bytes);
    bytes.clear();
  }
  schedule_locked();
}

std::error_code outbox::failure() {
  if (sender_ == nullptr) return {};
  std::lock_guard lock(mutex_);
  return failure_;
}

void outbox::schedule_locked() {
  if (scheduled_) return;
  scheduled_ = true;
  asio::post(*sender_, [self = shared_from_this()] { self->drain(); });
}

void outbox::finish() {
  if (sender_ == nullptr) {
    std::error_code ignored;
    owner_socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    return;
  }
  std::lock_guard lock(mutex_);
  finishing_ = true;
  schedule_locked();
}

void outbox::abort() {
  if (sender_ == nullptr) return;
  std::lock_guard lock(mutex_);
  aborted_ = true;
  unsent_.fetch_sub(queue_.size(), std::memory_order_acq_rel);
  queue_.clear();
  // A write the send thread has under way fails at once.
  ::shutdown(owner_socket_.native_handle(), SHUT_RDWR);
  schedule_locked();
}

void outbox::drain() {
  for (;;) {
    if (sending_.empty()) {
      std::lock_guard lock(mutex_);
      if (aborted_ || failure_ || queue_.empty()) {
        scheduled_ = false;
        if (aborted_ || failure_ || finishing_) close_sender_socket();
        return;
      }
      sending_.swap(queue_);
      sent_ = 0;
    }
    std::error_code ec;
    const auto r = ::send(fd_, sending_.data() + sent_, sending_.size() - sent_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      wait_writable();
      return;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) ec = std::error_code(errno, std::system_category());
    const auto n = static_cast<std::size_t>(std::max<ssize_t>(r, 0));
    bool report = false;
    if (!ec) {
      sent_ += n;
      const auto before = unsent_.fetch_sub(n, std::memory_order_acq_rel);
      report = before >= limit_ && before - n < limit_;
      if (sent_ == sending_.size()) {
        sending_.clear();
        if (sending_.capacity() > idle_buffer) std::string().swap(sending_);
      }
    } else {
      // Nothing more will leave: what was unsent is dropped, and counted out.
      std::lock_guard lock(mutex_);
      failure_ = ec;
      unsent_.fetch_sub(sending_.size() - sent_ + queue_.size(), std::memory_order_acq_rel);
      sending_.clear();
      queue_.clear();
      report = true;
    }
    if (report) report_progress();
  }
}

void outbox::report_progress() {
  asio::post(owner_, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->progress_();
  });
}

// The duplicate is registered with the send thread's reactor only while it waits for room:
// registered all the time, every request arriving on the connection would wake the send thread.
void outbox::wait_writable() {
  if (!waiter_) waiter_ = std::make_unique<asio::posix::stream_descriptor>(*sender_, fd_);
  waiter_->async_wait(asio::posix::stream_descriptor::wait_write, [self = shared_from_this()](std::error_code) {
    self->waiter_->release();
    self->waiter_.reset();
    self->drain();  // the send tells what the wait's error would
  });
}

void outbox::close_sender_socket() {
  if (fd_ < 0) return;
  ::shutdown(fd_, SHUT_RDWR);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace kv::io
