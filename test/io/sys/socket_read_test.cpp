#include "io/sys/socket_read.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;

struct socket_pair {
  asio::io_context ctx;
  tcp::socket reader{ctx};
  tcp::socket writer{ctx};

  socket_pair() {
    tcp::acceptor acceptor(ctx, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    writer.connect(acceptor.local_endpoint());
    acceptor.accept(reader);
    reader.non_blocking(true);
  }
};

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io_socket_read)

// Every way data can meet the reader: after a short read (the reader waits for the next edge),
// while no read is queued (the edge is remembered), more than one buffer at once (full reads,
// then a short one), exactly one buffer (the next read finds nothing and waits), then eof.
BOOST_AUTO_TEST_CASE(reads_every_byte_in_order_then_eof) {
  socket_pair s;
  const std::string sent = "hello" + std::string(40, 'a') + std::string(16, 'b') + "1234567" + "7654321";
  std::string received;
  std::size_t reads = 0;
  std::error_code end;
  asio::co_spawn(
      s.ctx,
      [&]() -> asio::awaitable<void> {
        char buf[16];
        for (;;) {
          std::error_code ec;
          auto n = co_await kv::io::read_some(s.reader, asio::buffer(buf), ec);
          if (ec) {
            end = ec;
            co_return;
          }
          ++reads;
          received.append(buf, n);
          if (received.size() == 5) co_await sleep_for(80ms);  // the next 40 bytes come meanwhile
        }
      },
      asio::detached);
  asio::co_spawn(
      s.ctx,
      [&]() -> asio::awaitable<void> {
        std::size_t at = 0;
        for (std::size_t part : {5, 40, 16, 7, 7}) {
          asio::write(s.writer, asio::buffer(sent.data() + at, part));
          at += part;
          if (at != 68) co_await sleep_for(30ms);  // the last two parts go back to back
        }
        s.writer.shutdown(tcp::socket::shutdown_send);
      },
      asio::detached);
  s.ctx.run_for(5s);
  BOOST_TEST(received == sent);
  BOOST_TEST(end == asio::error::eof);
  BOOST_TEST(reads >= 6u);  // 5, 16+16+8, 16, then the last 14 bytes in one or two reads
}

BOOST_AUTO_TEST_CASE(closing_the_socket_ends_a_waiting_read) {
  socket_pair s;
  std::error_code end;
  bool done = false;
  asio::co_spawn(
      s.ctx,
      [&]() -> asio::awaitable<void> {
        char buf[16];
        co_await kv::io::read_some(s.reader, asio::buffer(buf), end);
        done = true;
      },
      asio::detached);
  asio::co_spawn(
      s.ctx,
      [&]() -> asio::awaitable<void> {
        co_await sleep_for(20ms);
        s.reader.close();
      },
      asio::detached);
  s.ctx.run_for(5s);
  BOOST_TEST(done);
  BOOST_TEST(end == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_SUITE_END()
