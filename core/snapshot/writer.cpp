#include "core/snapshot/writer.hpp"

#include "core/snapshot/snapshot.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <utility>
#include <vector>

namespace kv::snapshot {

namespace {

// Chunks are written once this many bytes are queued.
constexpr std::size_t write_bytes = 1u << 20;

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

file_stream::file_stream(state_machine& sm, file_parts parts) : sm_(sm), parts_(std::move(parts)) {
  queue(std::move(parts_.header));
  sm_.begin_capture([this](state_machine::chunk c) {
    pairs_ += c.count;
    ++chunks_;
    queue(chunk_header(c));
    queue(std::move(c.keys));
  });
  queue(encode_revisions(sm_.capture_revision(), sm_.capture_compacted(), sm_.capture_clock()));
}

bool file_stream::step() {
  if (sm_.capture_step()) return true;
  queue(std::move(parts_.sessions));
  if (!parts_.leases.empty()) queue(std::move(parts_.leases));
  queue(encode_footer(pairs_, chunks_));
  return false;
}

std::vector<std::string> file_stream::take() {
  queued_bytes_ = 0;
  return std::exchange(queued_, {});
}

void file_stream::queue(std::string bytes) {
  queued_bytes_ += bytes.size();
  queued_.push_back(std::move(bytes));
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

write_outcome write_file(int fd, state_machine& sm, file_parts parts, bool sync, std::uint64_t writeback_bytes) {
  write_outcome out;
  std::uint64_t written_back = 0;
  auto fail = [&](write_outcome::step s, int error) {
    out.failed = s;
    out.error = error;
    return false;
  };
  // Writes `bufs`; false once a system call failed.
  auto write_all = [&](const std::vector<std::string>& bufs) {
    std::vector<iovec> iov;
    for (std::size_t i = 0; i < bufs.size(); i += IOV_MAX) {
      const auto len = gather(bufs, i, iov);
      ssize_t rc;
      do {
        rc = ::pwritev(fd, iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(out.bytes));
      } while (rc < 0 && errno == EINTR);
      if (rc < 0) return fail(write_outcome::step::write, errno);
      if (static_cast<std::uint64_t>(rc) != len) return fail(write_outcome::step::write, ENOSPC);
      out.bytes += len;
    }
    if (out.bytes - written_back >= writeback_bytes) {
      if (::sync_file_range(fd, static_cast<off_t>(written_back), static_cast<off_t>(out.bytes - written_back),
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
        return fail(write_outcome::step::writeback, errno);
      }
      written_back = out.bytes;
    }
    return true;
  };

  file_stream stream(sm, std::move(parts));
  for (bool more = true; more;) {
    more = stream.step();
    if ((!more || stream.queued_bytes() >= write_bytes) && !write_all(stream.take())) return out;
  }
  out.pairs = stream.pairs();
  out.chunks = stream.chunks();
  if (sync && ::fdatasync(fd) != 0) fail(write_outcome::step::fdatasync, errno);
  return out;
}

}  // namespace kv::snapshot
