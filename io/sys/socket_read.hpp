#pragma once
// Reading from a socket with one system call per message instead of two.
//
// Asio 1.22's async_read_some always tries a recv() before waiting for readiness, and on a
// request/response connection that recv() usually fails with EAGAIN: a wasted system call per
// request, as dear as the useful one where system calls are (a VM). read_some() waits for readiness
// first when the caller knows the socket was just drained, and reads at once otherwise.
//
// The contract that keeps this from missing data: pass `drained = true` only if the previous
// read on this socket returned less than its buffer and the caller has not suspended since.
// The reactor is edge-triggered; an edge that arrives while no operation is queued is only
// remembered as "try a read", which a readiness wait ignores. Within one uninterrupted run of
// the event-loop thread no edge can be consumed, so the wait is queued in time.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <cstddef>
#include <system_error>

namespace kv::io {

// The socket must be in non-blocking mode. Returns the bytes read, or sets `ec` (eof included).
inline asio::awaitable<std::size_t> read_some(asio::ip::tcp::socket& socket, asio::mutable_buffer buf, bool drained,
                                              std::error_code& ec) {
  for (;;) {
    if (drained) {
      co_await socket.async_wait(asio::ip::tcp::socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return 0;
    }
    auto n = socket.read_some(buf, ec);
    if (ec != asio::error::would_block) co_return n;
    drained = true;  // nothing to read, and we have not suspended since that recv
  }
}

}  // namespace kv::io
