// The outbox and its send threads: bytes leave whole and in order whichever thread writes them
// and however the owner switches between the two; a peer that does not read holds the output
// (unsent() counts it, the progress callback comes once it drains below the limit); abort() ends
// a connection at once, even with a write blocked; a peer that goes away fails the outbox. Built
// apart from io_tests so that `make test-tsan` runs it under ThreadSanitizer cheaply.

#include "io/sys/outbox.hpp"
#include "io/sys/send_pool.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;
using kv::io::outbox;
using route = kv::io::outbox::route;

// The node's side (`owner`, on ctx) and a plain blocking peer descriptor, read by the test.
struct connection_pair {
  asio::io_context ctx;
  tcp::socket owner{ctx};
  tcp::socket peer_socket{ctx};
  int peer = -1;

  // `small_buffers`: 64 KiB socket buffers (set before the connection is made, so the window
  // fits them), which a peer that does not read fills soon.
  explicit connection_pair(bool small_buffers = false) {
    const int size = 64 << 10;
    tcp::acceptor acceptor(ctx, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    peer_socket.open(tcp::v4());
    if (small_buffers) {
      ::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
      ::setsockopt(peer_socket.native_handle(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    peer_socket.connect(acceptor.local_endpoint());
    acceptor.accept(owner);
    owner.non_blocking(true);
    peer = peer_socket.native_handle();
  }
};

// Reads from `fd` until the peer closes (or `limit` passes); returns what came.
std::string read_to_end(int fd, std::chrono::seconds limit = 30s, bool* closed = nullptr) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      if (closed != nullptr) *closed = true;
      break;
    }
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

std::string chunk(std::size_t i, std::size_t size) {
  std::string s = std::to_string(i) + ":";
  s.resize(size, static_cast<char>('a' + i % 26));
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io_outbox)

// 3,000 sends of mixed sizes, each by a route drawn at random (seeded), then finish(): the peer
// gets every byte in order, then the end of the stream.
BOOST_AUTO_TEST_CASE(bytes_leave_in_order_whichever_thread_writes_them) {
  for (unsigned threads : {0u, 1u}) {
    kv::io::send_pool pool(threads, 5000ms);
    connection_pair c;
    std::string expected;
    std::atomic<int> progress_calls = 0;
    auto box = outbox::make(c.owner, pool.next(), 64u << 10, [&] { ++progress_calls; });
    BOOST_TEST(box->offloaded() == (threads > 0));
    std::string received;
    std::thread reader([&] { received = read_to_end(c.peer); });
    std::mt19937 rng(42);
    asio::co_spawn(
        c.ctx,
        [&]() -> asio::awaitable<void> {
          for (std::size_t i = 0; i < 3000; ++i) {
            auto bytes = chunk(i, 1 + rng() % (i % 100 == 0 ? 200'000 : 300));
            expected += bytes;
            std::error_code ec;
            co_await box->send(bytes, rng() % 2 ? route::owner : route::send_thread, ec);
            BOOST_REQUIRE(!ec);
            BOOST_REQUIRE(bytes.empty());
            if (i % 7 == 0) {  // let the send thread catch up now and then, so the owner writes too
              asio::steady_timer t(c.ctx, 100us);
              co_await t.async_wait(asio::use_awaitable);
            }
          }
          box->finish();
          c.owner.close();
        },
        asio::detached);
    c.ctx.run();
    reader.join();
    BOOST_TEST(received.size() == expected.size());
    BOOST_TEST((received == expected));
    BOOST_TEST(box->unsent() == 0u);
    BOOST_TEST(!box->failure());
  }
}

// A peer that does not read: the output waits in the outbox and unsent() says how much; nothing
// is reported while it stays above the limit; once the peer reads, everything arrives and the
// progress callback comes, on the owner's thread, after unsent() went below the limit.
BOOST_AUTO_TEST_CASE(a_peer_that_does_not_read_holds_the_output_until_it_does) {
  kv::io::send_pool pool(1, 5000ms);
  connection_pair c(true);
  const std::size_t limit = 1u << 20;
  std::size_t unsent_at_progress = 0;
  int progress_calls = 0;
  const auto owner_thread = std::this_thread::get_id();
  bool on_owner_thread = true;
  std::shared_ptr<outbox> box;
  box = outbox::make(c.owner, pool.next(), limit, [&] {
    ++progress_calls;
    unsent_at_progress = box->unsent();
    on_owner_thread = on_owner_thread && std::this_thread::get_id() == owner_thread;
  });
  // Handed over at once, so that unsent() starts far above the limit and crosses it only once.
  std::string expected;
  for (std::size_t i = 0; i < 64; ++i) expected += chunk(i, 64u << 10);
  auto bytes = expected;
  std::error_code ec;
  asio::co_spawn(c.ctx, box->send(bytes, route::send_thread, ec), asio::detached);
  c.ctx.run();
  c.ctx.restart();
  BOOST_TEST(!ec);
  // The kernel holds a little of the 4 MiB; the rest waits, above the limit.
  std::this_thread::sleep_for(200ms);
  BOOST_TEST(box->unsent() > limit);
  c.ctx.poll();
  c.ctx.restart();
  BOOST_TEST(progress_calls == 0);

  std::string received;
  std::thread reader([&] { received = read_to_end(c.peer); });
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (box->unsent() > 0 && std::chrono::steady_clock::now() < deadline) {
    c.ctx.run_for(10ms);
    c.ctx.restart();
  }
  c.ctx.run_for(50ms);  // the callback posted by the last write
  BOOST_TEST(box->unsent() == 0u);
  BOOST_TEST(progress_calls == 1);
  BOOST_TEST(unsent_at_progress < limit);
  BOOST_TEST(on_owner_thread);
  box->finish();
  c.owner.close();
  reader.join();
  BOOST_TEST((received == expected));
}

// abort() with the send thread blocked on a full socket: the peer sees the end at once, what was
// queued is dropped, and the send thread lets go of the outbox (the pool then stops at once).
BOOST_AUTO_TEST_CASE(abort_ends_the_connection_at_once) {
  auto pool = std::make_unique<kv::io::send_pool>(1, 60'000ms);
  connection_pair c(true);
  auto box = outbox::make(c.owner, pool->next(), 1u << 20, [] {});
  std::error_code ec;
  auto bytes = std::string(8u << 20, 'x');
  asio::co_spawn(c.ctx, box->send(bytes, route::send_thread, ec), asio::detached);
  c.ctx.run();
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(box->unsent() > 0u);
  const std::weak_ptr<outbox> weak = box;
  box->abort();
  auto later = std::string(100, 'l');
  std::error_code after_abort;
  asio::co_spawn(c.ctx, box->send(later, route::send_thread, after_abort), asio::detached);
  c.ctx.restart();
  c.ctx.run();
  BOOST_TEST((after_abort == asio::error::operation_aborted));
  BOOST_TEST(later.empty());
  c.owner.close();
  box.reset();
  bool closed = false;
  const auto start = std::chrono::steady_clock::now();
  auto got = read_to_end(c.peer, 10s, &closed);
  BOOST_TEST(closed);
  BOOST_TEST(got.size() < (8u << 20));
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!weak.expired() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  BOOST_TEST(weak.expired());
  const auto stopping = std::chrono::steady_clock::now();
  pool.reset();  // nothing left to send: no wait for the drain timeout
  BOOST_TEST((std::chrono::steady_clock::now() - stopping < 5s));
}

// The peer closes: a later write of the send thread's fails, the progress callback comes and
// failure() names the error, and the next send() reports it.
BOOST_AUTO_TEST_CASE(a_peer_gone_fails_the_outbox) {
  kv::io::send_pool pool(1, 5000ms);
  connection_pair c;
  int progress_calls = 0;
  auto box = outbox::make(c.owner, pool.next(), 1u << 20, [&] { ++progress_calls; });
  c.peer_socket.close();
  std::error_code ec;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!ec && std::chrono::steady_clock::now() < deadline) {
    auto bytes = std::string(4096, 'y');
    asio::co_spawn(c.ctx, box->send(bytes, route::send_thread, ec), asio::detached);
    c.ctx.run_for(20ms);
    c.ctx.restart();
  }
  // The callback is posted just after the failure is recorded, so it may not be queued yet.
  for (int i = 0; i < 500 && progress_calls == 0; ++i) {
    c.ctx.restart();
    c.ctx.run_for(10ms);
    std::this_thread::sleep_for(1ms);
  }
  BOOST_TEST(static_cast<bool>(ec));
  BOOST_TEST((box->failure() == ec));
  BOOST_TEST(box->unsent() == 0u);  // what could not leave is not counted as waiting to
  BOOST_TEST(progress_calls >= 1);
  // Later output is dropped, not left with the caller (who would hand it over again and again).
  auto later = std::string(100, 'l');
  std::error_code again;
  asio::co_spawn(c.ctx, box->send(later, route::send_thread, again), asio::detached);
  c.ctx.restart();
  c.ctx.run();
  BOOST_TEST(static_cast<bool>(again));
  BOOST_TEST(later.empty());
  box->finish();
}

// With no descriptor left for the duplicate, the outbox sends on the owner's thread (with a
// warning), whichever route is asked for, and every byte still arrives.
BOOST_AUTO_TEST_CASE(without_a_descriptor_to_spare_the_owner_sends) {
  kv::io::send_pool pool(1, 5000ms);
  connection_pair c;
  rlimit saved{};
  BOOST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  // Every descriptor below the limit taken: the next dup() fails with EMFILE.
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(c.peer + 1);
  BOOST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::vector<int> taken;
  for (int fd; (fd = ::dup(c.peer)) >= 0;) taken.push_back(fd);
  auto box = outbox::make(c.owner, pool.next(), 1u << 20, [] {});
  for (int fd : taken) ::close(fd);
  BOOST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
  BOOST_TEST(!box->offloaded());
  std::string received;
  std::thread reader([&] { received = read_to_end(c.peer); });
  auto bytes = std::string("all of it");
  std::error_code ec;
  asio::co_spawn(c.ctx, box->send(bytes, route::send_thread, ec), asio::detached);
  c.ctx.run();
  BOOST_TEST(!ec);
  box->finish();
  c.owner.close();
  reader.join();
  BOOST_TEST(received == "all of it");
}

// A send pool whose peer never reads is not waited for past its drain timeout.
BOOST_AUTO_TEST_CASE(a_pool_stops_after_its_drain_timeout) {
  auto pool = std::make_unique<kv::io::send_pool>(1, 300ms);
  connection_pair c(true);
  auto box = outbox::make(c.owner, pool->next(), 1u << 20, [] {});
  std::error_code ec;
  auto bytes = std::string(8u << 20, 'z');
  asio::co_spawn(c.ctx, box->send(bytes, route::send_thread, ec), asio::detached);
  c.ctx.run();
  box->finish();  // the rest can never leave: the peer does not read
  box.reset();
  const auto start = std::chrono::steady_clock::now();
  pool.reset();
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST((took >= 250ms));
  BOOST_TEST((took < 5s));
}

BOOST_AUTO_TEST_SUITE_END()
