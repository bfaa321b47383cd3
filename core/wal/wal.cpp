#include "core/wal/wal.hpp"

#include "core/base/bytes.hpp"
#include "core/base/error.hpp"
#include "core/base/fail_stop.hpp"
#include "core/base/spawn.hpp"
#include "core/base/units.hpp"

#include <asio/co_spawn.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace kv::wal {

namespace {

constexpr std::size_t batch_frame_bytes = header_bytes + batch_payload_bytes;

bool all_zero(std::string_view data) noexcept {
  return std::all_of(data.begin(), data.end(), [](char c) { return c == 0; });
}

std::uint64_t parse_seq(std::string_view name) {
  std::uint64_t seq = 0;
  auto digits = name.substr(0, name.size() - 4);  // strip ".wal"
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (ec != std::errc{} || end != digits.data() + digits.size() || digits.size() != 20) return 0;
  return seq;
}

// How a segment's scan ended.
struct scan_end {
  bool damaged = false;
  std::uint64_t end = 0;          // clean: end of the last valid batch; damaged: start of the bad batch
  std::uint64_t bad_offset = 0;   // damaged: where the damage was seen
  std::string reason;
};

// Whether a valid batch record after the damaged batch at `damaged` says that the damaged
// batch was already durable when it was written. Batches still in flight at a crash are never
// vouched for by a later one, so this tells corruption from a torn tail. Runs only after damage
// was found.
bool later_batch_vouches_for(std::string_view data, std::uint64_t damaged) {
  for (std::uint64_t off = damaged + 1; off + batch_frame_bytes <= data.size(); ++off) {
    const char* h = data.data() + off;
    if (static_cast<record_type>(static_cast<std::uint8_t>(h[8])) != record_type::batch) continue;
    if (get_fixed<std::uint32_t>(h + 4) != batch_payload_bytes) continue;
    auto r = decode_record(data.substr(off, batch_frame_bytes));
    batch_info info;
    if (r.status == decode_status::ok && decode_batch(r.payload, info) && info.durable_through > damaged) return true;
  }
  return false;
}

// Walks the batches of one segment, calling visit(record) for each record of each fully valid
// batch, in order.
template <typename Visit>
scan_end scan_segment(std::string_view data, Visit&& visit) {
  std::uint64_t off = 0;
  auto damaged = [&](std::uint64_t batch_start, std::uint64_t at, std::string reason) {
    return scan_end{true, batch_start, at, std::move(reason)};
  };
  while (off < data.size()) {
    auto rest = data.substr(off);
    if (rest.size() < header_bytes || all_zero(rest.substr(0, header_bytes))) {
      if (all_zero(rest)) return scan_end{false, off, 0, {}};
      return damaged(off, off, "unexpected bytes after the end of the log");
    }
    auto head = decode_record(rest);
    batch_info info;
    if (head.status != decode_status::ok) return damaged(off, off, std::string("batch header: ") + to_string(head.status));
    if (head.header.type != record_type::batch || !decode_batch(head.payload, info)) {
      return damaged(off, off, "expected a batch record");
    }
    if (info.records_bytes > rest.size() - head.size) {
      return damaged(off, off, "batch runs past the end of the file");
    }
    auto body = rest.substr(head.size, info.records_bytes);
    std::vector<decoded_record> records;
    records.reserve(info.record_count);
    std::uint64_t pos = 0;
    for (std::uint32_t i = 0; i < info.record_count; ++i) {
      auto r = decode_record(body.substr(pos));
      if (r.status != decode_status::ok) return damaged(off, off + head.size + pos, to_string(r.status));
      if (r.header.type == record_type::batch) return damaged(off, off + head.size + pos, "nested batch record");
      records.push_back(r);
      pos += r.size;
    }
    if (pos != body.size()) return damaged(off, off + head.size + pos, "batch size does not match its records");
    for (const auto& r : records) visit(r);
    off += head.size + body.size();
  }
  return scan_end{false, off, 0, {}};
}

}  // namespace

std::string segment_name(std::uint64_t seq) { return fmt::format("{:020}.wal", seq); }

std::filesystem::path segment_path(const std::filesystem::path& dir, std::uint64_t seq) {
  return dir / segment_name(seq);
}

std::filesystem::path log::segment_path(std::uint64_t seq) const { return wal::segment_path(opts_.dir, seq); }

log::log(io::uring& ring, options opts, const recovered& found)
    : ring_(ring),
      opts_(std::move(opts)),
      active_offset_(found.end_offset),
      durable_offset_(found.end_offset),
      segments_(found.segments),
      hard_state_(found.state),
      last_index_(found.last_index),
      durable_index_(found.last_index),
      wake_(ring.executor()),
      spare_done_(ring.executor()) {
  std::filesystem::create_directories(opts_.dir);
  dir_fd_ = io::open_directory(opts_.dir);
  open_active_segment();
}

recovered log::read(const options& opts, std::uint64_t after_index) {
  std::filesystem::create_directories(opts.dir);
  auto names = io::list_files(opts.dir, "", ".wal");
  recovered out;
  std::uint64_t last_term = 0;
  std::uint64_t& last_index = out.last_index;  // of the entries replayed so far
  last_index = after_index;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto& name = names[i];
    std::uint64_t seq = parse_seq(name);
    if (seq == 0) throw corruption_error(fmt::format("{}: not a WAL segment name", (opts.dir / name).string()));
    auto path = opts.dir / name;
    io::mapped_file file(path);
    std::string_view data(file.data().data(), file.size());
    segment_info seg{seq, 0};

    auto visit = [&](const decoded_record& r) {
      const auto& h = r.header;
      if (h.type == record_type::hard_state) {
        byte_reader in(r.payload);
        out.state.term = h.term;
        out.state.vote = in.fixed<std::uint64_t>();
        out.state.commit = in.fixed<std::uint64_t>();
        return;
      }
      seg.max_index = std::max(seg.max_index, h.index);
      if (h.type == record_type::reset) {
        // Everything logged so far is superseded by the snapshot at h.index, which recovery
        // loaded (the newest snapshot is at least that recent).
        if (h.index > after_index) {
          throw corruption_error(fmt::format("{}: the log restarts after entry {}, but the newest snapshot covers "
                                             "only entry {}",
                                             path.string(), h.index, after_index));
        }
        out.entries.clear();
        last_index = after_index;
        last_term = 0;
        return;
      }
      if (h.index <= after_index) return;  // covered by the snapshot
      if (h.index > last_index + 1) {
        throw corruption_error(fmt::format("{}: gap in the log: entry {} follows entry {}", path.string(), h.index,
                                           last_index));
      }
      if (h.index <= last_index) {  // a later entry replaces a suffix (Raft conflict truncation)
        out.entries.resize(h.index - after_index - 1);
        last_term = out.entries.empty() ? 0 : out.entries.back().term;
      }
      if (h.term < last_term) {
        throw corruption_error(fmt::format("{}: entry {} has term {} after an entry of term {}", path.string(), h.index,
                                           h.term, last_term));
      }
      out.entries.push_back(entry{h.term, h.index, std::string(r.payload)});
      last_index = h.index;
      last_term = h.term;
    };
    auto end = scan_segment(data, visit);
    out.bytes += end.end;
    out.segments.push_back(seg);
    out.end_offset = end.end;
    if (!end.damaged) {
      // After a process crash the last batches may still be only in the page cache: make them
      // durable before anything is served from them.
      if (i + 1 == names.size()) {
        auto fd = io::open_file(path, O_RDWR);
        if (::fdatasync(fd.get()) != 0) {
          throw std::system_error(errno, std::generic_category(), "fdatasync " + path.string());
        }
      }
      continue;
    }

    auto where = fmt::format("{} at offset {}", path.string(), end.bad_offset);
    bool last_segment = i + 1 == names.size();
    if (!last_segment || later_batch_vouches_for(data, end.end)) {
      throw corruption_error(fmt::format("corrupt WAL record in {}: {}; later records show it had been durable, so "
                                         "this is not a torn write. Refusing to start; restore this node from a backup "
                                         "or a peer",
                                         where, end.reason));
    }
    // A torn tail: the batches from here on were being written when the node stopped and none
    // was acknowledged. Zero them, so that the space reads as the end of the log again.
    auto last_nonzero = data.size();
    while (last_nonzero > end.end && data[last_nonzero - 1] == 0) --last_nonzero;
    out.torn_bytes = last_nonzero - end.end;
    spdlog::warn("WAL: torn write at the end of the log in {} ({}); discarding {} bytes of unacknowledged batches "
                 "from offset {}",
                 where, end.reason, out.torn_bytes, end.end);
    auto fd = io::open_file(path, O_RDWR);
    io::write_all_at(fd.get(), std::string(out.torn_bytes, '\0'), end.end, path);
    if (::fdatasync(fd.get()) != 0) throw std::system_error(errno, std::generic_category(), "fdatasync " + path.string());
  }
  return out;
}

namespace {

constexpr std::size_t zero_chunk_bytes = std::size_t{1} << 20;
constexpr const char* spare_name = "next-segment.tmp";
// Each direct write is durable when it completes, as after an fdatasync.
constexpr int direct_open_flags = O_DIRECT | O_DSYNC;

const std::string& zeros() {
  static const std::string z(zero_chunk_bytes, '\0');
  return z;
}

bool is_lack_of_space(int error) noexcept { return error == ENOSPC || error == EDQUOT; }

// Bytes the file system holding `dir` has free for this process; nullopt if it cannot say. A
// file system that reports no size at all (ramfs, some FUSE file systems: zero blocks in all)
// says nothing of its free space either, and its writes are the test.
std::optional<std::uint64_t> free_bytes(const std::filesystem::path& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0 || st.f_blocks == 0) return std::nullopt;
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

// "3.2MiB": for people reading a log line, not for parsing (format_size is exact).
std::string approximate_size(std::uint64_t bytes) {
  if (bytes < (1u << 10)) return fmt::format("{}B", bytes);
  if (bytes < (1u << 20)) return fmt::format("{:.1f}KiB", bytes / 1024.0);
  if (bytes < (1ull << 30)) return fmt::format("{:.1f}MiB", bytes / 1048576.0);
  return fmt::format("{:.1f}GiB", bytes / 1073741824.0);
}

std::string describe_free(const std::filesystem::path& dir) {
  auto free = free_bytes(dir);
  return free ? approximate_size(*free) + " available" : "free space unknown";
}

}  // namespace

void log::open_active_segment() {
  std::error_code ignored;
  std::filesystem::remove(opts_.dir / spare_name, ignored);  // an unfinished spare of an earlier run
  if (segments_.empty()) {
    segments_.push_back(segment_info{1, 0});
    active_offset_ = 0;
  }
  auto path = segment_path(segments_.back().seq);
  const bool existed = std::filesystem::exists(path);
  active_fd_ = io::open_file(path, O_RDWR | O_CREAT);
  // Past the recovered data the file holds only zeros (recovery checked, or zeroed a torn
  // tail): whatever its size, it is filled that far. run() fills the rest in the background.
  struct stat st {};
  if (::fstat(active_fd_.get(), &st) != 0) throw std::system_error(errno, std::generic_category(), "fstat " + path.string());
  filled_ = std::max(static_cast<std::uint64_t>(st.st_size), active_offset_);
  if (!existed) io::sync_directory(opts_.dir);  // the new name is durable before data goes in
  open_direct(path);
}

void log::open_direct(const std::filesystem::path& path) {
  if (opts_.io == io_mode::buffered || !opts_.sync) return;
  int fd = ::open(path.c_str(), O_RDWR | direct_open_flags | O_CLOEXEC);
  if (fd < 0 && errno == EINVAL) {
    spdlog::warn("WAL: the file system of {} does not support direct I/O; writing through the page cache "
                 "(wal-io = \"buffered\")",
                 opts_.dir.string());
    return;
  }
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path.string());
  direct_fd_.reset(fd);
  // The tail block's bytes before active_offset_: every later batch rewrites them unchanged.
  auto block_start = io::aligned_buffer::round_down(active_offset_);
  tail_.assign(active_offset_ - block_start, '\0');
  for (std::size_t got = 0; got < tail_.size();) {
    auto n = ::pread(active_fd_.get(), tail_.data() + got, tail_.size() - got, static_cast<off_t>(block_start + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::system_error(n < 0 ? errno : EIO, std::generic_category(), "cannot read " + path.string());
    got += static_cast<std::size_t>(n);
  }
}

log::batch& log::writable_batch() {
  if (pending_.empty() || pending_.back().bytes.size() >= opts_.max_batch_bytes) {
    pending_.emplace_back();
    auto& bytes = pending_.back().bytes;
    if (!spare_buffers_.empty()) {
      bytes = std::move(spare_buffers_.back());
      spare_buffers_.pop_back();
    }
    bytes.assign(batch_frame_bytes, '\0');
    wake_.notify();
  }
  return pending_.back();
}

void log::append(std::uint64_t term, std::uint64_t index, std::string_view data) {
  if (index > last_index_ + 1) {
    fail_stop(fmt::format("WAL append of entry {} after entry {} would leave a gap", index, last_index_));
  }
  auto& b = writable_batch();
  auto before = b.bytes.size();
  append_record(b.bytes, record_type::entry, term, index, data);
  appended_bytes_ += b.bytes.size() - before;
  ++b.records;
  ++b.entries;
  b.last_index = index;
  last_index_ = index;
  record_queued(true);
}

void log::record_queued(bool entry) {
  ++queued_records_;
  // The batch a delay waits for is complete: cut the wait short.
  if (entry && ++pending_entries_ == expected_entries_) wake_.notify();
}

bool log::worth_waiting_for_more() const {
  return opts_.group_commit_delay.count() > 0 && in_flight_.empty() && !pending_.empty() && !stopping_ &&
         pending_entries_ < expected_entries_ &&
         std::chrono::steady_clock::now() < wait_from_ + opts_.group_commit_delay;
}

void log::reset(std::uint64_t index) {
  auto& b = writable_batch();
  append_record(b.bytes, record_type::reset, 0, index, {});
  ++b.records;
  b.last_index = index;
  last_index_ = index;
  record_queued(false);
}

void log::save_hard_state(const hard_state& hs) {
  hard_state_ = hs;
  std::string payload;
  append_fixed<std::uint64_t>(payload, hs.vote);
  append_fixed<std::uint64_t>(payload, hs.commit);
  auto& b = writable_batch();
  append_record(b.bytes, record_type::hard_state, hs.term, 0, payload);
  ++b.records;
  record_queued(false);
}

std::string log::hard_state_batch() const {
  std::string payload;
  append_fixed<std::uint64_t>(payload, hard_state_.vote);
  append_fixed<std::uint64_t>(payload, hard_state_.commit);
  std::string out(batch_frame_bytes, '\0');
  append_record(out, record_type::hard_state, hard_state_.term, 0, payload);
  write_batch_record(out.data(), 1, out.size() - batch_frame_bytes, 0);
  return out;
}

void log::set_group_commit_delay(std::chrono::microseconds delay) {
  opts_.group_commit_delay = delay;
  wake_.notify();  // a wait in progress ends, or is measured against the new delay
}

void log::stop() {
  stopping_ = true;
  wake_.notify();
}

asio::awaitable<void> log::run(std::function<void(std::uint64_t)> on_durable) {
  on_durable_ = std::move(on_durable);
  start_fill();  // a new or short active segment: its zeros are written from now on
  for (;;) {
    if (worth_waiting_for_more()) {
      co_await wake_.wait_until(wait_from_ + opts_.group_commit_delay);
      continue;
    }
    if (!space_problem_.empty() && retry_due() && !filling_ && !spare_preparing_) {
      // Try again to make room; if nothing needs room any more, the problem is gone.
      if (filled_ < opts_.segment_bytes) {
        start_fill();
      } else if (blocked_ || active_offset_ >= opts_.segment_bytes / 2) {
        start_spare();
      } else {
        note_space_ok();
      }
    }
    bool stuck = false;  // the front batch waits for room
    bool wrote = false;
    // Another batch joins those in flight only once it holds at least as many records as the
    // latest of them: syncing many small batches at once costs more than it saves.
    while (!pending_.empty() && in_flight_.size() < opts_.syncs_in_flight &&
           (in_flight_.empty() || pending_.front().records >= in_flight_.back().b.records) &&
           !switch_pending() && !shares_block_with_in_flight()) {
      auto size = pending_.front().bytes.size() + (active_offset_ == 0 ? hard_state_batch().size() : 0);
      auto where = place(size);
      if (where == placement::wait) {
        stuck = true;
        break;
      }
      if (where == placement::rotate) {
        co_await rotate();
        continue;
      }
      start_write(std::move(pending_.front()));
      pending_.pop_front();
      wrote = true;
    }
    // Blocked: the front batch waits and nothing under way can make room. It stays so through
    // the retries, until a batch is written again.
    if (!blocked_ && stuck && in_flight_.empty() && !filling_ && !spare_preparing_ && !space_problem_.empty()) {
      blocked_ = true;
      spdlog::error("WAL: the log cannot grow ({}); writes are refused until space is freed, retrying every {}",
                    space_problem_, format_duration(opts_.space_retry_interval));
    } else if (blocked_ && (wrote || pending_.empty())) {
      blocked_ = false;
      spdlog::info("WAL: the log grows again; writes are taken");
    }
    if (stopping_ && blocked_) {
      // Never acknowledged: nothing is lost by not writing them, and waiting could be forever.
      spdlog::warn("WAL: stopping with {} batch(es) unwritten for lack of space (none was acknowledged)",
                   pending_.size());
      pending_.clear();
      pending_entries_ = 0;
    }
    if (pending_.empty() && in_flight_.empty() && stopping_) {
      while (spare_preparing_ || filling_) co_await spare_done_.wait();  // they use this object
      co_return;
    }
    if (!space_problem_.empty() && !filling_ && !spare_preparing_) {
      co_await wake_.wait_until(space_retry_at_);
    } else {
      co_await wake_.wait();
    }
  }
}

bool log::switch_pending() {
  if (!choosing_path()) return false;
  const bool held = choice_.falling_back();
  const bool want = choice_.direct(std::chrono::steady_clock::now());
  if (held && !choice_.falling_back()) spdlog::info("WAL: trying direct writes again");
  if (want == use_direct_) return false;
  if (!in_flight_.empty()) return true;  // the other path's writes first
  use_direct_ = want;
  return false;
}

void log::advance_tail(const in_flight_write& w) {
  // The block holding w.end, from its start: the old tail and all of w's bytes if w ends in the
  // block it began in, else the last bytes of w.
  const auto keep = w.end - io::aligned_buffer::round_down(w.end);
  const auto added = w.first.size() + w.b.bytes.size();
  if (keep > added) {
    tail_.append(w.first);
    tail_.append(w.b.bytes);
    return;
  }
  tail_.clear();
  if (keep > w.b.bytes.size()) tail_.append(w.first, w.first.size() - (keep - w.b.bytes.size()));
  tail_.append(w.b.bytes, w.b.bytes.size() - std::min<std::uint64_t>(keep, w.b.bytes.size()));
}

void log::note_completion(const in_flight_write& w) {
  const auto now = std::chrono::steady_clock::now();
  switch (choice_.completed(w.direct, now - w.submitted, now)) {
    case io_choice::verdict::fell_back:
      spdlog::warn("WAL: direct writes are slow (median {} µs over the last {}, limit {} µs: with every CPU busy "
                   "the kernel completes them late); writing through the page cache for {} s",
                   std::chrono::duration_cast<std::chrono::microseconds>(choice_.direct_median()).count(),
                   opts_.choice.window, std::chrono::duration_cast<std::chrono::microseconds>(choice_.limit()).count(),
                   std::chrono::duration_cast<std::chrono::seconds>(choice_.hold()).count());
      break;
    case io_choice::verdict::proved:
      spdlog::info("WAL: direct writes are fast again (median {} µs)",
                   std::chrono::duration_cast<std::chrono::microseconds>(choice_.direct_median()).count());
      break;
    case io_choice::verdict::none:
      break;
  }
}

bool log::shares_block_with_in_flight() const noexcept {
  return direct_io() && !in_flight_.empty() && active_offset_ % io::aligned_buffer::block_bytes != 0;
}

log::placement log::place(std::uint64_t size) {
  // A direct write reaches to the end of its last block: that block must be zeros already.
  auto end = direct_io() ? io::aligned_buffer::round_up(active_offset_ + size) : active_offset_ + size;
  if (end <= filled_) return placement::write;
  if (filled_ < opts_.segment_bytes) {  // the zeros ahead are still being written
    start_fill();
    return placement::wait;
  }
  if (active_offset_ == 0) return placement::write;  // larger than a segment: it gets one of its own
  if (!in_flight_.empty()) return placement::wait;  // a new segment starts only once the old one is all durable
  if (spare_fd_) return placement::rotate;
  start_spare();
  return placement::wait;
}

bool log::out_of_space() const noexcept {
  if (blocked_) return true;
  if (space_problem_.empty() || spare_fd_) return false;
  return active_offset_ + opts_.max_batch_bytes >= std::min(filled_, opts_.segment_bytes);
}

bool log::retry_due() const noexcept {
  return space_problem_.empty() || std::chrono::steady_clock::now() >= space_retry_at_;
}

void log::note_space_problem(std::string what) {
  if (space_problem_.empty()) spdlog::warn("WAL: {}", what);
  space_problem_ = std::move(what);
  space_retry_at_ = std::chrono::steady_clock::now() + opts_.space_retry_interval;
}

void log::note_space_ok() {
  if (space_problem_.empty()) return;
  spdlog::info("WAL: space available again in {} ({})", opts_.dir.string(), describe_free(opts_.dir));
  space_problem_.clear();
}

void log::start_write(batch b) {
  pending_entries_ -= b.entries;
  write_batch_record(b.bytes.data(), b.records, b.bytes.size() - batch_frame_bytes, durable_offset_);
  auto& w = in_flight_.emplace_back();
  w.b = std::move(b);
  // Every segment starts with the hard state, so deleting older segments never loses it.
  if (active_offset_ == 0) w.first = hard_state_batch();
  w.offset = active_offset_;
  w.end = active_offset_ + w.first.size() + w.b.bytes.size();
  if (choosing_path()) choice_.started(use_direct_);
  if (direct_io()) {
    prepare_direct(w);
  } else {
    int n = 0;
    if (!w.first.empty()) w.iov[n++] = {w.first.data(), w.first.size()};
    w.iov[n++] = {w.b.bytes.data(), w.b.bytes.size()};
    w.iov_count = n;
    w.write_offset = w.offset;
    if (direct_open()) advance_tail(w);
  }
  active_offset_ = w.end;
  segments_.back().max_index = std::max(segments_.back().max_index, w.b.last_index);
  if (active_offset_ >= opts_.segment_bytes / 2) start_spare();  // ready long before it is needed
  asio::co_spawn(ring_.executor(), write(&w), stop_on_failure("a WAL write"));
}

void log::prepare_direct(in_flight_write& w) {
  const auto block_start = w.offset - tail_.size();
  const auto data_end = tail_.size() + w.first.size() + w.b.bytes.size();
  const auto padded = io::aligned_buffer::round_up(data_end);
  if (!spare_blocks_.empty()) {
    w.blocks = std::move(spare_blocks_.back());
    spare_blocks_.pop_back();
  }
  w.blocks.reserve(padded);
  char* out = w.blocks.data();
  std::memcpy(out, tail_.data(), tail_.size());
  std::memcpy(out + tail_.size(), w.first.data(), w.first.size());
  std::memcpy(out + tail_.size() + w.first.size(), w.b.bytes.data(), w.b.bytes.size());
  std::memset(out + data_end, 0, padded - data_end);  // what the preallocated segment holds there
  const auto last_block = io::aligned_buffer::round_down(data_end);
  tail_.assign(out + last_block, data_end - last_block);
  w.direct = true;
  w.write_offset = block_start;
  w.iov[0] = {out, padded};
  w.iov_count = 1;
}

asio::awaitable<void> log::write(in_flight_write* w) {
  std::span<const iovec> iov(w->iov, static_cast<std::size_t>(w->iov_count));
  std::uint64_t total = 0;
  for (const auto& v : iov) total += v.iov_len;
  int rc = 0;
  if (choosing_path()) w->submitted = std::chrono::steady_clock::now();
  if (w->direct) {
    rc = co_await ring_.write(direct_fd_.get(), iov, w->write_offset);
  } else if (opts_.sync) {
    rc = co_await ring_.write_and_datasync(active_fd_.get(), iov, w->write_offset);
  } else {
    rc = co_await ring_.write(active_fd_.get(), iov, w->write_offset);
  }
  auto path = segment_path(segments_.back().seq);
  const char* how = w->direct ? " (direct, O_DSYNC)" : opts_.sync ? " + fdatasync" : "";
  if (rc < 0) {
    fail_stop(fmt::format("WAL write{} of {} bytes at offset {} of {} failed: {}", how, total, w->write_offset,
                          path.string(), std::strerror(-rc)));
  }
  // write_and_datasync reports a short write as an error; the others return the count.
  if ((w->direct || !opts_.sync) && static_cast<std::uint64_t>(rc) != total) {
    fail_stop(fmt::format("WAL write{} of {} bytes at offset {} of {} was short ({} bytes)", how, total,
                          w->write_offset, path.string(), rc));
  }
  w->done = true;
  if (choosing_path()) note_completion(*w);
  // Batches become durable in log order: the first one not done holds back those after it.
  bool advanced = false;
  while (!in_flight_.empty() && in_flight_.front().done) {
    auto& front = in_flight_.front();
    if (front.b.last_index != 0) durable_index_ = front.b.last_index;
    durable_offset_ = front.end;
    ++stats_.batches;
    if (front.direct) ++stats_.direct_batches;
    stats_.records += front.b.records;
    durable_records_ += front.b.records;
    // The writers of this batch are answered now and will likely write again at once.
    expected_entries_ = front.b.entries + pending_entries_;
    wait_from_ = std::chrono::steady_clock::now();
    stats_.bytes += front.end - front.offset;
    if (spare_buffers_.size() < 4) spare_buffers_.push_back(std::move(front.b.bytes));
    if (front.direct && spare_blocks_.size() < 4) spare_blocks_.push_back(std::move(front.blocks));
    in_flight_.pop_front();
    advanced = true;
  }
  if (advanced) on_durable_(durable_index_);
  wake_.notify();
}

void log::start_spare() {
  if (spare_preparing_ || spare_fd_ || !retry_due()) return;
  spare_preparing_ = true;
  asio::co_spawn(ring_.executor(), prepare_spare(), stop_on_failure("preparing the next WAL segment"));
}

void log::start_fill() {
  if (filling_ || filled_ >= opts_.segment_bytes || !retry_due()) return;
  filling_ = true;
  asio::co_spawn(ring_.executor(), fill_active(), stop_on_failure("zero-filling the active WAL segment"));
}

asio::awaitable<int> log::write_zeros(int fd, std::uint64_t from, std::uint64_t to, std::uint64_t* done,
                                      const std::filesystem::path& path) {
  for (std::uint64_t at = from; at < to;) {
    auto n = std::min<std::uint64_t>(zero_chunk_bytes, to - at);
    iovec iov{const_cast<char*>(zeros().data()), n};
    int rc = co_await ring_.write(fd, std::span<const iovec>(&iov, 1), at);
    if (rc < 0 && is_lack_of_space(-rc)) co_return -rc;
    if (rc <= 0) {
      fail_stop(fmt::format("cannot write zeros at offset {} of {}: {}", at, path.string(),
                            rc < 0 ? std::strerror(-rc) : "no progress"));
    }
    if (opts_.sync) {
      // Each chunk reaches the disk before the next is written. Left to the final fsync, a
      // segment's zeros (64 MiB by default) would reach the device at once, and the log's own
      // fdatasyncs would queue behind them: stalls of tens of milliseconds at every rotation.
      if (int wb = co_await ring_.write_back(fd, at, static_cast<std::uint64_t>(rc)); wb < 0) {
        if (is_lack_of_space(-wb)) co_return -wb;
        fail_stop(fmt::format("cannot write back zeros at offset {} of {}: {}", at, path.string(), std::strerror(-wb)));
      }
    }
    at += static_cast<std::uint64_t>(rc);  // a short write is retried, and then says why it stopped
    *done = at;
    wake_.notify();
  }
  co_return 0;
}

asio::awaitable<void> log::fill_active() {
  const auto path = segment_path(segments_.back().seq);
  const int fd = active_fd_.get();  // no rotation while filling: place() waits for the fill
  int error = co_await write_zeros(fd, filled_, opts_.segment_bytes, &filled_, path);
  if (error == 0) {
    if (opts_.sync) {
      if (int rc = co_await ring_.fsync(fd); rc < 0) fail_stop(fmt::format("fsync {}: {}", path.string(), std::strerror(-rc)));
    }
    note_space_ok();
  } else {
    note_space_problem(fmt::format("{}: cannot fill the active WAL segment {} to {} (at {}): {}", std::strerror(error),
                                   path.string(), format_size(opts_.segment_bytes), format_size(filled_),
                                   describe_free(opts_.dir)));
  }
  filling_ = false;
  spare_done_.notify();
  wake_.notify();
}

asio::awaitable<void> log::prepare_spare() {
  const auto path = opts_.dir / spare_name;
  auto finish = [this] {
    spare_preparing_ = false;
    spare_done_.notify();
    wake_.notify();
  };
  auto lack_of_space = [&](int error) {
    note_space_problem(fmt::format("{}: cannot prepare the next WAL segment {}: it needs {}, {}", std::strerror(error),
                                   path.string(), format_size(opts_.segment_bytes), describe_free(opts_.dir)));
  };
  if (auto free = free_bytes(opts_.dir); free && *free < opts_.segment_bytes) {
    lack_of_space(ENOSPC);  // known before writing anything
    co_return finish();
  }
  int fd = co_await ring_.openat(dir_fd_.get(), spare_name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 && is_lack_of_space(-fd)) {
    lack_of_space(-fd);
    co_return finish();
  }
  if (fd < 0) fail_stop(fmt::format("cannot create the next WAL segment {}: {}", path.string(), std::strerror(-fd)));
  io::unique_fd file(fd);
  std::uint64_t written = 0;
  if (int error = co_await write_zeros(fd, 0, opts_.segment_bytes, &written, path); error != 0) {
    file.reset();
    co_await ring_.unlinkat(dir_fd_.get(), spare_name);  // give the space back
    lack_of_space(error);
    co_return finish();
  }
  if (opts_.sync) {
    if (int rc = co_await ring_.fsync(fd); rc < 0) fail_stop(fmt::format("fsync {}: {}", path.string(), std::strerror(-rc)));
  }
  if (direct_open()) {
    // Opened for direct I/O now, so a rotation only renames. If this fails the next segment is
    // written through the page cache (rotate() says so).
    int direct_fd = co_await ring_.openat(dir_fd_.get(), spare_name, O_RDWR | direct_open_flags | O_CLOEXEC, 0);
    if (direct_fd >= 0) spare_direct_fd_.reset(direct_fd);
  }
  spare_fd_ = std::move(file);
  note_space_ok();
  finish();
}

asio::awaitable<void> log::rotate() {
  auto seq = segments_.back().seq + 1;
  auto name = segment_name(seq);
  if (int rc = co_await ring_.renameat(dir_fd_.get(), spare_name, name); rc < 0) {
    fail_stop(fmt::format("cannot rename {} to {}: {}", (opts_.dir / spare_name).string(), segment_path(seq).string(),
                          std::strerror(-rc)));
  }
  if (opts_.sync) {
    if (int rc = co_await ring_.fsync(dir_fd_.get()); rc < 0) {
      fail_stop(fmt::format("cannot sync directory {}: {}", opts_.dir.string(), std::strerror(-rc)));
    }
  }
  active_fd_ = std::move(spare_fd_);
  if (direct_open() && !spare_direct_fd_) {
    spdlog::warn("WAL: cannot open {} for direct I/O; writing through the page cache from now on",
                 segment_path(seq).string());
  }
  direct_fd_ = std::move(spare_direct_fd_);
  tail_.clear();
  active_offset_ = 0;
  durable_offset_ = 0;
  filled_ = opts_.segment_bytes;
  segments_.push_back(segment_info{seq, 0});
  spdlog::debug("WAL: started segment {}", segment_path(seq).string());
}

asio::awaitable<void> log::compact(std::uint64_t index) {
  std::vector<std::uint64_t> doomed;
  while (segments_.size() > 1 && segments_.front().max_index <= index) {
    doomed.push_back(segments_.front().seq);
    segments_.pop_front();
  }
  if (doomed.empty()) co_return;
  // Short of space, the space comes back at once.
  auto* trash = space_problem_.empty() ? opts_.trash : nullptr;
  std::vector<std::string> trashed;
  for (auto seq : doomed) {
    const auto name = segment_name(seq);
    if (trash != nullptr) {
      if (int rc = co_await ring_.renameat(dir_fd_.get(), name, io::trash::trash_name(name)); rc == 0) {
        trashed.push_back(name);
      } else if (rc != -ENOENT) {
        fail_stop(fmt::format("cannot move WAL segment {} to the trash: {}", segment_path(seq).string(),
                              std::strerror(-rc)));
      }
    } else if (int rc = co_await ring_.unlinkat(dir_fd_.get(), name); rc < 0 && rc != -ENOENT) {
      fail_stop(fmt::format("cannot delete WAL segment {}: {}", segment_path(seq).string(), std::strerror(-rc)));
    }
  }
  if (opts_.sync) {
    if (int rc = co_await ring_.fsync(dir_fd_.get()); rc < 0) {
      fail_stop(fmt::format("cannot sync directory {}: {}", opts_.dir.string(), std::strerror(-rc)));
    }
  }
  for (const auto& name : trashed) trash->add(name);
  spdlog::info("WAL: deleted {} segment(s) covered by the snapshot at index {}", doomed.size(), index);
  if (!space_problem_.empty()) {  // space was freed: try again now
    space_retry_at_ = std::chrono::steady_clock::now();
    wake_.notify();
  }
}

}  // namespace kv::wal
