// A failed save of the search index, on a real kvnode process: the data directory is made to
// refuse new files with `chattr +i`. That needs root (CAP_LINUX_IMMUTABLE) and a file system
// with the immutable flag under $TMPDIR: without them the executable exits 77 before any test
// runs, which ctest reports as skipped.

#include "harness/node_process.hpp"
#include "harness/temp_dir.hpp"
#include "integration/search_util.hpp"
#include "support/client_util.hpp"
#include "support/skip.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <string>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;

namespace {

// Skips the executable where `chattr +i` does not work on a directory like a node's.
struct require_chattr {
  require_chattr() {
    temp_dir probe;
    const auto dir = probe.path().string();
    if (std::system(("chattr +i " + dir + " 2>/dev/null").c_str()) != 0) {
      skip_executable("the index save failure test needs chattr +i (root, a file system with the immutable flag) on " +
                      dir);
    }
    (void)std::system(("chattr -i " + dir).c_str());
  }
};
BOOST_TEST_GLOBAL_FIXTURE(require_chattr);

}  // namespace

BOOST_AUTO_TEST_SUITE(search_process)

// A save that fails (the data directory refuses new files: `chattr +i`, which binds root too)
// is logged and costs nothing else: the node serves reads, writes and searches, keeps its
// older saved index, and a restart from that one indexes the log after it.
BOOST_AUTO_TEST_CASE(a_failed_index_save_is_logged_and_loses_nothing) {
  node_process node("[storage]\nsnapshot-entries = 1000000\n[index]\nsave-interval = \"4KiB\"\n");
  const std::string dir = node.data_dir().string();
  auto wait_saves = [](client& c, std::uint64_t at_least) -> asio::awaitable<node_status> {
    node_status st;
    for (int i = 0; i < 250; ++i) {
      st = co_await index_caught_up(c);
      if (st.number("index_saves") >= at_least) break;
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
      co_await t.async_wait(asio::use_awaitable);
    }
    co_return st;
  };
  std::uint64_t saves = 0;
  with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
    co_await write_corpus(c, 300);
    saves = (co_await wait_saves(c, 1)).number("index_saves");
  });
  BOOST_REQUIRE(saves > 0u);
  BOOST_REQUIRE_MESSAGE(std::system(("chattr +i " + dir).c_str()) == 0, "chattr +i " << dir);
  struct unlock {
    std::string dir;
    ~unlock() { (void)std::system(("chattr -i " + dir).c_str()); }
  } guard{dir};
  std::uint64_t digest = 0;
  with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
    for (int i = 0; i < 100; ++i) {  // ~8 KiB of log: past the save interval
      BOOST_REQUIRE((co_await c.set(fmt::format("after{}", i), "written after the lock zebra")).ok());
    }
    for (int i = 0; i < 250 && node.log().find("cannot save it") == std::string::npos; ++i) {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
      co_await t.async_wait(asio::use_awaitable);
    }
    BOOST_TEST(node.log().find("search index: cannot save it to") != std::string::npos);
    auto st = co_await index_caught_up(c);
    BOOST_TEST(st.number("index_saves") == saves);
    digest = st.number("index_digest");
    auto found = co_await c.search(word("lock"));
    BOOST_REQUIRE(found.ok());
    BOOST_TEST(found->total == 100u);
    BOOST_TEST((co_await c.get("after7")).value() == "written after the lock zebra");
  });
  (void)std::system(("chattr -i " + dir).c_str());
  node.kill9();
  node.start();
  with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
    auto st = co_await index_caught_up(c);
    BOOST_TEST(st.number("index_loads") == 1u);  // the older saved index
    BOOST_TEST(st.number("index_digest") == digest);
    auto found = co_await c.search(word("lock"));
    BOOST_REQUIRE(found.ok());
    BOOST_TEST(found->total == 100u);
  });
}

BOOST_AUTO_TEST_SUITE_END()
