// Hostile and broken clients on raw sockets: each gets a clear error or a closed connection,
// while a well-behaved client keeps being served and nothing stored is lost.

#include "core/base/bytes.hpp"
#include "harness/node_process.hpp"
#include "io/protocol/protocol.hpp"
#include "support/client_util.hpp"

#include <asio/read.hpp>
#include <asio/write.hpp>
#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <chrono>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <system_error>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;
using asio::ip::tcp;

namespace {

// A client on a raw socket. Every wait on the node (connecting, a reply, the close) ends by a
// deadline, `within` (30 s) after the connection was opened: a node that hangs then fails the
// test with the connection's name and what it waited for in the message, instead of stalling
// it until ctest's timeout.
struct raw_connection {
  asio::io_context ctx;
  tcp::socket socket{ctx};
  std::string label;
  std::chrono::seconds limit;
  std::chrono::steady_clock::time_point deadline;

  explicit raw_connection(const std::string& endpoint, std::string name = {},
                          std::chrono::seconds within = std::chrono::seconds(30))
      : label(name.empty() ? "a raw connection to " + endpoint : std::move(name)),
        limit(within),
        deadline(std::chrono::steady_clock::now() + within) {
    auto colon = endpoint.rfind(':');
    tcp::endpoint to(asio::ip::make_address(endpoint.substr(0, colon)),
                     static_cast<unsigned short>(std::stoi(endpoint.substr(colon + 1))));
    auto ec = wait_for("accept",
                       [&](auto done) { socket.async_connect(to, std::move(done)); });
    if (ec) throw std::system_error(ec, label + ": connect");
  }

  void send(const std::string& bytes) { asio::write(socket, asio::buffer(bytes)); }

  struct reply {
    std::uint8_t code = 0;
    std::uint64_t id = 0;
    std::string body;
  };

  // Reads one response frame; nullopt if the server closed the connection first.
  std::optional<reply> receive() {
    std::string buf(4, '\0');
    if (read_exactly(buf.data(), 4, "reply and no close")) return std::nullopt;
    auto len = get_fixed<std::uint32_t>(buf.data());
    buf.resize(4 + len);
    if (read_exactly(buf.data() + 4, len, "rest of a reply")) return std::nullopt;
    auto r = protocol::parse_frame(buf, 1u << 30);
    BOOST_REQUIRE((r.status == protocol::parse_status::ok));
    return reply{r.f.code, r.f.id, std::string(r.f.body)};
  }

  // True once the server has closed the connection (reads hit end of stream).
  bool closed_by_server() {
    char c;
    auto ec = wait_for("close", [&](auto done) { socket.async_read_some(asio::buffer(&c, 1), std::move(done)); });
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

 private:
  // Reads `n` bytes into `at`; true if the connection ended first.
  bool read_exactly(char* at, std::size_t n, const char* waiting_for) {
    return static_cast<bool>(
        wait_for(waiting_for, [&](auto done) { asio::async_read(socket, asio::buffer(at, n), std::move(done)); }));
  }

  // Starts an operation with `start(handler)` and runs it to completion; its error code. Throws,
  // naming `label` and `waiting_for`, if the deadline passes first.
  template <typename Start>
  std::error_code wait_for(const char* waiting_for, Start start) {
    std::optional<std::error_code> result;
    start([&](std::error_code ec, auto&&...) { result = ec; });
    ctx.restart();
    while (!result && ctx.run_one_until(deadline) > 0) {
    }
    if (result) return *result;
    std::error_code ignored;
    socket.close(ignored);  // the operation completes (aborted) before `result` goes away
    ctx.restart();
    ctx.run();
    throw std::runtime_error(fmt::format("{}: no {} from the node within {} s of connecting (does it hang?)", label,
                                         waiting_for, limit.count()));
  }
};

std::string frame(std::uint8_t op, std::uint64_t id, const std::string& body, std::uint8_t version = 1) {
  std::string out;
  auto start = protocol::begin_frame(out, op, 0, id);
  out += body;
  protocol::finish_frame(out, start);
  out[4] = static_cast<char>(version);
  return out;
}

// A well-behaved client still gets correct answers.
void check_healthy(const std::string& endpoint, const std::string& key) {
  with_client(endpoint, [&](client& c) -> asio::awaitable<void> {
    BOOST_REQUIRE((co_await c.set(key, "alive")).ok());
    BOOST_REQUIRE(*(co_await c.get(key)) == "alive");
    BOOST_REQUIRE(*(co_await c.get("stored-before")) == "precious");
  });
}

void store_precious(const std::string& endpoint) {
  with_client(endpoint, [](client& c) -> asio::awaitable<void> {
    BOOST_REQUIRE((co_await c.set("stored-before", "precious")).ok());
  });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bad_input)

BOOST_AUTO_TEST_CASE(random_garbage) {
  node_process node;
  store_precious(node.endpoint());
  std::mt19937 rng(42);
  for (int i = 0; i < 50; ++i) {
    std::string junk(1 + rng() % 300, '\0');
    for (auto& ch : junk) ch = static_cast<char>(rng());
    raw_connection raw(node.endpoint(), fmt::format("random_garbage, connection {} of 50 ({} junk bytes)", i + 1,
                                                    junk.size()));
    raw.send(junk);
    raw.socket.shutdown(tcp::socket::shutdown_send);
    while (raw.receive()) {
    }  // whatever it answers, it must then close
  }
  check_healthy(node.endpoint(), "after-garbage");
}

BOOST_AUTO_TEST_CASE(truncated_frames) {
  node_process node;
  store_precious(node.endpoint());
  auto good = frame(static_cast<std::uint8_t>(protocol::op::set), 9, std::string("\3\0\0\0key", 7) + "value");
  for (std::size_t cut = 1; cut < good.size(); ++cut) {
    raw_connection raw(node.endpoint());
    raw.send(good.substr(0, cut));
  }  // each connection is dropped mid-frame
  check_healthy(node.endpoint(), "after-truncation");
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    BOOST_TEST((co_await c.get("key")).is(errc::not_found));  // no half frame was executed
  });
}

BOOST_AUTO_TEST_CASE(oversize_length_is_refused_from_the_header) {
  node_process node("max-frame-size = \"2MiB\"\n");
  store_precious(node.endpoint());
  raw_connection raw(node.endpoint());
  std::string header(16, '\0');
  put_fixed<std::uint32_t>(header.data(), 1u << 30);  // claims a 1 GiB frame
  header[4] = 1;
  header[5] = static_cast<char>(protocol::op::set);
  put_fixed<std::uint64_t>(header.data() + 8, 77);
  raw.send(header);  // and sends no body: the answer must come from the header alone
  auto reply = raw.receive();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->code == static_cast<std::uint8_t>(protocol::status::too_large));
  BOOST_TEST(reply->id == 77u);
  BOOST_TEST(protocol::parse_error(reply->body).message.find("max-frame-size") != std::string::npos);
  BOOST_TEST(raw.closed_by_server());
  check_healthy(node.endpoint(), "after-oversize");
}

BOOST_AUTO_TEST_CASE(length_below_the_header_is_malformed) {
  node_process node;
  store_precious(node.endpoint());
  raw_connection raw(node.endpoint());
  raw.send(std::string("\3\0\0\0abc", 7));
  auto reply = raw.receive();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->code == static_cast<std::uint8_t>(protocol::status::bad_request));
  BOOST_TEST(raw.closed_by_server());
  check_healthy(node.endpoint(), "after-malformed");
}

BOOST_AUTO_TEST_CASE(unknown_operation_keeps_the_connection) {
  node_process node;
  raw_connection raw(node.endpoint());
  raw.send(frame(99, 5, "whatever"));
  auto reply = raw.receive();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->id == 5u);
  BOOST_TEST(reply->code == static_cast<std::uint8_t>(protocol::status::bad_request));
  BOOST_TEST(protocol::parse_error(reply->body).message == "unknown operation 99");
  raw.send(frame(static_cast<std::uint8_t>(protocol::op::ping), 6, ""));
  auto pong = raw.receive();
  BOOST_REQUIRE(pong.has_value());
  BOOST_TEST(pong->id == 6u);
  BOOST_TEST(pong->code == static_cast<std::uint8_t>(protocol::status::ok));
}

BOOST_AUTO_TEST_CASE(malformed_body_gets_bad_request) {
  node_process node;
  raw_connection raw(node.endpoint());
  raw.send(frame(static_cast<std::uint8_t>(protocol::op::set), 8, std::string("\xff\0\0\0k", 5)));  // key runs past the end
  auto reply = raw.receive();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->code == static_cast<std::uint8_t>(protocol::status::bad_request));
  raw.send(frame(static_cast<std::uint8_t>(protocol::op::bulk_set), 9, std::string("\2\0\0\0", 4)));  // 2 pairs, none there
  reply = raw.receive();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->code == static_cast<std::uint8_t>(protocol::status::bad_request));
  raw.send(frame(static_cast<std::uint8_t>(protocol::op::search), 10, std::string("\7", 1)));  // mode 7, then nothing
  reply = raw.receive();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->code == static_cast<std::uint8_t>(protocol::status::bad_request));
  BOOST_TEST(protocol::parse_error(reply->body).message == "malformed search request body");
  raw.send(frame(static_cast<std::uint8_t>(protocol::op::similar), 11, "short"));
  reply = raw.receive();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->code == static_cast<std::uint8_t>(protocol::status::bad_request));
  raw.send(frame(static_cast<std::uint8_t>(protocol::op::ping), 12, ""));
  reply = raw.receive();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->code == static_cast<std::uint8_t>(protocol::status::ok));
}

BOOST_AUTO_TEST_CASE(wrong_version_is_refused_and_closed) {
  node_process node;
  store_precious(node.endpoint());
  raw_connection raw(node.endpoint());
  raw.send(frame(static_cast<std::uint8_t>(protocol::op::ping), 3, "", /*version=*/7));
  auto reply = raw.receive();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->id == 3u);
  BOOST_TEST(reply->code == static_cast<std::uint8_t>(protocol::status::bad_request));
  auto message = protocol::parse_error(reply->body).message;
  BOOST_TEST(message.find("unsupported protocol version 7") != std::string::npos, message);
  BOOST_TEST(raw.closed_by_server());
  check_healthy(node.endpoint(), "after-version");
}

BOOST_AUTO_TEST_CASE(silent_clients_do_not_block_others_and_time_out) {
  node_process node("idle-timeout = \"300ms\"\n");
  store_precious(node.endpoint());
  std::vector<std::unique_ptr<raw_connection>> silent;
  for (int i = 0; i < 20; ++i) silent.push_back(std::make_unique<raw_connection>(node.endpoint()));
  raw_connection half(node.endpoint());
  half.send(std::string("\x40\0\0\0\1", 5));  // the start of a frame, never finished
  check_healthy(node.endpoint(), "beside-silent");
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  for (auto& s : silent) BOOST_TEST(s->closed_by_server());
  BOOST_TEST(half.closed_by_server());
  check_healthy(node.endpoint(), "after-idle");
}

BOOST_AUTO_TEST_CASE(thousands_of_connections_opened_and_dropped) {
  node_process node;
  store_precious(node.endpoint());
  for (int round = 0; round < 4; ++round) {
    std::vector<std::unique_ptr<raw_connection>> conns;
    for (int i = 0; i < 500; ++i) conns.push_back(std::make_unique<raw_connection>(node.endpoint()));
    for (std::size_t i = 0; i < conns.size(); i += 3) conns[i]->send(frame(1, i, ""));  // some ping, then vanish
  }
  check_healthy(node.endpoint(), "after-churn");
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    BOOST_TEST((co_await c.status())->number("connections") < 50u);  // the dropped ones were cleaned up
  });
}

BOOST_AUTO_TEST_CASE(connections_beyond_the_limit_get_a_clear_error) {
  node_process node("max-connections = 10\n");
  std::vector<std::unique_ptr<raw_connection>> held;
  for (int i = 0; i < 10; ++i) {
    held.push_back(std::make_unique<raw_connection>(node.endpoint(), fmt::format("held connection {} of 10", i + 1)));
    held.back()->send(frame(1, 1, ""));
    BOOST_REQUIRE(held.back()->receive().has_value());  // accepted and served
  }
  raw_connection extra(node.endpoint());
  auto reply = extra.receive();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->code == static_cast<std::uint8_t>(protocol::status::unavailable));
  BOOST_TEST(protocol::parse_error(reply->body).message.find("too many connections") != std::string::npos);
  BOOST_TEST(extra.closed_by_server());
  held.pop_back();  // one leaves: a newcomer is served again
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  raw_connection again(node.endpoint());
  again.send(frame(1, 2, ""));
  auto pong = again.receive();
  BOOST_REQUIRE(pong.has_value());
  BOOST_TEST(pong->code == static_cast<std::uint8_t>(protocol::status::ok));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(backpressure)

// The process's peak resident memory so far.
std::uint64_t peak_rss_kib(pid_t pid) { return std::stoull(proc_status_field(pid, "VmHWM")); }

// A client that pipelines far more than max-pipeline is served in order of arrival, without
// deadlock, as the node works through its requests a window at a time.
BOOST_AUTO_TEST_CASE(pipeline_beyond_the_limit_is_served_in_windows) {
  node_process node("max-pipeline = 4\n");
  raw_connection raw(node.endpoint(), "the connection pipelining 300 sets");
  std::string burst;
  for (int i = 0; i < 300; ++i) {
    auto key = "w" + std::to_string(i);
    std::string body;
    protocol::append_u32(body, static_cast<std::uint32_t>(key.size()));
    body += key + "value";
    burst += frame(static_cast<std::uint8_t>(protocol::op::set), static_cast<std::uint64_t>(i + 1), body);
  }
  raw.send(burst);
  std::set<std::uint64_t> answered;
  for (int i = 0; i < 300; ++i) {
    auto reply = raw.receive();
    BOOST_REQUIRE(reply.has_value());
    BOOST_REQUIRE(reply->code == static_cast<std::uint8_t>(protocol::status::ok));
    answered.insert(reply->id);
  }
  BOOST_TEST(answered.size() == 300u);
}

// A client that sends requests but does not read its responses cannot make the node buffer
// without bound: the node stops reading from it once its unsent responses pass the limit.
BOOST_AUTO_TEST_CASE(a_client_that_never_reads_cannot_exhaust_memory) {
  node_process node;
  store_precious(node.endpoint());
  std::string big(256 << 10, 'b');
  with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
    BOOST_REQUIRE((co_await c.set("big", big)).ok());
  });
  auto before = peak_rss_kib(node.pid());
  raw_connection greedy(node.endpoint());
  greedy.socket.non_blocking(true);
  std::string gets;
  for (int i = 0; i < 2000; ++i) gets += frame(static_cast<std::uint8_t>(protocol::op::get), i + 1, "big");
  // 2000 x 256 KiB = 500 MiB of responses requested; send what the socket takes.
  std::size_t sent = 0;
  for (int spin = 0; spin < 200 && sent < gets.size(); ++spin) {
    std::error_code ec;
    sent += greedy.socket.write_some(asio::buffer(gets.data() + sent, gets.size() - sent), ec);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto after = peak_rss_kib(node.pid());
  BOOST_TEST(after - std::min(after, before) < 64u * 1024, "RSS grew by " << (after - before) << " KiB");
  check_healthy(node.endpoint(), "beside-greedy");
}

BOOST_AUTO_TEST_SUITE_END()
