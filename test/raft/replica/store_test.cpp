#include "core/snapshot/snapshot.hpp"
#include "raft/replica/store.hpp"
#include "support/async.hpp"
#include "support/temp_dir.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <map>
#include <set>

using namespace kv;
using namespace kv::test;

namespace {
// g++ 12 cannot hold an initializer_list in a coroutine frame; build pair lists out of line.
template <typename... S>
std::vector<kv_pair> pairs(S... kv) {
  std::vector<std::string> flat{std::string(kv)...};
  std::vector<kv_pair> out;
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2) out.push_back({flat[i], flat[i + 1]});
  return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(store_engine)

BOOST_AUTO_TEST_CASE(set_get_overwrite_delete) {
  temp_dir dir;
  with_store(dir.path(), small_storage(), [](store& s) -> asio::awaitable<void> {
    auto i1 = co_await s.set("k", "v1");
    BOOST_TEST(i1.ok());
    BOOST_TEST(*s.get("k") == "v1");
    auto i2 = co_await s.set("k", "v2");
    BOOST_TEST(*i2 > *i1);
    BOOST_TEST(*s.get("k") == "v2");
    BOOST_TEST(s.get("missing").is(errc::not_found));
    BOOST_TEST((co_await s.del("k")).ok());
    BOOST_TEST(s.get("k").is(errc::not_found));
    BOOST_TEST((co_await s.del("k")).is(errc::not_found));
  });
}

BOOST_AUTO_TEST_CASE(invalid_writes_are_refused_without_touching_the_log) {
  temp_dir dir;
  auto cfg = small_storage();
  cfg.max_key_bytes = 8;
  cfg.max_value_bytes = 16;
  with_store(dir.path(), cfg, [](store& s) -> asio::awaitable<void> {
    auto before = s.log().last_index();
    BOOST_TEST((co_await s.set(std::string(), "v")).is(errc::bad_request));
    BOOST_TEST((co_await s.set("123456789", "v")).is(errc::too_large));
    BOOST_TEST((co_await s.set("k", std::string(17, 'v'))).is(errc::too_large));
    BOOST_TEST((co_await s.del(std::string())).is(errc::bad_request));
    BOOST_TEST((co_await s.bulk_set(pairs())).is(errc::bad_request));
    BOOST_TEST((co_await s.bulk_set(pairs("ok", "v", "way-too-long", "v"))).is(errc::too_large));
    BOOST_TEST(s.log().last_index() == before);
    BOOST_TEST(s.get("ok").is(errc::not_found));  // nothing of the refused bulk_set applied
  });
}

BOOST_AUTO_TEST_CASE(bulk_set_is_one_entry_with_all_pairs) {
  temp_dir dir;
  with_store(dir.path(), small_storage(), [](store& s) -> asio::awaitable<void> {
    auto before = s.log().last_index();
    auto r = co_await s.bulk_set(pairs("a", "1", "b", "2", "c", "3"));
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(*r == before + 1);
    BOOST_TEST(*s.get("a") == "1");
    BOOST_TEST(*s.get("c") == "3");
  });
}

BOOST_AUTO_TEST_CASE(writes_survive_restart) {
  temp_dir dir;
  with_store(dir.path(), small_storage(), [](store& s) -> asio::awaitable<void> {
    for (int i = 0; i < 100; ++i) co_await s.set("key" + std::to_string(i), "value" + std::to_string(i));
    co_await s.del("key7");
    co_await s.bulk_set(pairs("b1", "x", "b2", "y"));
  });
  with_store(dir.path(), small_storage(), [](store& s) -> asio::awaitable<void> {
    // 100 sets, a delete and a bulk_set, after the no-op the node appended when it became leader.
    BOOST_TEST(s.recovery().replayed_entries == 103u);
    BOOST_TEST(*s.get("key0") == "value0");
    BOOST_TEST(*s.get("key99") == "value99");
    BOOST_TEST(s.get("key7").is(errc::not_found));
    BOOST_TEST(*s.get("b2") == "y");
    BOOST_TEST(s.state().key_count() == 101u);
    // New writes continue the log after the recovered entries and this term's no-op.
    auto r = co_await s.set("after", "restart");
    BOOST_TEST(*r == 105u);
    co_return;
  });
}

// What the search front ends read hits' values at: exact from the recovered state on, never a
// guess before it.
BOOST_AUTO_TEST_CASE(revision_at_index_is_exact_or_unknown) {
  temp_dir dir;
  std::uint64_t first = 0;
  with_store(dir.path(), small_storage(), [&first](store& s) -> asio::awaitable<void> {
    auto i1 = co_await s.set("a", "1");
    const auto r1 = s.state().revision();
    auto i2 = co_await s.set("b", "2");
    const auto r2 = s.state().revision();
    BOOST_REQUIRE(i1.ok());
    BOOST_REQUIRE(i2.ok());
    first = *i1;
    BOOST_TEST(s.revision_at_index(*i1 - 1).value_or(99) == r1 - 1);  // the leader's no-op took none
    BOOST_TEST(s.revision_at_index(*i1).value_or(99) == r1);
    BOOST_TEST(s.revision_at_index(*i2).value_or(99) == r2);
    BOOST_TEST(s.revision_at_index(*i2 + 10).value_or(99) == r2);  // past the applied index: the current one
  });
  with_store(dir.path(), small_storage(), [&first](store& s) -> asio::awaitable<void> {
    // The replayed entries left no marks: before the recovered state, the revision is unknown.
    BOOST_TEST(!s.revision_at_index(first).has_value());
    BOOST_TEST(s.revision_at_index(s.applied_index()).value_or(99) == s.state().revision());
    auto i3 = co_await s.set("c", "3");
    BOOST_REQUIRE(i3.ok());
    BOOST_TEST(s.revision_at_index(*i3 - 1).value_or(99) == s.state().revision() - 1);
    BOOST_TEST(s.revision_at_index(*i3).value_or(99) == s.state().revision());
  });
}

BOOST_AUTO_TEST_CASE(recovery_from_snapshot_plus_log) {
  temp_dir dir;
  with_store(dir.path(), small_storage(), [](store& s) -> asio::awaitable<void> {
    for (int i = 0; i < 500; ++i) co_await s.set("key" + std::to_string(i), "v1-" + std::to_string(i));
    co_await s.snapshot_now();
    BOOST_TEST(s.statistics().snapshots == 1u);
    // After the snapshot: overwrites, deletes and new keys, only in the log.
    for (int i = 0; i < 500; i += 2) co_await s.set("key" + std::to_string(i), "v2-" + std::to_string(i));
    for (int i = 1; i < 500; i += 10) co_await s.del("key" + std::to_string(i));
    co_await s.set("new", "n");
  });
  BOOST_TEST(snapshot::newest(dir.path()).has_value());
  with_store(dir.path(), small_storage(), [](store& s) -> asio::awaitable<void> {
    BOOST_TEST(s.recovery().snapshot_index == 501u);  // the 500 sets after the first term's no-op
    BOOST_TEST(s.recovery().replayed_entries == 250u + 50u + 1u);
    for (int i = 0; i < 500; ++i) {
      auto v = s.get("key" + std::to_string(i));
      if (i % 2 == 0) {
        BOOST_TEST(*v == "v2-" + std::to_string(i));
      } else if (i % 10 == 1) {
        BOOST_TEST(v.is(errc::not_found));
      } else {
        BOOST_TEST(*v == "v1-" + std::to_string(i));
      }
    }
    BOOST_TEST(*s.get("new") == "n");
    co_return;
  });
}

BOOST_AUTO_TEST_CASE(automatic_snapshots_bound_the_log) {
  temp_dir dir;
  auto cfg = small_storage();
  cfg.snapshot_entries = 300;
  with_store(dir.path(), cfg, [](store& s) -> asio::awaitable<void> {
    for (int i = 0; i < 2000; ++i) co_await s.set("key" + std::to_string(i % 200), std::string(200, 'v'));
    co_await s.snapshot_now();  // wait for any snapshot still running
    BOOST_TEST(s.statistics().snapshots >= 5u);
  });
  auto segments = io::list_files(dir.path(), "", ".wal");
  BOOST_TEST(segments.size() <= 3u);                                         // covered segments were deleted
  BOOST_TEST(io::list_files(dir.path(), "snap-", ".snap").size() == 1u);   // only the newest snapshot is kept
  BOOST_TEST(io::list_files(dir.path(), "", ".trash").empty());  // the rest deleted, at the latest on stopping
  with_store(dir.path(), cfg, [](store& s) -> asio::awaitable<void> {
    BOOST_TEST(s.state().key_count() == 200u);
    BOOST_TEST(s.recovery().snapshot_index > 1500u);
    BOOST_TEST(s.applied_index() == 2001u);  // 2000 sets after a no-op
    co_return;
  });
}

// The log bound grows with the state (snapshot_log_percent of the last snapshot's size), so a
// store filled from empty takes a few snapshots, not one per snapshot_log_bytes; the size is
// taken from the loaded snapshot after a restart.
BOOST_AUTO_TEST_CASE(snapshot_log_bound_grows_with_the_state) {
  auto fill = [](store& s, int from, int to) -> asio::awaitable<void> {
    for (int b = from; b < to; ++b) {
      std::vector<kv_pair> pairs;
      for (int i = 0; i < 16; ++i) pairs.push_back({"key" + std::to_string(b * 16 + i), std::string(1000, 'v')});
      BOOST_TEST((co_await s.bulk_set(std::move(pairs))).ok());
      // Deterministic counts: no write while a snapshot runs (snapshot_now() only waits then).
      if (s.snapshot_running()) co_await s.snapshot_now();
    }
  };
  auto cfg = small_storage();
  cfg.snapshot_log_bytes = 32u << 10;
  cfg.snapshot_entries = 1u << 30;
  // 128 entries of 16 KB: 2 MB of log and state.
  {
    temp_dir dir;
    cfg.snapshot_log_percent = 0;
    with_store(dir.path(), cfg, [&](store& s) -> asio::awaitable<void> {
      co_await fill(s, 0, 128);
      BOOST_TEST(s.statistics().snapshots >= 30u);  // one per 32-48 KB of log
      co_await s.snapshot_now();
    });
  }
  temp_dir dir;
  cfg.snapshot_log_percent = 100;
  with_store(dir.path(), cfg, [&](store& s) -> asio::awaitable<void> {
    co_await fill(s, 0, 128);
    // Each snapshot at about twice the last one's state: 32 KB, 64 KB, ... 1 MB, maybe 2 MB.
    co_await s.snapshot_now();  // one more, of the whole state, for the restart below
    BOOST_TEST(s.statistics().snapshots >= 6u);
    BOOST_TEST(s.statistics().snapshots <= 8u);
    BOOST_TEST(s.statistics().last_snapshot_bytes >= 2'000'000u);
  });
  with_store(dir.path(), cfg, [&](store& s) -> asio::awaitable<void> {
    BOOST_TEST(s.state().key_count() == 128u * 16u);
    // 320 KB more log: over snapshot_log_bytes, under the restored snapshot's size.
    co_await fill(s, 128, 148);
    BOOST_TEST(!s.snapshot_running());
    BOOST_TEST(s.statistics().snapshots == 0u);
  });
}

// The entry bound grows with the state too (snapshot_log_percent of the last snapshot's keys),
// so a store of many keys is not captured whole every snapshot_entries writes; after a restart
// the key count is the loaded snapshot's.
BOOST_AUTO_TEST_CASE(snapshot_entry_bound_grows_with_the_state) {
  auto fill = [](store& s, int from, int to) -> asio::awaitable<void> {
    for (int i = from; i < to; ++i) {
      BOOST_TEST((co_await s.set("key" + std::to_string(i), "v")).ok());
      // Deterministic counts: no write while a snapshot runs (snapshot_now() only waits then).
      if (s.snapshot_running()) co_await s.snapshot_now();
    }
  };
  auto cfg = small_storage();
  cfg.snapshot_log_bytes = 1ull << 40;
  cfg.snapshot_entries = 100;
  // 1,600 new keys, one entry each.
  {
    temp_dir dir;
    cfg.snapshot_log_percent = 0;
    with_store(dir.path(), cfg, [&](store& s) -> asio::awaitable<void> {
      co_await fill(s, 0, 1600);
      BOOST_TEST(s.statistics().snapshots >= 15u);  // one per 100 entries
    });
  }
  temp_dir dir;
  cfg.snapshot_log_percent = 100;
  with_store(dir.path(), cfg, [&](store& s) -> asio::awaitable<void> {
    co_await fill(s, 0, 1600);
    // At about 100, 200, 400 and 800 keys, then 1,600 with the one asked for below.
    BOOST_TEST(s.statistics().snapshots >= 4u);
    BOOST_TEST(s.statistics().snapshots <= 5u);
    co_await s.snapshot_now();
  });
  with_store(dir.path(), cfg, [&](store& s) -> asio::awaitable<void> {
    BOOST_TEST(s.state().key_count() == 1600u);
    // 1,000 entries more: over snapshot_entries, under the restored snapshot's 1,600 keys.
    co_await fill(s, 1600, 2600);
    BOOST_TEST(s.statistics().snapshots == 0u);
    co_await fill(s, 2600, 3300);
    BOOST_TEST(s.statistics().snapshots == 1u);
  });
}

// Exactly-once writes: a write sent again in its session is answered as the first time and
// not applied twice, also after a snapshot and a restart.
BOOST_AUTO_TEST_CASE(writes_in_a_session_apply_once) {
  temp_dir dir;
  auto in_session = [](std::uint64_t id, std::uint64_t seq) {
    session_ref r;
    r.session = id;
    r.seq = seq;
    r.first_unacked = 1;
    return r;
  };
  auto write = [](auto submit) -> asio::awaitable<result<std::uint64_t>> {
    co_return co_await io::async_park<result<std::uint64_t>>(
        [&](io::completion<void(result<std::uint64_t>)> c) {
          submit([c = std::move(c)](result<std::uint64_t> r) mutable { c(std::move(r)); });
        },
        asio::use_awaitable);
  };
  std::uint64_t id = 0;
  std::uint64_t first_index = 0;
  with_store(dir.path(), small_storage(), [&](store& s) -> asio::awaitable<void> {
    auto opened = co_await write([&](store::write_done d) { s.submit_open_session(std::move(d)); });
    BOOST_REQUIRE(opened.ok());
    id = *opened;
    auto a = co_await write([&](store::write_done d) { s.submit_set("k", "1", std::move(d), in_session(id, 1)); });
    BOOST_REQUIRE(a.ok());
    first_index = *a;
    co_await s.set("k", "2");  // someone else overwrites
    // The first write again (its answer was lost, say): same answer, and k keeps "2".
    auto again = co_await write([&](store::write_done d) { s.submit_set("k", "1", std::move(d), in_session(id, 1)); });
    BOOST_REQUIRE(again.ok());
    BOOST_TEST(*again == first_index);
    BOOST_TEST(*s.get("k") == "2");
    // A delete's outcome is remembered too: not_found again, even though the key exists now.
    auto d1 = co_await write([&](store::write_done d) { s.submit_del("missing", std::move(d), in_session(id, 2)); });
    BOOST_TEST(d1.is(errc::not_found));
    co_await s.set("missing", "now here");
    auto d2 = co_await write([&](store::write_done d) { s.submit_del("missing", std::move(d), in_session(id, 2)); });
    BOOST_TEST(d2.is(errc::not_found));
    BOOST_TEST(*s.get("missing") == "now here");
    auto unknown = co_await write([&](store::write_done d) { s.submit_set("k", "x", std::move(d), in_session(999, 1)); });
    BOOST_TEST(unknown.is(errc::session_expired));
    co_await s.snapshot_now();
  });
  with_store(dir.path(), small_storage(), [&](store& s) -> asio::awaitable<void> {
    BOOST_TEST(s.sessions().size() == 1u);
    auto again = co_await write([&](store::write_done d) { s.submit_set("k", "1", std::move(d), in_session(id, 1)); });
    BOOST_REQUIRE(again.ok());
    BOOST_TEST(*again == first_index);
    BOOST_TEST(*s.get("k") == "2");
  });
}

BOOST_AUTO_TEST_CASE(the_least_recently_used_session_expires) {
  session_table t(2);
  t.open(10);
  t.open(20);
  session_table::outcome prev;
  BOOST_TEST((t.check(10, 1, 1, 30, prev) == session_table::verdict::apply));  // 10 is now the most recent
  t.record(10, 1, {30, errc::ok, {}});
  t.open(40);  // a third session: 20 goes
  BOOST_TEST((t.check(20, 1, 1, 41, prev) == session_table::verdict::expired));
  BOOST_TEST((t.check(10, 1, 1, 42, prev) == session_table::verdict::duplicate));
  BOOST_TEST(prev.index == 30u);
  // Seqs below first_unacked are forgotten.
  BOOST_TEST((t.check(10, 1, 2, 43, prev) == session_table::verdict::stale));
  session_table copy;
  BOOST_REQUIRE(copy.decode(t.encode()));
  BOOST_TEST((copy == t));
  BOOST_TEST(!copy.decode("garbage"));
}

// Many coroutines writing at once share group commits, and each sees exactly its own results.
BOOST_AUTO_TEST_CASE(concurrent_writers_get_isolated_results) {
  temp_dir dir;
  std::map<std::string, std::string> expected;
  with_store(dir.path(), small_storage(), [&](store& s) -> asio::awaitable<void> {
    constexpr int writers = 64;
    constexpr int per_writer = 50;
    std::set<std::uint64_t> indexes;
    int finished = 0;
    io::event done(co_await asio::this_coro::executor);
    for (int w = 0; w < writers; ++w) {
      asio::co_spawn(
          co_await asio::this_coro::executor,
          [&, w]() -> asio::awaitable<void> {
            for (int i = 0; i < per_writer; ++i) {
              auto key = "w" + std::to_string(w) + "-" + std::to_string(i % 10);
              auto value = "value-" + std::to_string(w) + "-" + std::to_string(i);
              auto r = co_await s.set(key, value);
              BOOST_REQUIRE(r.ok());
              BOOST_TEST(indexes.insert(*r).second);  // every write has its own index
              BOOST_TEST(*s.get(key) == value);       // read-your-writes
              expected[key] = value;
            }
            if (++finished == writers) done.notify();
          },
          asio::detached);
    }
    while (finished < writers) co_await done.wait();
    BOOST_TEST(indexes.size() == std::size_t(writers * per_writer));
    BOOST_TEST(s.log().written().batches < std::uint64_t(writers * per_writer));  // writes shared batches
  });
  with_store(dir.path(), small_storage(), [&](store& s) -> asio::awaitable<void> {
    BOOST_TEST(s.state().key_count() == expected.size());
    for (const auto& [k, v] : expected) BOOST_TEST(*s.get(k) == v);
    co_return;
  });
}

BOOST_AUTO_TEST_CASE(writes_after_stop_are_refused) {
  temp_dir dir;
  with_store(dir.path(), small_storage(), [](store& s) -> asio::awaitable<void> {
    s.stop();
    BOOST_TEST((co_await s.set("k", "v")).is(errc::unavailable));
  });
}

BOOST_AUTO_TEST_CASE(a_second_process_on_the_directory_is_refused) {
  temp_dir dir;
  asio::io_context ctx;
  store first(ctx.get_executor(), dir.path(), small_storage());
  try {
    store second(ctx.get_executor(), dir.path(), small_storage());
    BOOST_FAIL("a second store opened a locked directory");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find("in use by another kvnode process") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(fsync_never_still_stores) {
  temp_dir dir;
  auto cfg = small_storage();
  cfg.fsync = fsync_policy::never;
  with_store(dir.path(), cfg, [](store& s) -> asio::awaitable<void> { co_await s.set("k", "v"); });
  with_store(dir.path(), cfg, [](store& s) -> asio::awaitable<void> {
    BOOST_TEST(*s.get("k") == "v");
    co_return;
  });
}

BOOST_AUTO_TEST_CASE(corrupt_data_directory_refuses_to_open) {
  temp_dir dir;
  with_store(dir.path(), small_storage(), [](store& s) -> asio::awaitable<void> {
    for (int i = 0; i < 50; ++i) co_await s.set("key" + std::to_string(i), "value");
    co_await s.snapshot_now();
  });
  auto snap = *snapshot::newest(dir.path());
  auto size = std::filesystem::file_size(snap);
  std::filesystem::resize_file(snap, size - 3);
  asio::io_context ctx;
  try {
    store s(ctx.get_executor(), dir.path(), small_storage());
    BOOST_FAIL("opened a data directory with a truncated snapshot");
  } catch (const corruption_error& e) {
    BOOST_TEST(std::string(e.what()).find(snap.string()) != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()
