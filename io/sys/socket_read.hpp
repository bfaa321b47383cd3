#pragma once
// Reading from a socket with one system call per message: no recv() that fails with EAGAIN and
// no epoll_ctl() on the way.
//
// Asio 1.22 offers two ways to read and both cost a second system call per request on a
// request/response connection: async_read_some tries a recv() before it waits for readiness,
// even right after a recv that emptied the socket, so that recv fails with EAGAIN; async_wait
// skips the recv but re-registers the descriptor with epoll (EPOLL_CTL_MOD) on every call.
//
// read_some() starts a reactor operation of its own, a recv like async_read_some's, except that
// a short read (fewer bytes than the buffer) tells the reactor the socket is drained, as Asio's
// own send does with a short write. The reactor then queues the next read_some on the socket
// without trying a recv and without touching the epoll registration, and performs it at the
// next readiness edge; an edge that arrives while no read is queued makes the next read_some
// try at once. Nothing is missed: the registration is edge-triggered, TCP raises an edge for
// every arrival of data, and after a short read every byte still to come arrives later.
//
// This uses Asio's reactor internals (asio::detail), which are not a stable interface: it is
// written against Asio 1.22's epoll reactor and the static_assert below stops a build that
// would use another.

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/detail/handler_alloc_helpers.hpp>
#include <asio/detail/handler_cont_helpers.hpp>
#include <asio/detail/handler_work.hpp>
#include <asio/detail/reactor.hpp>
#include <asio/detail/reactor_op.hpp>
#include <asio/detail/socket_ops.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/version.hpp>

#include <cstddef>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>

namespace kv::io {

namespace detail {

static_assert(ASIO_VERSION / 100 == 1022, "socket_read.hpp is written against Asio 1.22's reactor");
static_assert(std::is_same_v<asio::detail::reactor, asio::detail::epoll_reactor>,
              "socket_read.hpp needs Asio's epoll reactor");

// The socket's descriptor and reactor registration, which basic_socket keeps protected.
struct socket_internals : asio::ip::tcp::socket {
  static auto& of(asio::ip::tcp::socket& s) { return (s.*&socket_internals::impl_).get_implementation(); }
};

// One recv when the socket is readable. Its result is done_and_exhausted after a short read:
// the reactor then waits for readiness before it performs the socket's next read.
template <typename Handler, typename IoExecutor>
class recv_op : public asio::detail::reactor_op {
 public:
  ASIO_DEFINE_HANDLER_PTR(recv_op);

  recv_op(asio::detail::socket_type fd, asio::mutable_buffer buf, Handler& handler, const IoExecutor& io_ex)
      : reactor_op(std::error_code(), &recv_op::do_perform, &recv_op::do_complete),
        fd_(fd),
        buf_(buf),
        handler_(std::move(handler)),
        work_(handler_, io_ex) {}

  static status do_perform(reactor_op* base) {
    auto* o = static_cast<recv_op*>(base);
    if (!asio::detail::socket_ops::non_blocking_recv1(o->fd_, o->buf_.data(), o->buf_.size(), 0, true, o->ec_,
                                                      o->bytes_transferred_)) {
      return not_done;  // would block: the reactor keeps it queued until the next edge
    }
    return o->ec_ || o->bytes_transferred_ < o->buf_.size() ? done_and_exhausted : done;
  }

  static void do_complete(void* owner, asio::detail::operation* base, const std::error_code&, std::size_t) {
    auto* o = static_cast<recv_op*>(base);
    ptr p = {std::addressof(o->handler_), o, o};
    asio::detail::handler_work<Handler, IoExecutor> w(std::move(o->work_));
    // The handler leaves the operation's memory before the upcall, which may start the next read.
    asio::detail::binder2<Handler, std::error_code, std::size_t> handler(o->handler_, o->ec_, o->bytes_transferred_);
    p.h = std::addressof(handler.handler_);
    p.reset();
    if (owner) w.complete(handler, handler.handler_);
  }

 private:
  asio::detail::socket_type fd_;
  asio::mutable_buffer buf_;
  Handler handler_;
  asio::detail::handler_work<Handler, IoExecutor> work_;
};

template <typename Handler>
void start_recv(asio::ip::tcp::socket& socket, asio::mutable_buffer buf, Handler& handler) {
  using op = recv_op<Handler, asio::any_io_executor>;
  auto& impl = socket_internals::of(socket);
  auto& reactor = asio::use_service<asio::detail::reactor>(asio::query(socket.get_executor(), asio::execution::context));
  const bool is_continuation = asio_handler_cont_helpers::is_continuation(handler);
  typename op::ptr p = {std::addressof(handler), op::ptr::allocate(handler), nullptr};
  p.p = new (p.v) op(impl.socket_, buf, handler, socket.get_executor());
  if ((impl.state_ & asio::detail::socket_ops::non_blocking) != 0 ||
      asio::detail::socket_ops::set_internal_non_blocking(impl.socket_, impl.state_, true, p.p->ec_)) {
    reactor.start_op(asio::detail::reactor::read_op, impl.socket_, impl.reactor_data_, p.p, is_continuation, true);
  } else {
    reactor.post_immediate_completion(p.p, is_continuation);
  }
  p.v = p.p = nullptr;
}

}  // namespace detail

// Reads what the socket has, up to `buf` (which must not be empty), once it has something.
// Returns the bytes read, or sets `ec` (eof included). Completes through the executor's queue,
// never inline.
inline asio::awaitable<std::size_t> read_some(asio::ip::tcp::socket& socket, asio::mutable_buffer buf,
                                              std::error_code& ec) {
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  return asio::async_initiate<decltype(token), void(std::error_code, std::size_t)>(
      [&socket, buf](auto handler) { detail::start_recv(socket, buf, handler); }, token);
}

}  // namespace kv::io
