#include "core/store.hpp"

#include "core/fail_stop.hpp"
#include "core/bytes.hpp"
#include "core/snapshot.hpp"
#include "core/spawn.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>

#include <climits>
#include <cstring>
#include <future>

namespace kv {

namespace {

// Apply at most this many entries before letting other coroutines run.
constexpr std::size_t apply_round_entries = 64;
// Snapshot chunks are written once this many bytes are queued.
constexpr std::size_t snapshot_write_bytes = 1u << 20;
// The longest the snapshot's capture runs before letting other work on the event loop run.
constexpr std::chrono::microseconds snapshot_capture_slice{300};
// Writeback of a snapshot file is started every this many bytes, so that its final fdatasync
// does not flush the whole file at once and stall the WAL's syncs behind it.
constexpr std::uint64_t snapshot_writeback_bytes = 8u << 20;

std::filesystem::path created(std::filesystem::path dir) {
  std::filesystem::create_directories(dir);
  return dir;
}

// How many keys the entries set, at most: sizes the state machine before a replay.
std::uint64_t keys_written(const std::vector<wal::entry>& entries) {
  std::uint64_t keys = 0;
  for (const auto& e : entries) {
    auto cmd = decode_command(e.data);
    if (cmd) keys += cmd->type == command_type::bulk_set ? cmd->count : 1;
  }
  return keys;
}

template <typename Clock = std::chrono::steady_clock>
std::chrono::microseconds since(typename Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}

}  // namespace

store::store(asio::any_io_executor executor, std::filesystem::path dir, storage_config cfg)
    : executor_(executor),
      dir_(std::move(dir)),
      cfg_(std::move(cfg)),
      lock_(created(dir_)),
      ring_(executor),
      apply_wake_(executor),
      snapshot_done_(executor) {
  dir_fd_ = io::open_directory(dir_);
  recover();
}

store::~store() = default;

void store::remove_stale_files() {
  for (const auto& name : io::list_files(dir_, "snap-", ".tmp")) {
    spdlog::info("removing the unfinished snapshot {}", (dir_ / name).string());
    std::filesystem::remove(dir_ / name);
  }
  auto snaps = io::list_files(dir_, "snap-", ".snap");
  for (std::size_t i = 0; i + 1 < snaps.size(); ++i) std::filesystem::remove(dir_ / snaps[i]);
}

void store::recover() {
  auto start = std::chrono::steady_clock::now();
  remove_stale_files();
  auto snapshot_path = snapshot::newest(dir_);
  auto snapshot_index = snapshot_path ? snapshot::read_header(*snapshot_path).index : 0;

  // Two cores: read the log on a helper thread while this one loads the snapshot.
  wal::options opts{dir_,
                    cfg_.segment_bytes,
                    cfg_.max_batch_bytes,
                    cfg_.fsync == fsync_policy::always,
                    static_cast<std::size_t>(cfg_.syncs_in_flight),
                    cfg_.group_commit_delay};
  auto log_read = std::async(std::launch::async, [&] {
    auto log_start = std::chrono::steady_clock::now();
    auto found = wal::log::read(opts, snapshot_index);
    recovery_.log_read_duration = since(log_start);
    return found;
  });
  try {
    if (snapshot_path) {
      auto m = snapshot::load(*snapshot_path, sm_);
      recovery_.snapshot_index = m.index;
      recovery_.snapshot_pairs = m.pairs;
      snapshot_index_ = m.index;
      applied_term_ = m.term;
      term_ = std::max(term_, m.term);
    }
  } catch (...) {
    log_read.wait();
    throw;
  }
  recovery_.snapshot_duration = since(start);
  wal::recovered rec = log_read.get();
  wal_ = std::make_unique<wal::log>(ring_, opts, rec);
  auto replay_start = std::chrono::steady_clock::now();
  sm_.reserve(sm_.key_count() + keys_written(rec.entries));
  for (const auto& e : rec.entries) {
    auto cmd = decode_command(e.data);
    if (!cmd) {
      throw corruption_error(fmt::format("{}: log entry {} holds a malformed command", dir_.string(), e.index));
    }
    sm_.apply(e.index, *cmd);
    applied_term_ = e.term;
    term_ = std::max(term_, e.term);
    log_bytes_ += wal::header_bytes + e.data.size();
  }
  commit_index_ = sm_.applied_index();
  recovery_.replay_duration = since(replay_start);
  recovery_.replayed_entries = rec.entries.size();
  recovery_.torn_bytes = rec.torn_bytes;
  recovery_.segments = rec.segments.size();
  recovery_.duration = since(start);
}

errc store::check_key(std::string_view key) const {
  if (key.empty()) return errc::bad_request;
  if (key.size() > cfg_.max_key_bytes) return errc::too_large;
  return errc::ok;
}

errc store::check_pair(std::string_view key, std::string_view value) const {
  if (auto e = check_key(key); e != errc::ok) return e;
  return value.size() > cfg_.max_value_bytes ? errc::too_large : errc::ok;
}

void store::submit_set(std::string_view key, std::string_view value, write_done done) {
  if (auto e = check_pair(key, value); e != errc::ok) return done(e);
  propose(encode_set(key, value), std::move(done));
}

void store::submit_del(std::string_view key, write_done done) {
  if (auto e = check_key(key); e != errc::ok) return done(e);
  propose(encode_del(key), std::move(done));
}

void store::submit_bulk_set(std::string_view pairs, std::uint32_t count, write_done done) {
  if (count == 0 || !valid_pairs(pairs, count)) return done(errc::bad_request);
  errc e = errc::ok;
  for_each_pair(pairs, count, [&](std::string_view k, std::string_view v) {
    if (e == errc::ok) e = check_pair(k, v);
  });
  if (e != errc::ok) return done(e);
  std::string command;
  command.reserve(1 + 4 + pairs.size());
  command.push_back(static_cast<char>(command_type::bulk_set));
  append_fixed<std::uint32_t>(command, count);
  command.append(pairs);
  propose(std::move(command), std::move(done));
}

asio::awaitable<result<std::uint64_t>> store::await_write(auto submit) {
  co_return co_await io::async_park<result<std::uint64_t>>(
      [&](io::completion<void(result<std::uint64_t>)> c) {
        submit([c = std::move(c)](result<std::uint64_t> r) mutable { c(std::move(r)); });
      },
      asio::use_awaitable);
}

asio::awaitable<result<std::uint64_t>> store::set(std::string key, std::string value) {
  co_return co_await await_write([&](write_done done) { submit_set(key, value, std::move(done)); });
}

asio::awaitable<result<std::uint64_t>> store::del(std::string key) {
  co_return co_await await_write([&](write_done done) { submit_del(key, std::move(done)); });
}

asio::awaitable<result<std::uint64_t>> store::bulk_set(std::vector<kv_pair> pairs) {
  std::string encoded;
  for (const auto& p : pairs) append_pair(encoded, p.key, p.value);
  auto count = static_cast<std::uint32_t>(pairs.size());
  co_return co_await await_write([&](write_done done) { submit_bulk_set(encoded, count, std::move(done)); });
}

result<std::string> store::get(std::string_view key) const {
  auto v = sm_.get(key);
  if (!v) return errc::not_found;
  return std::string(*v);
}

void store::propose(std::string command, write_done done) {
  if (stopping_) return done(errc::unavailable);
  if (command.size() > cfg_.max_batch_bytes) return done(errc::too_large);
  auto index = wal_->last_index() + 1;
  wal_->append(term_, index, command);
  log_bytes_ += wal::header_bytes + command.size();
  unapplied_.push_back(pending_entry{index, term_, std::move(command)});
  waiters_.push_back(waiter{index, std::move(done)});
}

void store::on_durable(std::uint64_t index) {
  // One voter: an entry is committed as soon as it is durable.
  commit_index_ = index;
  apply_wake_.notify();
}

asio::awaitable<void> store::run() {
  using namespace asio::experimental::awaitable_operators;
  co_await (wal_->run([this](std::uint64_t index) { on_durable(index); }) && apply_loop());
}

void store::stop() {
  if (stopping_) return;
  stopping_ = true;
  wal_->stop();
  apply_wake_.notify();
}

asio::awaitable<void> store::apply_loop() {
  for (;;) {
    if (sm_.applied_index() < commit_index_) {
      apply_committed();
      maybe_start_snapshot();
      co_await asio::post(executor_, asio::use_awaitable);
      continue;
    }
    if (stopping_ && unapplied_.empty()) {
      while (snapshot_running_) co_await snapshot_done_.wait();
      co_return;
    }
    co_await apply_wake_.wait();
  }
}

void store::apply_committed() {
  for (std::size_t n = 0; n < apply_round_entries && sm_.applied_index() < commit_index_; ++n) {
    auto& e = unapplied_.front();
    auto cmd = decode_command(e.command);
    if (!cmd) fail_stop(fmt::format("log entry {} holds a malformed command", e.index));
    errc outcome = sm_.apply(e.index, *cmd);
    applied_term_ = e.term;
    if (!waiters_.empty() && waiters_.front().index == e.index) {
      auto done = std::move(waiters_.front().done);
      waiters_.pop_front();
      if (outcome == errc::ok) {
        done(e.index);
      } else {
        done(outcome);
      }
    }
    unapplied_.pop_front();
  }
}

void store::maybe_start_snapshot() {
  if (snapshot_running_ || stopping_) return;
  bool by_entries = sm_.applied_index() - snapshot_index_ >= cfg_.snapshot_entries;
  bool by_bytes = log_bytes_ - log_bytes_at_snapshot_ >= cfg_.snapshot_log_bytes;
  if (!by_entries && !by_bytes) return;
  snapshot_running_ = true;
  asio::co_spawn(executor_, take_snapshot(), stop_on_failure("the snapshot"));
}

asio::awaitable<void> store::snapshot_now() {
  if (!snapshot_running_ && sm_.applied_index() > snapshot_index_) {
    snapshot_running_ = true;
    co_await take_snapshot();
    co_return;
  }
  while (snapshot_running_) co_await snapshot_done_.wait();
}

asio::awaitable<void> store::take_snapshot() {
  snapshot_running_ = true;
  auto start = std::chrono::steady_clock::now();
  const auto index = sm_.applied_index();
  const auto term = applied_term_;
  const auto bytes_mark = log_bytes_;
  const auto final_name = snapshot::file_name(index);
  const auto tmp_name = final_name + ".tmp";
  auto fail = [&](std::string_view what, int rc) {
    fail_stop(fmt::format("snapshot {}: {} failed: {}", (dir_ / tmp_name).string(), what, std::strerror(-rc)));
  };

  int fd = co_await ring_.openat(dir_fd_.get(), tmp_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("create", fd);
  io::unique_fd file(fd);

  std::vector<std::string> queued;
  std::size_t queued_bytes = 0;
  std::uint64_t offset = 0;
  std::uint64_t written_back = 0;
  std::uint64_t pairs = 0;
  std::uint64_t chunks = 0;
  queued.push_back(snapshot::encode_header(index, term, sm_.key_count()));
  queued_bytes += queued.back().size();
  sm_.begin_capture([&](state_machine::chunk c) {
    pairs += c.count;
    ++chunks;
    queued.push_back(snapshot::encode_chunk(c));
    queued_bytes += queued.back().size();
  });
  auto write_queued = [&]() -> asio::awaitable<void> {
    while (!queued.empty()) {
      // Take the batch out first: writes arriving during the await may queue more chunks.
      std::vector<std::string> batch;
      batch.swap(queued);
      queued_bytes = 0;
      for (std::size_t i = 0; i < batch.size(); i += IOV_MAX) {
        std::vector<iovec> iov;
        std::uint64_t len = 0;
        for (std::size_t j = i; j < batch.size() && j < i + IOV_MAX; ++j) {
          iov.push_back({batch[j].data(), batch[j].size()});
          len += batch[j].size();
        }
        int rc = co_await ring_.write(file.get(), iov, offset);
        if (rc < 0) fail("write", rc);
        if (static_cast<std::uint64_t>(rc) != len) fail("write (short)", -EIO);
        offset += len;
      }
      if (offset - written_back >= snapshot_writeback_bytes) {
        if (int rc = co_await ring_.start_writeback(file.get(), written_back, offset - written_back); rc < 0) {
          fail("sync_file_range", rc);
        }
        written_back = offset;
      }
    }
  };
  // Capture in short slices so that writes keep flowing between them.
  for (bool more = true; more;) {
    auto slice_start = std::chrono::steady_clock::now();
    do {
      more = sm_.capture_step();
    } while (more && queued_bytes < snapshot_write_bytes &&
             std::chrono::steady_clock::now() - slice_start < snapshot_capture_slice);
    if (!more || queued_bytes >= snapshot_write_bytes) {
      co_await write_queued();
    } else {
      co_await asio::post(executor_, asio::use_awaitable);
    }
  }
  queued.push_back(snapshot::encode_footer(pairs, chunks));
  co_await write_queued();
  if (cfg_.fsync == fsync_policy::always) {
    if (int rc = co_await ring_.fdatasync(file.get()); rc < 0) fail("fdatasync", rc);
  }
  file.reset();
  if (int rc = co_await ring_.renameat(dir_fd_.get(), tmp_name, final_name); rc < 0) fail("rename", rc);
  if (cfg_.fsync == fsync_policy::always) {
    if (int rc = co_await ring_.fsync(dir_fd_.get()); rc < 0) fail("directory fsync", rc);
  }
  // The new snapshot is durable: older snapshots and the log it covers can go.
  for (const auto& name : io::list_files(dir_, "snap-", ".snap")) {
    if (name != final_name) co_await ring_.unlinkat(dir_fd_.get(), name);
  }
  snapshot_index_ = index;
  log_bytes_at_snapshot_ = bytes_mark;
  co_await wal_->compact(index);

  stats_.snapshots++;
  stats_.last_snapshot_index = index;
  stats_.last_snapshot_duration = since(start);
  spdlog::info("snapshot at index {} written: {} keys, {} bytes in {} ms", index, pairs, offset,
               stats_.last_snapshot_duration.count() / 1000);
  snapshot_running_ = false;
  snapshot_done_.notify();
}

}  // namespace kv
