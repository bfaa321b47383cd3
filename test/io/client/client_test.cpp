// The client library against scripted in-process servers: redirects, timeouts, lost
// connections.

#include "io/client/client.hpp"
#include "io/protocol/protocol.hpp"
#include "support/async.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/write.hpp>
#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

using namespace kv;
using asio::ip::tcp;

namespace {

// A server on a free port that answers each request with `reply(frame)` (nothing if empty).
class scripted_server {
 public:
  using script = std::function<std::string(const protocol::frame&)>;

  scripted_server(asio::io_context& ctx, script reply)
      : acceptor_(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), reply_(std::move(reply)) {
    asio::co_spawn(ctx, accept(), asio::detached);
  }

  std::string endpoint() const { return fmt::format("127.0.0.1:{}", acceptor_.local_endpoint().port()); }
  int requests = 0;
  int connections = 0;
  void drop_all() {
    for (auto& s : sockets_) s->close();
  }
  void stop() {
    acceptor_.close();
    drop_all();
  }

 private:
  asio::awaitable<void> accept() {
    for (;;) {
      std::error_code ec;
      auto s = std::make_shared<tcp::socket>(co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec)));
      if (ec) co_return;
      ++connections;
      sockets_.push_back(s);
      asio::co_spawn(acceptor_.get_executor(), serve(s), asio::detached);
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<tcp::socket> s) {
    std::string buf;
    char chunk[4096];
    for (;;) {
      std::error_code ec;
      auto n = co_await s->async_read_some(asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      buf.append(chunk, n);
      for (;;) {
        auto r = protocol::parse_frame(buf, 1u << 20);
        if (r.status != protocol::parse_status::ok) break;
        ++requests;
        auto out = reply_(r.f);
        buf.erase(0, r.f.size);
        if (!out.empty()) co_await asio::async_write(*s, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
      }
    }
  }

  tcp::acceptor acceptor_;
  script reply_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
};

// A write's answer: its log index and revision (open_session reads the first as its id).
std::string ok_write(const protocol::frame& f, std::uint64_t index, std::uint64_t revision = 1) {
  std::string out;
  protocol::respond_write(out, f.id, {index, revision});
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_library)

BOOST_AUTO_TEST_CASE(follows_not_leader_to_the_leader) {
  test::run_async([](asio::io_context& ctx) -> asio::awaitable<void> {
    scripted_server leader(ctx, [](const protocol::frame& f) { return ok_write(f, 7, 5); });
    auto leader_address = leader.endpoint();
    scripted_server follower(ctx, [&](const protocol::frame& f) {
      std::string out;
      protocol::respond_error(out, f.id, protocol::status::not_leader, "not the leader", leader_address);
      return out;
    });
    client::options o;
    o.endpoints = {follower.endpoint()};
    client c(ctx.get_executor(), o);
    auto r = co_await c.set("k", "v");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->index == 7u);
    BOOST_TEST(r->revision == 5u);
    BOOST_TEST(c.endpoint() == leader_address);  // later requests go straight there
    BOOST_TEST(follower.requests == 1);
    BOOST_TEST((co_await c.set("k2", "v")).ok());
    BOOST_TEST(follower.requests == 1);
    c.close();
    leader.stop();
    follower.stop();
  });
}

BOOST_AUTO_TEST_CASE(writes_yield_their_index_and_revision_and_need_both) {
  test::run_async([](asio::io_context& ctx) -> asio::awaitable<void> {
    bool with_revision = true;
    scripted_server node(ctx, [&](const protocol::frame& f) {
      if (with_revision) return ok_write(f, 20 + f.code, 30 + f.code);
      std::string out;
      protocol::respond_index(out, f.id, 20 + f.code);  // an index alone, as compact answers
      return out;
    });
    client::options o;
    o.endpoints = {node.endpoint()};
    o.exactly_once = false;
    client c(ctx.get_executor(), o);
    auto set = co_await c.set("k", "v");
    BOOST_REQUIRE_MESSAGE(set.ok(), set.message());
    BOOST_TEST(set->index == 23u);
    BOOST_TEST(set->revision == 33u);
    auto del = co_await c.del("k");
    BOOST_REQUIRE_MESSAGE(del.ok(), del.message());
    BOOST_TEST(del->index == 24u);
    BOOST_TEST(del->revision == 34u);
    std::vector<std::pair<std::string, std::string>> pairs;
    pairs.emplace_back("a", "1");
    auto bulk = co_await c.bulk_set(std::move(pairs));
    BOOST_REQUIRE_MESSAGE(bulk.ok(), bulk.message());
    BOOST_TEST(bulk->index == 25u);
    BOOST_TEST(bulk->revision == 35u);

    with_revision = false;
    auto short_answer = co_await c.set("k", "v");
    BOOST_TEST(short_answer.is(errc::internal));
    BOOST_TEST(short_answer.message() == "malformed write response");
    c.close();
    node.stop();
  });
}

BOOST_AUTO_TEST_CASE(redirect_loops_are_bounded) {
  test::run_async([](asio::io_context& ctx) -> asio::awaitable<void> {
    std::string other;
    scripted_server a(ctx, [&](const protocol::frame& f) {
      std::string out;
      protocol::respond_error(out, f.id, protocol::status::not_leader, "ask b", other);
      return out;
    });
    std::string a_address = a.endpoint();
    scripted_server b(ctx, [&](const protocol::frame& f) {
      std::string out;
      protocol::respond_error(out, f.id, protocol::status::not_leader, "ask a", a_address);
      return out;
    });
    other = b.endpoint();
    client::options o;
    o.endpoints = {a.endpoint()};
    o.max_redirects = 3;
    o.leader_wait = std::chrono::milliseconds(300);
    client c(ctx.get_executor(), o);
    auto start = std::chrono::steady_clock::now();
    auto r = co_await c.set("k", "v");
    auto waited = std::chrono::steady_clock::now() - start;
    BOOST_TEST(r.is(errc::unavailable));
    BOOST_TEST(r.message().find("no leader found within 300 ms") != std::string::npos);
    // Three redirects at once, then a few more with a backoff between them, until leader_wait.
    BOOST_TEST(a.requests + b.requests >= 5);
    BOOST_TEST(a.requests + b.requests <= 12);
    BOOST_TEST(waited < std::chrono::milliseconds(1000));
    c.close();
    a.stop();
    b.stop();
  });
}

BOOST_AUTO_TEST_CASE(waits_out_an_election) {
  test::run_async([](asio::io_context& ctx) -> asio::awaitable<void> {
    // No leader known for the first three requests (an election), then one is elected here.
    scripted_server node(ctx, [&, n = 0](const protocol::frame& f) mutable {
      if (++n <= 3) {
        std::string out;
        protocol::respond_error(out, f.id, protocol::status::not_leader, "no leader", "");
        return out;
      }
      return ok_write(f, 9, 4);
    });
    client::options o;
    o.endpoints = {node.endpoint()};
    o.exactly_once = false;  // count only the write's own attempts
    client c(ctx.get_executor(), o);
    auto r = co_await c.set("k", "v");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->index == 9u);
    BOOST_TEST(r->revision == 4u);
    BOOST_TEST(node.requests == 4);
    c.close();
    node.stop();
  });
}

BOOST_AUTO_TEST_CASE(a_write_whose_answer_is_lost_is_sent_again_in_its_session) {
  test::run_async([](asio::io_context& ctx) -> asio::awaitable<void> {
    std::vector<session_ref> writes;
    scripted_server* self = nullptr;
    scripted_server node(ctx, [&](const protocol::frame& f) {
      if (static_cast<protocol::op>(f.code) == protocol::op::open_session) {
        std::string out;
        protocol::respond_index(out, f.id, 42);
        return out;
      }
      auto body = f.body;
      auto ref = (f.flags & protocol::flag_session) ? protocol::take_session_prefix(body) : std::nullopt;
      writes.push_back(ref.value_or(session_ref{}));
      if (writes.size() == 1) {
        self->drop_all();  // the write is applied, but its answer is lost with the connection
        return std::string();
      }
      return ok_write(f, 100 + writes.size());
    });
    self = &node;
    client::options o;
    o.endpoints = {node.endpoint()};
    client c(ctx.get_executor(), o);
    auto r = co_await c.set("k", "v");
    BOOST_REQUIRE_MESSAGE(r.ok(), r.message());
    BOOST_REQUIRE(writes.size() == 2u);
    // Sent again as the same write of the same session, which the cluster applies only once.
    BOOST_TEST(writes[0].session == 42u);
    BOOST_TEST(writes[1].session == 42u);
    BOOST_TEST(writes[0].seq == 1u);
    BOOST_TEST(writes[1].seq == 1u);
    auto r2 = co_await c.set("k2", "v");
    BOOST_REQUIRE(r2.ok());
    BOOST_TEST(writes[2].seq == 2u);
    BOOST_TEST(writes[2].first_unacked == 2u);  // seq 1 was answered
    c.close();
    node.stop();
  });
}

BOOST_AUTO_TEST_CASE(a_read_answered_unavailable_is_sent_to_the_next_node) {
  test::run_async([](asio::io_context& ctx) -> asio::awaitable<void> {
    // A follower whose leader just died: it cannot confirm a read index.
    scripted_server orphan(ctx, [](const protocol::frame& f) {
      std::string out;
      protocol::respond_error(out, f.id, protocol::status::unavailable,
                              "no leader confirmed a read index within two election timeouts; retry", "");
      return out;
    });
    scripted_server leader(ctx, [](const protocol::frame& f) {
      std::string out;
      protocol::respond_value(out, f.id, "v");
      return out;
    });
    client::options o;
    o.endpoints = {orphan.endpoint(), leader.endpoint()};
    client c(ctx.get_executor(), o);
    auto r = co_await c.get("k");
    BOOST_TEST((r.ok() && *r == "v"), r.message());
    BOOST_TEST(orphan.requests == 1);
    BOOST_TEST(leader.requests == 1);
    // Within leader_wait only: a node that keeps answering unavailable fails the read.
    client::options alone;
    alone.endpoints = {orphan.endpoint()};
    alone.leader_wait = std::chrono::milliseconds(200);
    client stuck(ctx.get_executor(), alone);
    auto start = std::chrono::steady_clock::now();
    auto failed = co_await stuck.get("k");
    BOOST_TEST(failed.is(errc::unavailable));
    BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(1)));
    BOOST_TEST(orphan.requests > 2);
    c.close();
    stuck.close();
    orphan.stop();
    leader.stop();
  });
}

BOOST_AUTO_TEST_CASE(unanswered_requests_time_out) {
  test::run_async([](asio::io_context& ctx) -> asio::awaitable<void> {
    scripted_server silent(ctx, [](const protocol::frame&) { return std::string(); });
    client::options o;
    o.endpoints = {silent.endpoint()};
    o.request_timeout = std::chrono::milliseconds(150);
    client c(ctx.get_executor(), o);
    auto start = std::chrono::steady_clock::now();
    auto r = co_await c.get("k");
    auto waited = std::chrono::steady_clock::now() - start;
    BOOST_TEST(r.is(errc::timed_out));
    BOOST_TEST(waited >= std::chrono::milliseconds(150));
    BOOST_TEST(waited < std::chrono::seconds(2));
    c.close();
    silent.stop();
  });
}

BOOST_AUTO_TEST_CASE(lost_connection_fails_writes_and_reconnects) {
  test::run_async([](asio::io_context& ctx) -> asio::awaitable<void> {
    scripted_server* self = nullptr;
    bool answer = false;
    scripted_server server(ctx, [&](const protocol::frame& f) {
      if (!answer) {
        self->drop_all();  // vanish with the request in flight
        return std::string();
      }
      return ok_write(f, 1);
    });
    self = &server;
    client::options o;
    o.endpoints = {server.endpoint()};
    client c(ctx.get_executor(), o);
    auto r = co_await c.set("k", "v");
    BOOST_TEST(r.is(errc::unavailable));  // the write may or may not have happened
    answer = true;
    BOOST_TEST((co_await c.set("k", "v")).ok());  // a fresh connection
    BOOST_TEST(server.connections == 2);
    c.close();
    server.stop();
  });
}

BOOST_AUTO_TEST_CASE(no_reachable_endpoint) {
  test::run_async([](asio::io_context& ctx) -> asio::awaitable<void> {
    tcp::acceptor closed(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    auto port = closed.local_endpoint().port();
    closed.close();
    client::options o;
    o.endpoints = {fmt::format("127.0.0.1:{}", port), "not-an-endpoint"};
    client c(ctx.get_executor(), o);
    auto r = co_await c.ping();
    BOOST_TEST(r.is(errc::unavailable));
    BOOST_TEST(r.message().find("cannot connect") != std::string::npos, r.message());
    BOOST_TEST(r.message().find("invalid endpoint") != std::string::npos, r.message());
  });
}

BOOST_AUTO_TEST_SUITE_END()
