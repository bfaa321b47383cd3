#pragma once
// Writing a buffer to a socket without a trip through the event loop when the socket takes it.
//
// asio::async_write sends at once too when it can, but completes through the executor's queue:
// the writer suspends and is resumed by a posted handler even though nothing was waited for.
// write_all() sends synchronously and suspends only for what the socket did not take, which on a
// request/response connection is almost never.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <cstddef>
#include <system_error>

namespace kv::io {

// The socket must be in non-blocking mode. Returns once all of `buf` is handed to the kernel, or
// sets `ec`.
inline asio::awaitable<void> write_all(asio::ip::tcp::socket& socket, asio::const_buffer buf, std::error_code& ec) {
  auto sent = socket.write_some(buf, ec);
  if (ec == asio::error::would_block) ec = {};
  if (ec || sent == buf.size()) co_return;
  co_await asio::async_write(socket, buf + sent, asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace kv::io
