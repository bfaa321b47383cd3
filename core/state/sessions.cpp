#include "core/state/sessions.hpp"

#include "core/base/bytes.hpp"

namespace kv {

void session_table::open(std::uint64_t id) {
  auto [it, fresh] = sessions_.try_emplace(id);
  if (!fresh) return;
  it->second.last_used = id;
  by_use_.emplace(id, id);
  while (sessions_.size() > max_sessions_) {
    auto oldest = by_use_.begin();
    sessions_.erase(oldest->second);
    by_use_.erase(oldest);
  }
}

void session_table::touch(std::uint64_t id, session& s, std::uint64_t index) {
  by_use_.erase({s.last_used, id});
  s.last_used = index;
  by_use_.emplace(index, id);
}

session_table::verdict session_table::check(std::uint64_t id, std::uint64_t seq, std::uint64_t first_unacked,
                                            std::uint64_t index, outcome& previous) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return verdict::expired;
  auto& s = it->second;
  touch(id, s, index);
  if (first_unacked > s.floor) {
    s.outcomes.erase(s.outcomes.begin(), s.outcomes.lower_bound(first_unacked));
    s.floor = first_unacked;
  }
  if (seq < s.floor) return verdict::stale;
  if (auto o = s.outcomes.find(seq); o != s.outcomes.end()) {
    previous = o->second;
    return verdict::duplicate;
  }
  return verdict::apply;
}

void session_table::record(std::uint64_t id, std::uint64_t seq, outcome o) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  auto& outcomes = it->second.outcomes;
  outcomes[seq] = std::move(o);
  // A client that never acknowledges would make this grow without bound: forget the oldest.
  while (outcomes.size() > max_outcomes) {
    it->second.floor = outcomes.begin()->first + 1;
    outcomes.erase(outcomes.begin());
  }
}

namespace {
// Leads the encoding that carries replies; a count never takes this value.
constexpr std::uint64_t with_replies = ~std::uint64_t{0};
}  // namespace

// u64 with_replies | u64 count |
//   count x (u64 id | u64 last_used | u64 floor | u32 n | n x (u64 seq | u64 index | u8 code | u32 len | reply))
// Before replies: the same without with_replies and without u32 len | reply.
std::string session_table::encode() const {
  std::string out;
  append_fixed<std::uint64_t>(out, with_replies);
  append_fixed<std::uint64_t>(out, sessions_.size());
  for (const auto& [id, s] : sessions_) {
    append_fixed(out, id);
    append_fixed(out, s.last_used);
    append_fixed(out, s.floor);
    append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(s.outcomes.size()));
    for (const auto& [seq, o] : s.outcomes) {
      append_fixed(out, seq);
      append_fixed(out, o.index);
      out.push_back(static_cast<char>(o.code));
      append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(o.reply.size()));
      out.append(o.reply);
    }
  }
  return out;
}

bool session_table::decode(std::string_view bytes) {
  byte_reader in(bytes);
  std::map<std::uint64_t, session> sessions;
  std::set<std::pair<std::uint64_t, std::uint64_t>> by_use;
  auto count = in.fixed<std::uint64_t>();
  const bool replies = count == with_replies;
  if (replies) count = in.fixed<std::uint64_t>();
  for (std::uint64_t i = 0; i < count && in.ok(); ++i) {
    auto id = in.fixed<std::uint64_t>();
    session s;
    s.last_used = in.fixed<std::uint64_t>();
    s.floor = in.fixed<std::uint64_t>();
    auto n = in.fixed<std::uint32_t>();
    if (n > in.remaining() / 17) return false;
    for (std::uint32_t j = 0; j < n; ++j) {
      auto seq = in.fixed<std::uint64_t>();
      outcome o;
      o.index = in.fixed<std::uint64_t>();
      o.code = static_cast<errc>(in.fixed<std::uint8_t>());
      if (replies) o.reply = in.bytes(in.fixed<std::uint32_t>());
      s.outcomes[seq] = std::move(o);
    }
    by_use.emplace(s.last_used, id);
    sessions[id] = std::move(s);
  }
  if (!in.ok() || in.remaining() != 0) return false;
  sessions_ = std::move(sessions);
  by_use_ = std::move(by_use);
  return true;
}

}  // namespace kv
