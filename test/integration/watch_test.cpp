// Watches through a real kvnode process: the C++ client's watch_stream (events, filters, prev_kv,
// transactions in one batch, starts in the past, where a watch started, compaction, progress,
// cancel, also while it reconnects, many watches on one connection, resuming across a restart), a
// raw socket that does not read (the node's memory stays bounded and every event still arrives,
// in order), and the errors bad watch requests get.

#include "harness/node_process.hpp"
#include "io/client/watch_stream.hpp"
#include "io/protocol/protocol.hpp"
#include "support/client_util.hpp"

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <sstream>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;

namespace {

// "put k=v@rev" / "del k@rev" for each event, and "|" between batches.
std::string text_of(const watch_batch& b) {
  std::string out;
  for (const auto& e : b.events) {
    if (!out.empty()) out += " ";
    if (e.deleted) {
      out += fmt::format("del {}@{}", e.kv.key, e.kv.mod_revision);
    } else {
      out += fmt::format("put {}={}@{}", e.kv.key, e.kv.value, e.kv.mod_revision);
    }
    if (e.prev) out += fmt::format("(was {})", e.prev->value);
  }
  return out;
}

watch_spec prefix_watch(std::string p, std::uint64_t start = 0) {
  watch_spec s;
  s.end = prefix_end(p);
  s.key = std::move(p);
  s.start_revision = start;
  return s;
}

// The next batch with events, skipping progress notifications.
asio::awaitable<std::string> next_text(watch_stream& w) {
  for (;;) {
    auto b = co_await w.next();
    BOOST_REQUIRE_MESSAGE(b.ok(), b.message());
    if (!b->events.empty()) co_return text_of(*b);
  }
}

txn two_puts(std::string a, std::string b) {
  txn t;
  t.then_ops.push_back(make_put(std::move(a), "1"));
  t.then_ops.push_back(make_put(std::move(b), "2"));
  return t;
}

// A client that notices a dead node within a second and waits up to 20 s for it to come back.
client::options restart_tolerant_options(const std::string& endpoint) {
  auto o = client_options(endpoint);
  o.request_timeout = std::chrono::milliseconds(1000);
  o.leader_wait = std::chrono::seconds(20);
  return o;
}

std::uint64_t rss_kib(int pid) {
  const auto value = proc_status_field(pid, "VmRSS");
  return value.empty() ? 0 : std::stoull(value);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(watch_process)

BOOST_AUTO_TEST_CASE(events_filters_and_transactions) {
  node_process node("[storage]\nauto-compaction-mode = \"off\"\n");
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    auto w = co_await c.watch(prefix_watch("app/"));
    BOOST_REQUIRE_MESSAGE(w.ok(), w.message());
    BOOST_TEST((*w)->revision() == 1u);  // created on an empty keyspace: changes after revision 1
    BOOST_TEST((*w)->created_revision() == 1u);
    auto spec = prefix_watch("app/");
    spec.no_put = true;
    spec.prev_kv = true;
    auto deletes = co_await c.watch(spec);
    BOOST_REQUIRE(deletes.ok());

    BOOST_REQUIRE((co_await c.set("app/a", "1")).ok());      // 2
    BOOST_REQUIRE((co_await c.set("other", "x")).ok());      // 3: outside the range
    BOOST_REQUIRE((co_await c.txn(two_puts("app/b", "app/c"))).ok());  // 4: one batch
    BOOST_REQUIRE((co_await c.del("app/a")).ok());           // 5
    BOOST_REQUIRE((co_await c.delete_range("app/", prefix_end("app/"))).ok());  // 6: b and c together

    BOOST_TEST(co_await next_text(**w) == "put app/a=1@2");
    BOOST_TEST(co_await next_text(**w) == "put app/b=1@4 put app/c=2@4");
    BOOST_TEST(co_await next_text(**w) == "del app/a@5");
    BOOST_TEST(co_await next_text(**w) == "del app/b@6 del app/c@6");
    BOOST_TEST((*w)->revision() == 6u);
    BOOST_TEST((*w)->created_revision() == 1u);  // where it started, however far it got
    BOOST_TEST(co_await next_text(**deletes) == "del app/a@5(was 1)");
    BOOST_TEST(co_await next_text(**deletes) == "del app/b@6(was 1) del app/c@6(was 2)");

    // From a past revision: the history replays (whole revisions, several to a batch), then
    // live changes follow.
    auto past = co_await c.watch(prefix_watch("app/", 4));
    BOOST_REQUIRE(past.ok());
    BOOST_TEST((*past)->created_revision() == 3u);
    BOOST_TEST(co_await next_text(**past) == "put app/b=1@4 put app/c=2@4 del app/a@5 del app/b@6 del app/c@6");
    BOOST_REQUIRE((co_await c.set("app/z", "9")).ok());
    BOOST_TEST(co_await next_text(**past) == "put app/z=9@7");
    BOOST_TEST(co_await next_text(**w) == "put app/z=9@7");

    // One key, not a prefix.
    watch_spec one;
    one.key = "app/z";
    auto single = co_await c.watch(one);
    BOOST_REQUIRE(single.ok());
    BOOST_REQUIRE((co_await c.set("app/zz", "no")).ok());
    BOOST_REQUIRE((co_await c.set("app/z", "10")).ok());
    BOOST_TEST(co_await next_text(**single) == "put app/z=10@9");
  });
}

BOOST_AUTO_TEST_CASE(compaction_progress_and_cancel) {
  node_process node("[storage]\nauto-compaction-mode = \"off\"\n");
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    for (int i = 0; i < 5; ++i) BOOST_REQUIRE((co_await c.set("k", std::to_string(i))).ok());  // revisions 2..6
    BOOST_REQUIRE((co_await c.compact(5)).ok());
    auto old = co_await c.watch(prefix_watch("k", 3));
    BOOST_REQUIRE_MESSAGE(old.ok(), old.message());  // the stream reports the compaction
    auto b = co_await (*old)->next();
    BOOST_TEST(b.is(errc::compacted));
    BOOST_TEST(b.message().find("compacted") != std::string::npos, b.message());
    BOOST_TEST((*old)->compact_revision() == 5u);
    auto at = co_await c.watch(prefix_watch("k", 5));  // the compacted revision itself is kept
    BOOST_REQUIRE(at.ok());
    BOOST_TEST(co_await next_text(**at) == "put k=3@5 put k=4@6");

    // Progress on request: the revision the watch has caught up to, past writes outside its range.
    auto w = co_await c.watch(prefix_watch("p/"));
    BOOST_REQUIRE(w.ok());
    BOOST_REQUIRE((co_await c.set("elsewhere", "x")).ok());  // 7
    (*w)->request_progress();
    auto p = co_await (*w)->next();
    BOOST_REQUIRE(p.ok());
    BOOST_TEST(p->events.empty());
    BOOST_TEST(p->revision == 7u);

    // Cancelled: nothing more, and next() says so.
    (*w)->cancel();
    BOOST_REQUIRE((co_await c.set("p/1", "x")).ok());
    auto after = co_await (*w)->next();
    BOOST_TEST(after.error() == std::make_error_code(std::errc::operation_canceled));
    auto st = co_await c.status();
    BOOST_REQUIRE(st.ok());
    BOOST_TEST(st->number("watches") == 1u);  // only `at` is left
  });
}

BOOST_AUTO_TEST_CASE(idle_progress_notifications) {
  node_process node("watch-progress-interval = \"200ms\"\n");
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    auto spec = prefix_watch("idle/");
    spec.progress_notify = true;
    auto w = co_await c.watch(spec);
    BOOST_REQUIRE(w.ok());
    BOOST_REQUIRE((co_await c.set("x", "1")).ok());
    auto b = co_await (*w)->next();  // within about 250 ms, with no event
    BOOST_REQUIRE(b.ok());
    BOOST_TEST(b->events.empty());
    BOOST_TEST(b->revision == 2u);
  });
}

BOOST_AUTO_TEST_CASE(many_watches_share_a_connection) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    std::vector<std::unique_ptr<watch_stream>> streams;
    for (int i = 0; i < 50; ++i) {
      watch_spec s;
      s.key = fmt::format("key{}", i % 10);
      auto w = co_await c.watch(s);
      BOOST_REQUIRE(w.ok());
      streams.push_back(std::move(*w));
    }
    for (int i = 0; i < 10; ++i) BOOST_REQUIRE((co_await c.set(fmt::format("key{}", i), "v")).ok());
    for (int i = 0; i < 50; ++i) {
      BOOST_TEST(co_await next_text(*streams[i]) == fmt::format("put key{}=v@{}", i % 10, i % 10 + 2));
    }
    streams.resize(10);  // destroying a stream cancels its watch
    auto st = co_await c.status();
    BOOST_REQUIRE(st.ok());
    BOOST_TEST(st->number("watches") == 10u);
  });
}

BOOST_AUTO_TEST_CASE(resumes_across_a_restart_without_gaps_or_duplicates) {
  node_process node;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    client c(ctx.get_executor(), restart_tolerant_options(node.endpoint()));
    auto w = co_await c.watch(prefix_watch("r/"));
    BOOST_REQUIRE(w.ok());
    for (int i = 0; i < 3; ++i) BOOST_REQUIRE((co_await c.set(fmt::format("r/{}", i), "a")).ok());
    BOOST_TEST(co_await next_text(**w) == "put r/0=a@2");
    node.kill9();  // r/1 and r/2 may be queued or not: either way each comes once
    node.start();
    for (int i = 3; i < 5; ++i) BOOST_REQUIRE((co_await c.set(fmt::format("r/{}", i), "b")).ok());
    std::string seen;
    while (seen.find("r/4") == std::string::npos) seen += co_await next_text(**w) + " ";
    BOOST_TEST(seen == "put r/1=a@3 put r/2=a@4 put r/3=b@5 put r/4=b@6 ");
    c.close();
  });
}

// cancel() while the stream reconnects to a node that is down: when the node is back, the watch
// does not come back with it, and the next() in progress says it was cancelled.
BOOST_AUTO_TEST_CASE(a_watch_cancelled_while_it_reconnects_stays_cancelled) {
  node_process node;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    client c(ctx.get_executor(), restart_tolerant_options(node.endpoint()));
    auto w = co_await c.watch(prefix_watch("r/"));
    BOOST_REQUIRE(w.ok());
    std::optional<result<watch_batch>> got;
    asio::co_spawn(
        ctx, [&]() -> asio::awaitable<void> { got = co_await (*w)->next(); }, asio::detached);
    node.kill9();
    asio::steady_timer t(ctx, std::chrono::milliseconds(300));  // next() retries, between attempts
    co_await t.async_wait(asio::use_awaitable);
    (*w)->cancel();
    node.start();
    client writer(ctx.get_executor(), client_options(node.endpoint()));
    BOOST_REQUIRE((co_await writer.set("r/1", "x")).ok());
    writer.close();
    for (int i = 0; i < 100 && !got; ++i) {
      t.expires_after(std::chrono::milliseconds(20));
      co_await t.async_wait(asio::use_awaitable);
    }
    const auto answered = got;  // what next() said within 2 s
    (*w)->cancel();             // if the watch came back, this lets a next() still waiting return
    while (!got) {
      t.expires_after(std::chrono::milliseconds(20));
      co_await t.async_wait(asio::use_awaitable);
    }
    c.close();
    BOOST_REQUIRE_MESSAGE(answered, "next() did not return within 2 s of the cancel");
    BOOST_TEST(answered->error() == std::make_error_code(std::errc::operation_canceled),
               (answered->ok() ? "next() returned a batch after cancel()" : answered->message()));
  });
}

// Writes `writes` keys "big/NNNNN" of 64 KiB, 16 to a revision; the node's RSS growth in KiB.
std::uint64_t write_big_keys(node_process& node, int writes) {
  const std::string value(64 << 10, 'v');
  const auto before = rss_kib(node.pid());
  with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
    for (int i = 0; i < writes; i += 16) {
      std::vector<std::pair<std::string, std::string>> batch;
      for (int j = i; j < i + 16; ++j) batch.emplace_back(fmt::format("big/{:05}", j), value);
      BOOST_REQUIRE((co_await c.bulk_set(std::move(batch))).ok());
    }
  });
  return rss_kib(node.pid()) - before;
}

// A client that asks for a watch and then reads nothing: the node pauses the watch at its output
// limit instead of queueing, and when the client reads, every event arrives once, in order.
BOOST_AUTO_TEST_CASE(a_watcher_that_does_not_read_costs_bounded_memory) {
  const std::string toml = "[storage]\nfsync = \"never\"\nauto-compaction-mode = \"off\"\n[index]\nenabled = false\n";
  constexpr int writes = 1024;  // 64 MiB of events
  std::uint64_t control = 0;
  {
    node_process node(toml);
    control = write_big_keys(node, writes);
  }
  node_process node(toml);
  asio::io_context ctx;
  asio::ip::tcp::socket sock(ctx);
  asio::ip::tcp::resolver resolver(ctx);
  auto hp = node.endpoint();
  asio::connect(sock, resolver.resolve(hp.substr(0, hp.find(':')), hp.substr(hp.find(':') + 1)));
  sock.set_option(asio::socket_base::receive_buffer_size(64 << 10));
  std::string out;
  protocol::watch_request req;
  req.key = "big/";
  const auto end = prefix_end("big/");
  req.end = end;
  protocol::request_watch(out, 7, req);
  asio::write(sock, asio::buffer(out));
  const auto watched = write_big_keys(node, writes);
  BOOST_TEST_MESSAGE("node RSS growth over 64 MiB of writes: " << control << " KiB unwatched, " << watched
                                                              << " KiB with a watcher that does not read");
  // The output limit (4 MiB) and socket buffers, not a queue of 64 MiB of events.
  BOOST_TEST(watched < control + 24 * 1024);

  // Now read: the created answer, then every event, in revision order, exactly once.
  std::vector<char> buf;
  auto read_frame = [&]() -> protocol::frame {
    char len[4];
    asio::read(sock, asio::buffer(len, 4));
    std::uint32_t n = 0;
    std::memcpy(&n, len, 4);
    buf.resize(4 + n);
    std::memcpy(buf.data(), len, 4);
    asio::read(sock, asio::buffer(buf.data() + 4, n));
    auto r = protocol::parse_frame(std::string_view(buf.data(), buf.size()), 1u << 30);
    BOOST_REQUIRE(r.status == protocol::parse_status::ok);
    return r.f;
  };
  auto created = read_frame();
  BOOST_TEST(created.id == 7u);
  BOOST_TEST(created.code == static_cast<std::uint8_t>(protocol::status::ok));
  int next = 0;
  while (next < writes) {
    auto f = read_frame();
    BOOST_REQUIRE(f.code == static_cast<std::uint8_t>(protocol::status::events));
    auto body = protocol::parse_events(f.body);
    BOOST_REQUIRE(body.has_value());
    for (const auto& e : body->events) {
      BOOST_REQUIRE_EQUAL(e.kv.key, fmt::format("big/{:05}", next));
      BOOST_REQUIRE_EQUAL(e.kv.mod_revision, static_cast<std::uint64_t>(2 + next / 16));
      ++next;
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_watch_requests_get_precise_errors) {
  node_process node("max-watches = 4\n");
  // Raw frames: a malformed body, an id in use, a cancel of a watch that does not exist. The
  // socket stays open, its one watch counting against max-watches.
  asio::io_context ctx;
  asio::ip::tcp::socket sock(ctx);
  asio::ip::tcp::resolver resolver(ctx);
  auto hp = node.endpoint();
  asio::connect(sock, resolver.resolve(hp.substr(0, hp.find(':')), hp.substr(hp.find(':') + 1)));
  std::string out;
  auto start = protocol::begin_frame(out, static_cast<std::uint8_t>(protocol::op::watch), 0, 1);
  out += "xy";
  protocol::finish_frame(out, start);
  protocol::watch_request req;
  req.key = "a";
  protocol::request_watch(out, 2, req);
  protocol::request_watch(out, 2, req);
  protocol::request_watch_cancel(out, 3, 99);
  protocol::request_watch(out, 4, req);
  protocol::request_watch_cancel(out, 5, 4);
  asio::write(sock, asio::buffer(out));
  std::vector<std::pair<std::uint64_t, std::string>> answers;
  std::string in;
  while (answers.size() < 6) {
    char chunk[4096];
    in.append(chunk, sock.read_some(asio::buffer(chunk)));
    for (;;) {
      auto r = protocol::parse_frame(in, 1u << 20);
      if (r.status != protocol::parse_status::ok) break;
      auto status = protocol::status_name(static_cast<protocol::status>(r.f.code));
      auto msg = r.f.code == 0 ? std::string() : protocol::parse_error(r.f.body).message;
      answers.emplace_back(r.f.id, status + (msg.empty() ? "" : ": " + msg));
      in.erase(0, r.f.size);
    }
  }
  BOOST_TEST(answers[0].first == 1u);
  BOOST_TEST(answers[0].second.find("bad_request: malformed watch") == 0, answers[0].second);
  BOOST_TEST(answers[1].second == "ok");
  BOOST_TEST(answers[2].second.find("bad_request: watch 2 is already open") == 0, answers[2].second);
  BOOST_TEST(answers[3].second.find("not_found: no watch 99") == 0, answers[3].second);
  BOOST_TEST(answers[4].first == 4u);
  BOOST_TEST(answers[5].first == 5u);
  BOOST_TEST(answers[5].second == "ok");

  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    watch_spec huge;
    huge.key = std::string(5000, 'k');
    auto w = co_await c.watch(huge);
    BOOST_TEST(w.is(errc::too_large));
    std::vector<std::unique_ptr<watch_stream>> streams;
    for (int i = 0; i < 3; ++i) {
      auto ok = co_await c.watch(prefix_watch("a"));
      BOOST_REQUIRE(ok.ok());
      streams.push_back(std::move(*ok));
    }
    auto fourth = co_await c.watch(prefix_watch("a"));
    BOOST_TEST(fourth.is(errc::unavailable));
    BOOST_TEST(fourth.message().find("max-watches") != std::string::npos, fourth.message());
    BOOST_TEST((co_await c.set("still", "serving")).ok());
  });
}

BOOST_AUTO_TEST_SUITE_END()
