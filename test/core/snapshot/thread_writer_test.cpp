// A snapshot written by its own thread (snapshot::thread_writer) while the owner goes on writing:
// the file is byte for byte the one a capture of a twin state writes with nothing written
// meanwhile. Built apart so that `make test-tsan` runs it under ThreadSanitizer, which checks
// what equal bytes cannot: that the thread reads no memory the owner's writes change
// (keyspace.hpp, "Capture by another thread").

#include "core/model/command.hpp"
#include "core/snapshot/snapshot.hpp"
#include "core/snapshot/writer.hpp"
#include "core/state/state_machine.hpp"
#include "support/seeds.hpp"
#include "support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

using namespace kv;

namespace {

void run(state_machine& sm, const std::string& bytes) {
  auto cmd = decode_command(bytes);
  BOOST_REQUIRE(cmd.ok());
  sm.apply(sm.applied_index() + 1, *cmd);  // a del of a missing key is refused: fine here
}

std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Random commands over `keys` keys: sets (some values too long for the key's block), deletes,
// counters, several writes of one key in one entry, and compactions.
class writer {
 public:
  writer(std::uint64_t seed, int keys) : rng_(seed), keys_(keys) {}

  std::string next(const state_machine& sm) {
    const auto dice = pick(100);
    if (dice < 50) return encode_set(key(), value());
    if (dice < 65) return encode_del(key());
    if (dice < 75) return encode_incr(fmt::format("counter{:03}", pick(50)), 1);
    if (dice < 90) {
      std::vector<kv_pair> pairs;
      const auto k = key();
      for (int i = 0; i < 3; ++i) pairs.push_back({pick(2) == 0 ? k : key(), value()});
      return encode_bulk_set(pairs);
    }
    const auto lo = sm.keys().compacted();
    const auto hi = sm.revision();
    return lo < hi ? encode_compact(lo + 1 + pick(hi - lo)) : encode_noop();
  }

 private:
  std::uint64_t pick(std::uint64_t n) { return rng_() % n; }
  std::string key() { return fmt::format("key{:05}", pick(keys_)); }
  std::string value() { return pick(6) == 0 ? std::string(200 + pick(800), 'L') : fmt::format("v{}", pick(100000)); }

  std::mt19937_64 rng_;
  int keys_;
};

// The records around the chunks of a snapshot of `sm`.
snapshot::file_parts parts_of(const state_machine& sm) {
  return {snapshot::encode_header(sm.applied_index(), 1, sm.key_count()), snapshot::encode_sessions("sessions"),
          std::string()};
}

// `n` of `w`'s commands applied to `sm`.
void fill(state_machine& sm, writer& w, int n) {
  for (int i = 0; i < n; ++i) run(sm, w.next(sm));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(snapshot_thread_writer)

BOOST_AUTO_TEST_CASE(the_thread_writes_what_a_quiet_capture_writes) {
  kv::test::for_each_seed("KV_THREAD_WRITER_SEED", "KV_THREAD_WRITER_SEEDS", 6, [](std::uint64_t seed) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      constexpr int keys = 6000;
      state_machine live;
      state_machine twin;
      writer history(seed, keys);
      for (int i = 0; i < 20'000; ++i) {
        const auto cmd = history.next(live);
        run(live, cmd);
        run(twin, cmd);
      }
      kv::test::temp_dir dir;
      const auto quiet_path = dir.path() / "quiet.snap";
      const auto thread_path = dir.path() / "thread.snap";
      {
        int fd = ::open(quiet_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        BOOST_REQUIRE(fd >= 0);
        auto out = snapshot::write_file(fd, twin, parts_of(twin), false, 1u << 16);
        ::close(fd);
        BOOST_REQUIRE((out.failed == snapshot::write_outcome::step::none));
      }
      int fd = ::open(thread_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      BOOST_REQUIRE(fd >= 0);
      std::atomic<int> wakes{0};
      int written_during = 0;
      {
        writer during(seed * 7919, keys);
        snapshot::thread_writer w(live, fd, parts_of(live), false, 1u << 16, [&] { wakes.fetch_add(1); });
        while (!w.pump()) {
          run(live, during.next(live));
          ++written_during;
          if (written_during % 64 == 0) std::this_thread::yield();
        }
        BOOST_TEST((w.outcome().failed == snapshot::write_outcome::step::none));
        BOOST_TEST(w.outcome().pairs > 0u);
      }
      ::close(fd);
      BOOST_TEST(!live.capturing());
      BOOST_TEST(wakes.load() > 0);
      BOOST_TEST(written_during > 0);  // else the test proves nothing
      const auto want = file_bytes(quiet_path);
      BOOST_TEST(want.size() > 10'000u);
      BOOST_TEST((file_bytes(thread_path) == want));
      // And the file loads: the state at the capture's index.
      state_machine loaded;
      auto meta = snapshot::load(thread_path, loaded);
      BOOST_TEST(meta.index == twin.applied_index());
      BOOST_TEST(loaded.key_count() == twin.key_count());
      BOOST_TEST(loaded.revision() == twin.revision());
    }
  });
}

// A writer given up part-way (the store going away) stops its thread, ends the capture and
// leaves the state as usable as before.
BOOST_AUTO_TEST_CASE(a_writer_destroyed_part_way_ends_the_capture) {
  state_machine sm;
  writer history(3, 20'000);
  fill(sm, history, 30'000);
  kv::test::temp_dir dir;
  const auto path = dir.path() / "partial.snap";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  BOOST_REQUIRE(fd >= 0);
  {
    snapshot::thread_writer w(sm, fd, parts_of(sm), false, 1u << 16, [] {});
    BOOST_TEST(!w.pump());
    BOOST_TEST(sm.capturing());
  }
  ::close(fd);
  BOOST_TEST(!sm.capturing());
  fill(sm, history, 1000);
  BOOST_TEST(sm.key_count() > 0u);
}

// A failed write (here: the file is read-only) ends the capture with the failing step and its
// errno, and the rest of the state is let go unread.
BOOST_AUTO_TEST_CASE(a_failed_write_is_reported_and_ends_the_capture) {
  state_machine sm;
  writer history(5, 20'000);
  fill(sm, history, 30'000);
  kv::test::temp_dir dir;
  const auto path = dir.path() / "readonly.snap";
  { std::ofstream(path) << ""; }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  snapshot::write_outcome out;
  {
    snapshot::thread_writer w(sm, fd, parts_of(sm), false, 1u << 16, [] {});
    while (!w.pump()) std::this_thread::yield();
    out = w.outcome();
  }
  ::close(fd);
  BOOST_TEST((out.failed == snapshot::write_outcome::step::write));
  BOOST_TEST(out.error == EBADF);
  BOOST_TEST(!sm.capturing());
}

BOOST_AUTO_TEST_SUITE_END()
