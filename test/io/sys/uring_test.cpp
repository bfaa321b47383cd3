#include "io/sys/aligned_buffer.hpp"
#include "io/sys/event.hpp"
#include "io/sys/file.hpp"
#include "io/sys/uring.hpp"
#include "support/async.hpp"
#include "support/temp_dir.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>

using namespace kv;

namespace {

asio::awaitable<void> sleep_for(std::chrono::microseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io_uring_ops)

BOOST_AUTO_TEST_CASE(write_sync_and_read_back) {
  test::temp_dir dir;
  test::run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    io::uring ring(ctx.get_executor());
    auto dfd = io::open_directory(dir.path());
    int fd = co_await ring.openat(dfd.get(), "f", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    BOOST_REQUIRE(fd >= 0);
    io::unique_fd file(fd);
    std::string zeros(4096, '\0');
    iovec fill{zeros.data(), zeros.size()};
    BOOST_TEST(co_await ring.write(fd, {&fill, 1}, 0) == 4096);
    std::string a = "hello ";
    std::string b = "world";
    iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
    BOOST_TEST(co_await ring.write_and_datasync(fd, iov, 10) == 0);
    iovec more{b.data(), b.size()};
    BOOST_TEST(co_await ring.write(fd, {&more, 1}, 0) == 5);
    BOOST_TEST(co_await ring.fsync(fd) == 0);
    BOOST_TEST(co_await ring.renameat(dfd.get(), "f", "g") == 0);
    BOOST_TEST(co_await ring.fdatasync(fd) == 0);
  });
  std::ifstream in(dir / "g", std::ios::binary);
  std::string data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  BOOST_TEST(data.size() == 4096u);
  BOOST_TEST(data.substr(0, 5) == "world");
  BOOST_TEST(data.substr(10, 11) == "hello world");
}

BOOST_AUTO_TEST_CASE(errors_come_back_as_negative_errno) {
  test::temp_dir dir;
  test::run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    io::uring ring(ctx.get_executor());
    auto dfd = io::open_directory(dir.path());
    BOOST_TEST(co_await ring.openat(dfd.get(), "missing", O_RDONLY, 0) == -ENOENT);
    BOOST_TEST(co_await ring.unlinkat(dfd.get(), "missing") == -ENOENT);
    std::string a = "x";
    iovec iov{a.data(), a.size()};
    BOOST_TEST(co_await ring.write(-1, {&iov, 1}, 0) == -EBADF);
  });
}

BOOST_AUTO_TEST_CASE(many_operations_in_flight) {
  test::temp_dir dir;
  test::run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    io::uring ring(ctx.get_executor(), 8);  // fewer entries than operations
    auto file = io::open_file(dir / "f", O_RDWR | O_CREAT);
    int done = 0;
    io::event all_done(ctx.get_executor());
    std::vector<std::string> blocks;
    for (int i = 0; i < 100; ++i) blocks.push_back(std::string(100, static_cast<char>('a' + i % 26)));
    for (int i = 0; i < 100; ++i) {
      asio::co_spawn(
          ctx,
          [&, i]() -> asio::awaitable<void> {
            iovec iov{blocks[i].data(), blocks[i].size()};
            BOOST_TEST(co_await ring.write_and_datasync(file.get(), {&iov, 1}, i * 100) == 0);
            if (++done == 100) all_done.notify();
          },
          asio::detached);
    }
    while (done < 100) co_await all_done.wait();
  });
  std::ifstream in(dir / "f", std::ios::binary);
  std::string data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  BOOST_REQUIRE(data.size() == 10000u);
  for (int i = 0; i < 100; ++i) BOOST_TEST(data[i * 100 + 50] == static_cast<char>('a' + i % 26));
}

// More completions than the completion queue holds: the overflow must still be delivered.
BOOST_AUTO_TEST_CASE(completions_beyond_the_completion_queue) {
  test::temp_dir dir;
  constexpr int ops = 6000;  // > the 4096-entry completion queue
  test::run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    io::uring ring(ctx.get_executor(), 8);
    auto file = io::open_file(dir / "f", O_RDWR | O_CREAT);
    int done = 0;
    io::event all_done(ctx.get_executor());
    std::string block(16, 'z');
    for (int i = 0; i < ops; ++i) {
      asio::co_spawn(
          ctx,
          [&, i]() -> asio::awaitable<void> {
            iovec iov{block.data(), block.size()};
            BOOST_TEST(co_await ring.write(file.get(), {&iov, 1}, std::uint64_t(i) * 16) == 16);
            if (++done == ops) all_done.notify();
          },
          asio::detached);
    }
    while (done < ops) co_await all_done.wait();
  });
  BOOST_TEST(std::filesystem::file_size(dir / "f") == std::uintmax_t(ops) * 16);
}

BOOST_AUTO_TEST_CASE(injected_failure_hits_only_the_next_matching_operation) {
  test::temp_dir dir;
  test::run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    io::uring ring(ctx.get_executor());
    auto file = io::open_file(dir / "f", O_RDWR | O_CREAT);
    ring.inject_failure(io::op_kind::fdatasync, EIO);
    BOOST_TEST(co_await ring.fsync(file.get()) == 0);  // a different kind
    BOOST_TEST(co_await ring.fdatasync(file.get()) == -EIO);
    BOOST_TEST(co_await ring.fdatasync(file.get()) == 0);
  });
}

// A direct O_DSYNC write (the WAL's) is issued inline and completes through task work for
// this thread, not on an io-wq worker: each completion, one at a time and many at once, must
// still signal the eventfd the event loop waits on, or the test hangs and its time limit fails
// it. (With DEFER_TASKRUN, many_operations_in_flight is the test that hangs.)
BOOST_AUTO_TEST_CASE(direct_write_completions_wake_the_event_loop) {
  test::temp_dir dir;
  constexpr std::size_t block = 4096;
  constexpr int blocks = 128;
  {
    auto fill = io::open_file(dir / "f", O_RDWR | O_CREAT);
    io::write_all_at(fill.get(), std::string(block * blocks, '\0'), 0, dir / "f");
  }
  int fd = ::open((dir / "f").c_str(), O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
  BOOST_REQUIRE_MESSAGE(fd >= 0, "this file system has no direct I/O");
  io::unique_fd file(fd);
  io::aligned_buffer buf;
  buf.reserve(block * blocks);
  for (std::size_t i = 0; i < block * blocks; ++i) buf.data()[i] = static_cast<char>('a' + i / block % 26);
  test::run_async(
      [&](asio::io_context& ctx) -> asio::awaitable<void> {
        io::uring ring(ctx.get_executor());
        for (int i = 0; i < 20; ++i) {  // one at a time: the loop sleeps between them
          iovec iov{buf.data() + i * block, block};
          BOOST_TEST(co_await ring.write(fd, {&iov, 1}, std::uint64_t(i) * block) == int(block));
        }
        int done = 0;
        io::event all_done(ctx.get_executor());
        for (int i = 0; i < blocks; ++i) {  // many at once
          asio::co_spawn(
              ctx,
              [&, i]() -> asio::awaitable<void> {
                iovec iov{buf.data() + i * block, block};
                BOOST_TEST(co_await ring.write(fd, {&iov, 1}, std::uint64_t(i) * block) == int(block));
                if (++done == blocks) all_done.notify();
              },
              asio::detached);
        }
        while (done < blocks) co_await all_done.wait();
      },
      std::chrono::seconds(20));
  std::ifstream in(dir / "f", std::ios::binary);
  std::string data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  BOOST_REQUIRE(data.size() == block * blocks);
  BOOST_TEST((data == std::string(buf.data(), block * blocks)));
}

// Rounds of bursts of every size up to twice the submission queue, each after an idle gap (none,
// short, long: the loop sleeps in epoll_wait while completions arrive, or is busy). In a burst,
// writes to /dev/null complete during their own submission, before any read of the eventfd is
// queued; fdatasyncs complete later on io-wq workers; every other operation starts one more as it
// completes, so completions arrive while reap() runs and submissions while a read waits. A lost
// wake-up leaves an operation waiting forever, and the time limit fails the test.
BOOST_AUTO_TEST_CASE(completions_wake_the_loop_round_after_round) {
  test::temp_dir dir;
  constexpr int rounds = 600;
  int done_rounds = 0;
  auto run = [&] {
    test::run_async(
        [&](asio::io_context& ctx) -> asio::awaitable<void> {
          io::uring ring(ctx.get_executor(), 8);
          auto file = io::open_file(dir / "f", O_RDWR | O_CREAT);
          io::unique_fd null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
          BOOST_REQUIRE(null.get() >= 0);
          std::string block(64, 'x');
          io::event round_done(ctx.get_executor());
          int pending = 0;
          auto one = [&](int kind, std::uint64_t at) -> asio::awaitable<void> {
            iovec iov{block.data(), block.size()};
            if (kind == 0) BOOST_TEST(co_await ring.write(null.get(), {&iov, 1}, 0) == int(block.size()));
            if (kind == 1) BOOST_TEST(co_await ring.write(file.get(), {&iov, 1}, at) == int(block.size()));
            if (kind == 2) BOOST_TEST(co_await ring.fdatasync(file.get()) == 0);
          };
          for (int r = 0; r < rounds; ++r) {
            if (r % 3 == 1) co_await sleep_for(std::chrono::microseconds(50));
            if (r % 3 == 2) co_await sleep_for(std::chrono::milliseconds(1));
            int burst = 1 + r % 16;
            pending = burst;
            for (int i = 0; i < burst; ++i) {
              asio::co_spawn(
                  ctx,
                  [&, r, i]() -> asio::awaitable<void> {
                    co_await one((r + i) % 3, std::uint64_t(i) * 64);
                    if (i % 2 == 0) co_await one((r + i + 1) % 3, std::uint64_t(i) * 64);
                    if (--pending == 0) round_done.notify();
                  },
                  asio::detached);
            }
            while (pending > 0) co_await round_done.wait();
            ++done_rounds;
          }
        },
        std::chrono::seconds(60));
  };
  BOOST_CHECK_NO_THROW(run());
  BOOST_TEST(done_rounds == rounds, "round " << done_rounds << " never finished: a lost wake-up");
}

// An injected short write really writes a prefix: write() returns its count, and
// write_and_datasync() breaks its link, so the sync does not run and the call fails.
BOOST_AUTO_TEST_CASE(injected_short_write_writes_a_prefix) {
  test::temp_dir dir;
  test::run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    io::uring ring(ctx.get_executor());
    auto file = io::open_file(dir / "f", O_RDWR | O_CREAT);
    std::string a = "abcdef";
    std::string b = "ghij";
    iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
    ring.inject_short_write(8);
    BOOST_TEST(co_await ring.write(file.get(), iov, 0) == 8);
    ring.inject_short_write(3);
    BOOST_TEST(co_await ring.write_and_datasync(file.get(), iov, 20) < 0);
    BOOST_TEST(co_await ring.write(file.get(), iov, 30) == 10);  // injected once only
  });
  std::ifstream in(dir / "f", std::ios::binary);
  std::string data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  BOOST_TEST(data == std::string("abcdefgh", 8) + std::string(12, '\0') + "abc" + std::string(7, '\0') + "abcdefghij");
}

BOOST_AUTO_TEST_SUITE_END()
