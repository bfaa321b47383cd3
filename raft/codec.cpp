#include "raft/codec.hpp"

#include "core/base/bytes.hpp"

namespace kv::raft {

namespace {

constexpr std::size_t fixed_bytes = 1 + 8 * 14 + 1 + 4;
constexpr std::size_t entry_header_bytes = 8 + 8 + 4;
constexpr auto last_type = message_type::snapshot;
constexpr std::uint8_t flag_reject = 1;
constexpr std::uint8_t flag_leader_transfer = 2;

}  // namespace

std::size_t encoded_size(const message& m) noexcept {
  std::size_t n = fixed_bytes;
  for (const auto& e : m.entries) n += entry_header_bytes + e.data.size();
  return n;
}

void encode(std::string& out, const message& m) {
  out.reserve(out.size() + encoded_size(m));
  out.push_back(static_cast<char>(m.type));
  for (std::uint64_t v : {m.from, m.to, m.term, m.last_index, m.last_term, m.prev_index, m.prev_term, m.commit}) {
    append_fixed(out, v);
  }
  out.push_back(static_cast<char>((m.reject ? flag_reject : 0) | (m.leader_transfer ? flag_leader_transfer : 0)));
  for (std::uint64_t v : {m.match, m.hint_index, m.hint_term, m.context, m.snapshot_index, m.snapshot_term}) {
    append_fixed(out, v);
  }
  append_fixed(out, static_cast<std::uint32_t>(m.entries.size()));
  for (const auto& e : m.entries) {
    append_fixed(out, e.term);
    append_fixed(out, e.index);
    append_fixed(out, static_cast<std::uint32_t>(e.data.size()));
    out.append(e.data);
  }
}

std::optional<message> decode(std::string_view data) {
  byte_reader in(data);
  message m;
  auto type = in.fixed<std::uint8_t>();
  if (type > static_cast<std::uint8_t>(last_type)) return std::nullopt;
  m.type = static_cast<message_type>(type);
  for (std::uint64_t* v : {&m.from, &m.to, &m.term, &m.last_index, &m.last_term, &m.prev_index, &m.prev_term,
                           &m.commit}) {
    *v = in.fixed<std::uint64_t>();
  }
  auto flags = in.fixed<std::uint8_t>();
  if ((flags & ~(flag_reject | flag_leader_transfer)) != 0) return std::nullopt;
  m.reject = (flags & flag_reject) != 0;
  m.leader_transfer = (flags & flag_leader_transfer) != 0;
  for (std::uint64_t* v : {&m.match, &m.hint_index, &m.hint_term, &m.context, &m.snapshot_index, &m.snapshot_term}) {
    *v = in.fixed<std::uint64_t>();
  }
  auto count = in.fixed<std::uint32_t>();
  // Each entry takes at least its header: a count beyond that is a lie, not an allocation size.
  if (!in.ok() || count > in.remaining() / entry_header_bytes) return std::nullopt;
  m.entries.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    entry e;
    e.term = in.fixed<std::uint64_t>();
    e.index = in.fixed<std::uint64_t>();
    auto len = in.fixed<std::uint32_t>();
    e.data = std::string(in.bytes(len));
    if (!in.ok()) return std::nullopt;
    m.entries.push_back(std::move(e));
  }
  if (!in.ok() || in.remaining() != 0) return std::nullopt;
  return m;
}

}  // namespace kv::raft
