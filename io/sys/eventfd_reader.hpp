#pragma once
// An eventfd read with one system call per wake-up: no epoll_ctl() and no read() that fails with
// EAGAIN on the way.
//
// Asio 1.22 offers two ways to wait for an eventfd and both cost a second system call per
// wake-up: a stream_descriptor's async_wait re-registers the descriptor with epoll
// (EPOLL_CTL_MOD) on every call, and its async_read_some tries a read before it waits, which
// fails with EAGAIN whenever the counter is still zero.
//
// An eventfd_reader registers its eventfd with the reactor once, edge-triggered, for its whole
// life, and async_read() starts a reactor operation of its own: a read, which returns the
// counter and resets it to zero. A read that returns tells the reactor the descriptor is drained,
// as socket_read.hpp's short read does, so the reactor queues the next async_read without trying
// a read and without touching the registration, and performs it at the next readiness edge; an
// edge that arrives while no read is queued makes the next async_read try at once. Nothing is
// missed: the first signal after a read takes the counter from zero, which raises an edge, and
// that read returned every signal before it.
//
// This uses Asio's reactor internals (asio::detail), which are not a stable interface: it is
// written against Asio 1.22's epoll reactor and the static_asserts below stop a build that would
// use another.
//
// Threading: an eventfd_reader belongs to one executor (one thread); call its members from there.
// Anyone may signal the eventfd (write(2), or the kernel's eventfd_signal), from any thread.

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/detail/bind_handler.hpp>
#include <asio/detail/descriptor_ops.hpp>
#include <asio/detail/handler_alloc_helpers.hpp>
#include <asio/detail/handler_cont_helpers.hpp>
#include <asio/detail/handler_work.hpp>
#include <asio/detail/reactor.hpp>
#include <asio/detail/reactor_op.hpp>
#include <asio/io_context.hpp>
#include <asio/version.hpp>

#include <cstdint>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>

namespace kv::io {

namespace detail {

static_assert(ASIO_VERSION / 100 == 1022, "eventfd_reader.hpp is written against Asio 1.22's reactor");
static_assert(std::is_same_v<asio::detail::reactor, asio::detail::epoll_reactor>,
              "eventfd_reader.hpp needs Asio's epoll reactor");

// One read of the counter when the eventfd is readable. Every read that returns is
// done_and_exhausted: the counter is zero after it, so the reactor waits for the next edge before
// it performs the next read (after an error too, rather than retry it in a loop).
template <typename Handler, typename IoExecutor>
class eventfd_read_op : public asio::detail::reactor_op {
 public:
  ASIO_DEFINE_HANDLER_PTR(eventfd_read_op);

  eventfd_read_op(int fd, Handler& handler, const IoExecutor& io_ex)
      : reactor_op(std::error_code(), &eventfd_read_op::do_perform, &eventfd_read_op::do_complete),
        fd_(fd),
        handler_(std::move(handler)),
        work_(handler_, io_ex) {}

  static status do_perform(reactor_op* base) {
    auto* o = static_cast<eventfd_read_op*>(base);
    if (!asio::detail::descriptor_ops::non_blocking_read1(o->fd_, &o->count_, sizeof o->count_, o->ec_,
                                                          o->bytes_transferred_)) {
      return not_done;  // the counter is zero: the reactor keeps the read queued until the next edge
    }
    return done_and_exhausted;
  }

  static void do_complete(void* owner, asio::detail::operation* base, const std::error_code&, std::size_t) {
    auto* o = static_cast<eventfd_read_op*>(base);
    ptr p = {std::addressof(o->handler_), o, o};
    asio::detail::handler_work<Handler, IoExecutor> w(std::move(o->work_));
    // The handler leaves the operation's memory before the upcall, which may start the next read.
    asio::detail::binder2<Handler, std::error_code, std::uint64_t> handler(o->handler_, o->ec_,
                                                                           o->ec_ ? 0 : o->count_);
    p.h = std::addressof(handler.handler_);
    p.reset();
    if (owner) w.complete(handler, handler.handler_);
  }

 private:
  int fd_;
  std::uint64_t count_ = 0;
  Handler handler_;
  asio::detail::handler_work<Handler, IoExecutor> work_;
};

}  // namespace detail

class eventfd_reader {
 public:
  // Creates an eventfd (counter zero, non-blocking, close-on-exec) and registers it with the
  // reactor of `executor`'s execution context. Throws std::system_error.
  explicit eventfd_reader(asio::any_io_executor executor);
  ~eventfd_reader() { close(); }
  eventfd_reader(const eventfd_reader&) = delete;
  eventfd_reader& operator=(const eventfd_reader&) = delete;

  // The eventfd, for whoever signals it. Do not read it: the counter is async_read's.
  int native_handle() const noexcept { return fd_; }
  const asio::any_io_executor& get_executor() const noexcept { return executor_; }

  // Waits until the counter is non-zero, then reads it, which resets it to zero. Completes with
  // void(std::error_code, std::uint64_t counter), through the executor's queue, never inline;
  // with operation_aborted if close() comes first, bad_descriptor if it came before. Reads that
  // wait together complete one per edge, in the order they started.
  template <typename Token>
  auto async_read(Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::uint64_t)>(
        [this](auto handler) { start_read(handler); }, token);
  }

  // Deregisters and closes the eventfd; a read waiting completes with operation_aborted.
  void close() noexcept;

 private:
  template <typename Handler>
  void start_read(Handler& handler) {
    using op = detail::eventfd_read_op<Handler, asio::any_io_executor>;
    const bool is_continuation = asio_handler_cont_helpers::is_continuation(handler);
    typename op::ptr p = {std::addressof(handler), op::ptr::allocate(handler), nullptr};
    p.p = new (p.v) op(fd_, handler, executor_);
    reactor_.start_op(asio::detail::reactor::read_op, fd_, reactor_data_, p.p, is_continuation, true);
    p.v = p.p = nullptr;
  }

  asio::any_io_executor executor_;
  asio::detail::reactor& reactor_;
  asio::detail::reactor::per_descriptor_data reactor_data_ = nullptr;
  int fd_ = -1;
};

}  // namespace kv::io
