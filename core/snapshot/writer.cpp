#include "core/snapshot/writer.hpp"

#include "core/snapshot/snapshot.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
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

write_outcome write_file(int fd, state_machine& sm, const file_parts& parts, bool sync, std::uint64_t writeback_bytes) {
  write_outcome out;
  std::vector<std::string> queued;
  std::size_t queued_bytes = 0;
  std::uint64_t written_back = 0;
  auto queue = [&](std::string bytes) {
    queued_bytes += bytes.size();
    queued.push_back(std::move(bytes));
  };
  auto fail = [&](write_outcome::step s, int error) {
    out.failed = s;
    out.error = error;
    return false;
  };
  // Writes what is queued; false once a system call failed.
  auto flush = [&]() {
    for (std::size_t i = 0; i < queued.size(); i += IOV_MAX) {
      std::vector<iovec> iov;
      std::uint64_t len = 0;
      for (std::size_t j = i; j < queued.size() && j < i + IOV_MAX; ++j) {
        iov.push_back({queued[j].data(), queued[j].size()});
        len += queued[j].size();
      }
      ssize_t rc;
      do {
        rc = ::pwritev(fd, iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(out.bytes));
      } while (rc < 0 && errno == EINTR);
      if (rc < 0) return fail(write_outcome::step::write, errno);
      if (static_cast<std::uint64_t>(rc) != len) return fail(write_outcome::step::write, ENOSPC);
      out.bytes += len;
    }
    queued.clear();
    queued_bytes = 0;
    if (out.bytes - written_back >= writeback_bytes) {
      if (::sync_file_range(fd, static_cast<off_t>(written_back), static_cast<off_t>(out.bytes - written_back),
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
        return fail(write_outcome::step::writeback, errno);
      }
      written_back = out.bytes;
    }
    return true;
  };

  queue(parts.header);
  sm.begin_capture([&](state_machine::chunk c) {
    out.pairs += c.count;
    ++out.chunks;
    queue(chunk_header(c));
    queue(std::move(c.keys));
  });
  queue(encode_revisions(sm.capture_revision(), sm.capture_compacted(), sm.capture_clock()));
  bool ok = true;
  for (bool more = true; more && ok;) {
    more = sm.capture_step();
    if (queued_bytes >= write_bytes) ok = flush();
  }
  if (!ok) return out;
  queue(parts.sessions);
  if (!parts.leases.empty()) queue(parts.leases);
  queue(encode_footer(out.pairs, out.chunks));
  if (!flush()) return out;
  if (sync && ::fdatasync(fd) != 0) fail(write_outcome::step::fdatasync, errno);
  return out;
}

}  // namespace kv::snapshot
