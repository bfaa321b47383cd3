#include "io/sys/eventfd_reader.hpp"

#include "support/async.hpp"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <thread>

namespace {

using namespace std::chrono_literals;

void signal(const kv::io::eventfd_reader& e, std::uint64_t n = 1) {
  BOOST_REQUIRE(::write(e.native_handle(), &n, sizeof n) == sizeof n);
}

asio::awaitable<std::uint64_t> read(kv::io::eventfd_reader& e, std::error_code& ec) {
  co_return co_await e.async_read(asio::redirect_error(asio::use_awaitable, ec));
}

// Lets the event loop run (and the reactor see what is ready) for `d`.
asio::awaitable<void> sleep_for(std::chrono::microseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io_eventfd_reader)

// Every way a signal can meet the reader: before the first read (which tries at once), while a
// read waits (after a read drained the counter, so the next one waits for the edge), while no
// read is queued and the loop sees the edge (remembered for the next read), and several at once.
BOOST_AUTO_TEST_CASE(every_signal_completes_a_read) {
  kv::test::run_async(
      [](asio::io_context& ctx) -> asio::awaitable<void> {
        kv::io::eventfd_reader e(ctx.get_executor());
        std::error_code ec;
        signal(e);
        BOOST_TEST(co_await read(e, ec) == 1u);
        BOOST_TEST(!ec);

        asio::steady_timer later(ctx, 2ms);
        later.async_wait([&](std::error_code) { signal(e); });
        BOOST_TEST(co_await read(e, ec) == 1u);

        signal(e);
        co_await sleep_for(2ms);  // the edge arrives with no read queued
        BOOST_TEST(co_await read(e, ec) == 1u);

        signal(e, 2);
        signal(e, 3);
        co_await sleep_for(2ms);
        BOOST_TEST(co_await read(e, ec) == 5u);
        BOOST_TEST(!ec);
      },
      std::chrono::seconds(10));
}

BOOST_AUTO_TEST_CASE(close_aborts_a_waiting_read) {
  kv::test::run_async(
      [](asio::io_context& ctx) -> asio::awaitable<void> {
        kv::io::eventfd_reader e(ctx.get_executor());
        asio::steady_timer later(ctx, 2ms);
        later.async_wait([&](std::error_code) { e.close(); });
        std::error_code ec;
        co_await read(e, ec);
        BOOST_TEST(ec == asio::error::operation_aborted);
        co_await read(e, ec);
        BOOST_TEST(ec == asio::error::bad_descriptor);
      },
      std::chrono::seconds(10));
}

// Another thread signals in bursts and pauses while the reader reads, now and then busy between
// two reads (signals then arrive while no read is queued). The reader must see every signal;
// a lost wake-up leaves it waiting for the last ones, and the time limit fails the test.
BOOST_AUTO_TEST_CASE(a_reader_sees_every_signal_of_another_thread) {
  constexpr std::uint64_t signals = 100'000;
  std::uint64_t seen = 0;
  std::uint64_t reads = 0;
  kv::test::run_async(
      [&](asio::io_context& ctx) -> asio::awaitable<void> {
        kv::io::eventfd_reader e(ctx.get_executor());
        std::jthread writer([&e] {
          for (std::uint64_t i = 0; i < signals; ++i) {
            std::uint64_t one = 1;
            if (::write(e.native_handle(), &one, sizeof one) != sizeof one) std::abort();
            if (i % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(i % 3 * 50));
          }
        });
        while (seen < signals) {
          std::error_code ec;
          seen += co_await read(e, ec);
          BOOST_REQUIRE(!ec);
          if (++reads % 5 == 0) {
            for (auto until = std::chrono::steady_clock::now() + 20us; std::chrono::steady_clock::now() < until;) {
            }
          }
        }
      },
      std::chrono::seconds(30));
  BOOST_TEST(seen == signals);
  BOOST_TEST_MESSAGE(reads << " reads for " << signals << " signals");
}

BOOST_AUTO_TEST_SUITE_END()
