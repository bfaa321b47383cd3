#include "core/snapshot/snapshot.hpp"

#include "core/base/bytes.hpp"
#include "core/base/crc32c.hpp"
#include "core/base/error.hpp"
#include "io/sys/file.hpp"

#include <fmt/format.h>

namespace kv::snapshot {

namespace {

constexpr std::string_view magic = "KVSNAP01";
// 2: may hold a sessions section; 3: revisions, key records; 4: expiry in key records, the clock
constexpr std::uint32_t version = 4;
constexpr std::uint32_t oldest_version = 1;  // still read
constexpr std::uint32_t footer_marker = 0xFFFFFFFF;
constexpr std::uint32_t sessions_marker = 0xFFFFFFFE;
constexpr std::uint32_t revisions_marker = 0xFFFFFFFD;
constexpr std::uint32_t leases_marker = 0xFFFFFFFC;
constexpr std::uint32_t first_keyed_version = 3;  // chunks hold key records from here on
constexpr std::uint32_t first_expiry_version = 4;  // key records carry expiry; revisions the clock
constexpr std::size_t chunk_header_bytes = 4 + 4 + 8;

std::string frame(std::uint32_t count, std::string_view body) {
  std::string out(chunk_header_bytes, '\0');
  put_fixed<std::uint32_t>(out.data() + 4, count);
  put_fixed<std::uint64_t>(out.data() + 8, body.size());
  out.append(body);
  put_fixed<std::uint32_t>(out.data(), crc32c(std::string_view(out).substr(4)));
  return out;
}

}  // namespace

std::string file_name(std::uint64_t index) { return fmt::format("snap-{:020}.snap", index); }

std::string encode_header(std::uint64_t index, std::uint64_t term, std::uint64_t pairs) {
  std::string out(magic);
  append_fixed<std::uint32_t>(out, version);
  append_fixed<std::uint64_t>(out, index);
  append_fixed<std::uint64_t>(out, term);
  append_fixed<std::uint64_t>(out, pairs);
  append_fixed<std::uint32_t>(out, crc32c(out));
  return out;
}

std::string chunk_header(const state_machine::chunk& c) {
  std::string out(chunk_header_bytes, '\0');
  put_fixed<std::uint32_t>(out.data() + 4, c.count);
  put_fixed<std::uint64_t>(out.data() + 8, c.keys.size());
  put_fixed<std::uint32_t>(out.data(), crc32c(c.keys, crc32c(std::string_view(out).substr(4))));
  return out;
}

std::string encode_chunk(const state_machine::chunk& c) { return chunk_header(c) + c.keys; }

std::string encode_revisions(std::uint64_t revision, std::uint64_t compacted, std::uint64_t clock) {
  std::string body;
  append_fixed<std::uint64_t>(body, revision);
  append_fixed<std::uint64_t>(body, compacted);
  append_fixed<std::uint64_t>(body, clock);
  return frame(revisions_marker, body);
}

std::string encode_sessions(std::string_view table) { return frame(sessions_marker, table); }
std::string encode_leases(std::string_view table) { return frame(leases_marker, table); }

std::string encode_footer(std::uint64_t total_pairs, std::uint64_t chunk_count) {
  std::string body;
  append_fixed<std::uint64_t>(body, total_pairs);
  append_fixed<std::uint64_t>(body, chunk_count);
  return frame(footer_marker, body);
}

std::filesystem::path incoming_path(const std::filesystem::path& dir, std::uint64_t from) {
  return dir / fmt::format("snap-incoming-{}.tmp", from);
}

std::optional<std::filesystem::path> newest(const std::filesystem::path& dir) {
  auto names = io::list_files(dir, "snap-", ".snap");
  if (names.empty()) return std::nullopt;
  return dir / names.back();
}

namespace {

[[noreturn]] void fail(std::string_view name, std::uint64_t offset, std::string_view what) {
  throw corruption_error(fmt::format("corrupt snapshot {} at offset {}: {}. Refusing to start; restore this node "
                                     "from a backup or a peer",
                                     name, offset, what));
}

// Checks the header; returns index, term and the declared pair count (in meta.pairs).
meta decode_header(std::string_view data, std::string_view name) {
  if (data.size() < header_bytes || data.substr(0, magic.size()) != magic) fail(name, 0, "not a kvnode snapshot");
  if (crc32c(data.substr(0, header_bytes - 4)) != get_fixed<std::uint32_t>(data.data() + header_bytes - 4)) {
    fail(name, 0, "header checksum mismatch");
  }
  auto v = get_fixed<std::uint32_t>(data.data() + 8);
  if (v < oldest_version || v > version) fail(name, 8, fmt::format("unsupported snapshot version {}", v));
  meta m;
  m.file_version = v;
  m.index = get_fixed<std::uint64_t>(data.data() + 12);
  m.term = get_fixed<std::uint64_t>(data.data() + 20);
  m.pairs = get_fixed<std::uint64_t>(data.data() + 28);
  return m;
}

}  // namespace

meta read_header(const std::filesystem::path& path) {
  io::mapped_file file(path);
  return decode_header(std::string_view(file.data().data(), std::min(file.size(), header_bytes)), path.string());
}

namespace {

// What a chunk holds, in the file's version: key records or pairs.
struct chunk_consumer {
  std::function<void(const captured_key&)> key;                          // version 3 on
  std::function<void(std::string_view, std::string_view)> pair;          // versions 1 and 2
};

meta walk(std::string_view data, std::string_view name, const chunk_consumer& consume,
          const std::function<void(std::uint64_t)>& reserve) {
  auto fail = [&](std::uint64_t offset, std::string_view what) { snapshot::fail(name, offset, what); };
  meta m = decode_header(data, name);
  const auto declared = std::exchange(m.pairs, 0);
  const bool keyed = m.file_version >= first_keyed_version;
  const bool without_expiry = m.file_version < first_expiry_version;
  m.file_bytes = data.size();
  // Room for the log replayed after the snapshot to add keys without rehashing. Every record
  // takes at least 8 bytes, which bounds what a damaged header could make us reserve.
  if (reserve) reserve(std::min<std::uint64_t>(declared, data.size() / 8));

  std::uint64_t off = header_bytes;
  std::uint64_t chunks = 0;
  for (;;) {
    if (data.size() - off < chunk_header_bytes) fail(off, "file ends before the footer (incomplete snapshot)");
    const char* h = data.data() + off;
    auto count = get_fixed<std::uint32_t>(h + 4);
    auto length = get_fixed<std::uint64_t>(h + 8);
    if (length > data.size() - off - chunk_header_bytes) fail(off, "chunk runs past the end of the file");
    auto body = data.substr(off + chunk_header_bytes, length);
    if (crc32c(data.substr(off + 4, chunk_header_bytes - 4 + length)) != get_fixed<std::uint32_t>(h)) {
      fail(off, "chunk checksum mismatch");
    }
    if (count == footer_marker) {
      byte_reader in(body);
      auto total = in.fixed<std::uint64_t>();
      auto chunk_count = in.fixed<std::uint64_t>();
      // Before version 3 the header counted the pairs exactly; since, it counts live keys only.
      if (!in.ok() || total != m.pairs || chunk_count != chunks || (!keyed && total != declared)) {
        fail(off, "footer does not match the chunks read");
      }
      if (off + chunk_header_bytes + length != data.size()) fail(off, "bytes after the footer");
      break;
    }
    if (count == sessions_marker) {
      m.sessions.assign(body);
      off += chunk_header_bytes + length;
      continue;
    }
    if (count == leases_marker && keyed) {
      m.leases.assign(body);
      off += chunk_header_bytes + length;
      continue;
    }
    if (count == revisions_marker && keyed) {
      byte_reader in(body);
      m.revision = in.fixed<std::uint64_t>();
      m.compacted = in.fixed<std::uint64_t>();
      if (!without_expiry) m.clock = in.fixed<std::uint64_t>();
      if (!in.ok() || in.remaining() != 0 || m.revision == 0 || m.compacted == 0 || m.compacted > m.revision) {
        fail(off, "malformed revisions section");
      }
      off += chunk_header_bytes + length;
      continue;
    }
    if (keyed && !valid_key_records(body, count, without_expiry)) fail(off, "malformed key records in chunk");
    if (!keyed && !valid_pairs(body, count)) fail(off, "malformed pairs in chunk");
    // Well-formed records that do not fit together (a key twice, versions out of order) are
    // found by the consumer; its error is reported at this chunk.
    try {
      if (keyed) {
        for_each_key_record(body, count, consume.key, without_expiry);
      } else {
        for_each_pair(body, count, consume.pair);
      }
    } catch (const corruption_error& e) {
      fail(off, e.what());
    }
    m.pairs += count;
    ++chunks;
    off += chunk_header_bytes + length;
  }
  return m;
}

}  // namespace

meta decode_pairs(std::string_view data, std::string_view name, const pair_sink& pair,
                  const std::function<void(std::uint64_t)>& reserve) {
  chunk_consumer c;
  c.pair = pair;
  c.key = [&](const captured_key& k) {
    const auto& newest = k.versions.back();
    if (newest.version != 0) pair(k.key, newest.value);
  };
  return walk(data, name, c, reserve);
}

meta decode(std::string_view data, std::string_view name, state_machine& sm) {
  chunk_consumer c;
  c.pair = [&](std::string_view k, std::string_view v) { sm.restore_pair(k, v); };
  c.key = [&](const captured_key& k) { sm.restore_key(k); };
  auto m = walk(data, name, c, [&](std::uint64_t keys) { sm.reserve(keys + keys / 4); });
  try {
    sm.restore_revisions(m.revision, m.compacted);
  } catch (const corruption_error& e) {
    fail(name, header_bytes, e.what());  // the revisions section follows the header
  }
  if (!m.leases.empty() && !sm.restore_leases(m.leases)) fail(name, header_bytes, "malformed lease table");
  sm.restore_clock(m.clock);
  sm.restore_index(m.index);
  return m;
}

meta load(const std::filesystem::path& path, state_machine& sm) {
  io::mapped_file file(path);
  return decode(std::string_view(file.data().data(), file.size()), path.string(), sm);
}

}  // namespace kv::snapshot
