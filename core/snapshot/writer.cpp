#include "core/snapshot/writer.hpp"

#include "core/snapshot/snapshot.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <system_error>
#include <utility>
#include <vector>

namespace kv::snapshot {

namespace {

// Chunks are written once this many bytes are queued.
constexpr std::size_t write_bytes = 1u << 20;
// The snapshot thread's nice value (thread_writer).
constexpr int snapshot_thread_nice = 10;

}  // namespace

const char* step_name(write_outcome::step s) noexcept {
  switch (s) {
    case write_outcome::step::none: return "nothing";
    case write_outcome::step::write: return "write";
    case write_outcome::step::writeback: return "sync_file_range";
    case write_outcome::step::fdatasync: return "fdatasync";
  }
  return "?";
}

void file_records::open(std::string header, std::string revisions) {
  queue(std::move(header));
  queue(std::move(revisions));
}

void file_records::add_chunk(state_machine::chunk c) {
  if (c.count == 0) return;
  pairs_ += c.count;
  ++chunks_;
  queue(chunk_header(c));
  queue(std::move(c.keys));
}

void file_records::close(file_parts& parts) {
  queue(std::move(parts.sessions));
  if (!parts.leases.empty()) queue(std::move(parts.leases));
  queue(encode_footer(pairs_, chunks_));
}

std::vector<std::string> file_records::take() {
  queued_bytes_ = 0;
  return std::exchange(queued_, {});
}

void file_records::queue(std::string bytes) {
  queued_bytes_ += bytes.size();
  queued_.push_back(std::move(bytes));
}

file_stream::file_stream(state_machine& sm, file_parts parts) : sm_(sm), parts_(std::move(parts)) {
  sm_.begin_capture([this](state_machine::chunk c) { records_.add_chunk(std::move(c)); });
  records_.open(std::move(parts_.header),
                encode_revisions(sm_.capture_revision(), sm_.capture_compacted(), sm_.capture_clock()));
}

bool file_stream::step() {
  if (sm_.capture_step()) return true;
  records_.close(parts_);
  return false;
}

std::uint64_t gather(const std::vector<std::string>& bufs, std::size_t from, std::vector<iovec>& iov) {
  iov.clear();
  std::uint64_t len = 0;
  for (std::size_t j = from; j < bufs.size() && j < from + IOV_MAX; ++j) {
    iov.push_back({const_cast<char*>(bufs[j].data()), bufs[j].size()});
    len += bufs[j].size();
  }
  return len;
}

namespace {

// A snapshot file written from offset 0 with blocking system calls, written back every
// `writeback_bytes` (write_file()'s contract); records the first failure in `out`.
class file_output {
 public:
  file_output(int fd, std::uint64_t writeback_bytes, write_outcome& out)
      : fd_(fd), writeback_bytes_(writeback_bytes), out_(out) {}

  // Appends `bufs`; false once a system call failed (a short write counts as ENOSPC).
  bool write(const std::vector<std::string>& bufs) {
    std::vector<iovec> iov;
    for (std::size_t i = 0; i < bufs.size(); i += IOV_MAX) {
      const auto len = gather(bufs, i, iov);
      ssize_t rc;
      do {
        rc = ::pwritev(fd_, iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(out_.bytes));
      } while (rc < 0 && errno == EINTR);
      if (rc < 0) return fail(write_outcome::step::write, errno);
      if (static_cast<std::uint64_t>(rc) != len) return fail(write_outcome::step::write, ENOSPC);
      out_.bytes += len;
    }
    if (out_.bytes - written_back_ >= writeback_bytes_) {
      if (::sync_file_range(fd_, static_cast<off_t>(written_back_), static_cast<off_t>(out_.bytes - written_back_),
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
        return fail(write_outcome::step::writeback, errno);
      }
      written_back_ = out_.bytes;
    }
    return true;
  }

  bool sync() { return ::fdatasync(fd_) == 0 || fail(write_outcome::step::fdatasync, errno); }

 private:
  bool fail(write_outcome::step s, int error) {
    out_.failed = s;
    out_.error = error;
    return false;
  }

  int fd_;
  std::uint64_t writeback_bytes_;
  std::uint64_t written_back_ = 0;
  write_outcome& out_;
};

}  // namespace

write_outcome write_file(int fd, state_machine& sm, file_parts parts, bool sync, std::uint64_t writeback_bytes) {
  write_outcome out;
  file_output file(fd, writeback_bytes, out);
  file_stream stream(sm, std::move(parts));
  for (bool more = true; more;) {
    more = stream.step();
    if ((!more || stream.queued_bytes() >= write_bytes) && !file.write(stream.take())) return out;
  }
  out.pairs = stream.pairs();
  out.chunks = stream.chunks();
  if (sync) file.sync();
  return out;
}

// ---- thread_writer ----------------------------------------------------------------------------

thread_writer::thread_writer(state_machine& sm, int fd, file_parts parts, bool sync, std::uint64_t writeback_bytes,
                             std::function<void()> wake)
    : sm_(sm), wake_(std::move(wake)), fd_(::fcntl(fd, F_DUPFD_CLOEXEC, 0)) {
  if (!fd_) throw std::system_error(errno, std::generic_category(), "duplicating the snapshot file's descriptor");
  sm_.begin_batched_capture();
  // The records before the chunks are the owner's to encode: the revisions are the capture's.
  auto revisions = encode_revisions(sm_.capture_revision(), sm_.capture_compacted(), sm_.capture_clock());
  try {
    thread_ = std::thread([this, parts = std::move(parts), revisions = std::move(revisions), sync,
                           writeback_bytes]() mutable { run(std::move(parts), std::move(revisions), sync, writeback_bytes); });
  } catch (...) {
    sm_.end_batched_capture();
    throw;
  }
}

thread_writer::~thread_writer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
  end_capture();
}

void thread_writer::end_capture() {
  if (ended_) return;
  ended_ = true;
  sm_.end_batched_capture();
}

bool thread_writer::pump() {
  std::uint64_t done;
  bool finished;
  bool failed;
  {
    std::lock_guard lock(mu_);
    done = done_;
    finished = finished_;
    failed = failed_;
  }
  for (; released_ < done; ++released_) sm_.release_batch();
  if (finished) {
    end_capture();
    return true;
  }
  bool last = false;
  while (!failed && sm_.pinned_batches() < batches_ahead) {
    keyspace::capture_batch b;
    if (!sm_.pin_batch(b)) {
      last = true;
      break;
    }
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(b));
    cv_.notify_one();
  }
  if (last || failed) {
    std::lock_guard lock(mu_);
    last_pinned_ = true;
    cv_.notify_one();
  }
  return false;
}

void thread_writer::run(file_parts parts, std::string revisions, bool sync, std::uint64_t writeback_bytes) {
  ::pthread_setname_np(::pthread_self(), "kv-snapshot");
  // Linux gives each thread its own nice value; failing to lower it only costs the priority.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), snapshot_thread_nice);
  write_outcome out;
  file_output file(fd_.get(), writeback_bytes, out);
  file_records records;
  records.open(std::move(parts.header), std::move(revisions));
  bool ok = true;
  bool stopped = false;
  for (;;) {
    keyspace::capture_batch batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || last_pinned_ || !queue_.empty(); });
      stopped = stop_;
      if (stopped || queue_.empty()) break;
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    // After a failure the rest of the batches are only let go, unread.
    state_machine::chunk c;
    if (ok) c = state_machine::encode(batch);
    {
      std::lock_guard lock(mu_);
      ++done_;
    }
    wake_();
    if (!ok) continue;
    records.add_chunk(std::move(c));
    if (records.queued_bytes() >= write_bytes && !file.write(records.take())) {
      ok = false;
      std::lock_guard lock(mu_);
      failed_ = true;
    }
  }
  if (ok && !stopped) {
    records.close(parts);
    if (file.write(records.take()) && sync) file.sync();
  }
  out.pairs = records.pairs();
  out.chunks = records.chunks();
  {
    std::lock_guard lock(mu_);
    outcome_ = out;
    finished_ = true;
  }
  wake_();
}

}  // namespace kv::snapshot
