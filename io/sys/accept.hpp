#pragma once
// Accepting connections without spinning: the acceptor loop of the client server and of the
// peer transport.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <string_view>

namespace kv::io {

// The next connection on `acceptor`, or nullopt once the acceptor is closed. Any other failure
// (out of file descriptors, most likely) is logged, naming `what`, and retried after 100 ms.
inline asio::awaitable<std::optional<asio::ip::tcp::socket>> accept_next(asio::ip::tcp::acceptor& acceptor,
                                                                        std::string_view what) {
  for (;;) {
    std::error_code ec;
    auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) co_return std::move(socket);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return std::nullopt;
    spdlog::warn("{}: accept failed: {}; retrying in 100 ms", what, ec.message());
    asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
    co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace kv::io
