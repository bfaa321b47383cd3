#include "core/model/txn.hpp"

#include "core/base/bytes.hpp"
#include "core/model/key_range.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <set>

namespace kv {

txn_op make_put(std::string key, std::string value, bool prev_kv, std::uint64_t lease) {
  txn_op o;
  o.type = txn_op_type::put;
  o.flags = static_cast<std::uint8_t>((prev_kv ? op_prev_kv : 0) | (lease != 0 ? op_lease : 0));
  o.lease = lease;
  o.key = std::move(key);
  o.value = std::move(value);
  return o;
}

txn_op make_range(std::string key, std::string end, std::uint64_t limit, std::uint64_t revision) {
  txn_op o;
  o.type = txn_op_type::range;
  o.key = std::move(key);
  o.end = std::move(end);
  o.limit = limit;
  o.revision = revision;
  return o;
}

txn_op make_delete_range(std::string key, std::string end, bool prev_kv) {
  txn_op o;
  o.type = txn_op_type::delete_range;
  o.flags = prev_kv ? op_prev_kv : 0;
  o.key = std::move(key);
  o.end = std::move(end);
  return o;
}

txn_op make_incr(std::string key, std::int64_t delta) {
  txn_op o;
  o.type = txn_op_type::incr;
  o.key = std::move(key);
  o.delta = delta;
  return o;
}

txn_op make_put_ttl(std::string key, std::string value, std::int64_t ttl_ms, bool prev_kv) {
  txn_op o = make_put(std::move(key), std::move(value), prev_kv);
  o.flags = static_cast<std::uint8_t>(o.flags | (ttl_ms != 0 ? op_ttl : op_keep_ttl));
  o.ttl_ms = ttl_ms;
  return o;
}

txn_op make_expire(std::string key, std::int64_t ttl_ms) {
  txn_op o;
  o.type = txn_op_type::expire;
  o.key = std::move(key);
  o.ttl_ms = ttl_ms;
  return o;
}

txn_op make_ttl(std::string key) {
  txn_op o;
  o.type = txn_op_type::ttl;
  o.key = std::move(key);
  return o;
}

namespace {

void append_bytes32(std::string& out, std::string_view s) {
  append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

template <typename S>
void append_compare(std::string& out, const basic_compare<S>& c) {
  out.push_back(static_cast<char>(c.target));
  out.push_back(static_cast<char>(c.op));
  append_bytes32(out, c.key);
  append_bytes32(out, c.end);
  if (c.target == compare_target::value) {
    append_bytes32(out, c.value);
  } else {
    append_fixed<std::uint64_t>(out, c.number);
  }
}

template <typename S>
void append_op(std::string& out, const basic_txn_op<S>& o) {
  out.push_back(static_cast<char>(o.type));
  out.push_back(static_cast<char>(o.flags));
  append_bytes32(out, o.key);
  append_bytes32(out, o.end);
  switch (o.type) {
    case txn_op_type::put:
      append_bytes32(out, o.value);
      if ((o.flags & op_lease) != 0) append_fixed<std::uint64_t>(out, o.lease);
      if ((o.flags & op_ttl) != 0) append_fixed<std::int64_t>(out, o.ttl_ms);
      break;
    case txn_op_type::range:
      append_fixed<std::uint64_t>(out, o.revision);
      append_fixed<std::uint64_t>(out, o.limit);
      break;
    case txn_op_type::delete_range:
      break;
    case txn_op_type::incr:
      append_fixed<std::int64_t>(out, o.delta);
      break;
    case txn_op_type::expire:
      append_fixed<std::int64_t>(out, o.ttl_ms);
      break;
    case txn_op_type::ttl:
      break;
  }
}

template <typename S>
void append_any(std::string& out, const basic_txn<S>& t) {
  append_fixed<std::uint16_t>(out, static_cast<std::uint16_t>(t.compares.size()));
  for (const auto& c : t.compares) append_compare(out, c);
  append_fixed<std::uint16_t>(out, static_cast<std::uint16_t>(t.then_ops.size()));
  for (const auto& o : t.then_ops) append_op(out, o);
  append_fixed<std::uint16_t>(out, static_cast<std::uint16_t>(t.else_ops.size()));
  for (const auto& o : t.else_ops) append_op(out, o);
}

std::string_view bytes32(byte_reader& in) { return in.bytes(in.fixed<std::uint32_t>()); }

bool read_ops(byte_reader& in, std::vector<txn_op_view>& ops) {
  auto n = in.fixed<std::uint16_t>();
  if (n > in.remaining() / 10) return false;  // an op takes at least 10 bytes
  ops.reserve(n);
  for (std::uint16_t i = 0; i < n; ++i) {
    txn_op_view o;
    auto type = in.fixed<std::uint8_t>();
    if (type < 1 || type > 6) return false;
    o.type = static_cast<txn_op_type>(type);
    o.flags = in.fixed<std::uint8_t>();
    if ((o.flags & ~op_known_flags) != 0) return false;
    o.key = bytes32(in);
    o.end = bytes32(in);
    switch (o.type) {
      case txn_op_type::put:
        o.value = bytes32(in);
        if ((o.flags & op_lease) != 0) o.lease = in.fixed<std::uint64_t>();
        if ((o.flags & op_ttl) != 0) o.ttl_ms = in.fixed<std::int64_t>();
        break;
      case txn_op_type::range:
        o.revision = in.fixed<std::uint64_t>();
        o.limit = in.fixed<std::uint64_t>();
        break;
      case txn_op_type::delete_range:
        break;
      case txn_op_type::incr:
        o.delta = in.fixed<std::int64_t>();
        break;
      case txn_op_type::expire:
        o.ttl_ms = in.fixed<std::int64_t>();
        break;
      case txn_op_type::ttl:
        break;
    }
    if (!in.ok()) return false;
    ops.push_back(o);
  }
  return in.ok();
}

}  // namespace

void append_txn(std::string& out, const txn& t) { append_any(out, t); }
void append_txn(std::string& out, const txn_view& t) { append_any(out, t); }

std::string encode_txn(const txn& t) {
  std::string out;
  append_txn(out, t);
  return out;
}

std::optional<txn_view> decode_txn(std::string_view bytes) {
  byte_reader in(bytes);
  txn_view t;
  auto n = in.fixed<std::uint16_t>();
  if (n > in.remaining() / 14) return std::nullopt;  // a compare takes at least 14 bytes
  t.compares.reserve(n);
  for (std::uint16_t i = 0; i < n; ++i) {
    compare_view c;
    auto target = in.fixed<std::uint8_t>();
    auto op = in.fixed<std::uint8_t>();
    if (target > 3 || op > 3) return std::nullopt;
    c.target = static_cast<compare_target>(target);
    c.op = static_cast<compare_op>(op);
    c.key = bytes32(in);
    c.end = bytes32(in);
    if (c.target == compare_target::value) {
      c.value = bytes32(in);
    } else {
      c.number = in.fixed<std::uint64_t>();
    }
    if (!in.ok()) return std::nullopt;
    t.compares.push_back(c);
  }
  if (!read_ops(in, t.then_ops) || !read_ops(in, t.else_ops)) return std::nullopt;
  if (!in.ok() || in.remaining() != 0) return std::nullopt;
  return t;
}

namespace {

// A key as an error message shows it: printable ASCII as is, other bytes as \xNN, at most 64
// bytes of it.
std::string shown(std::string_view key) {
  std::string out;
  for (std::size_t i = 0; i < key.size() && i < 64; ++i) {
    auto c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (key.size() > 64) out += fmt::format("... ({} bytes)", key.size());
  return out;
}

error_info refuse(errc code, std::string message) { return {make_error_code(code), std::move(message), {}}; }

// Checks a key and its range end; `what` names the compare or op in messages.
error_info check_range(std::string_view key, std::string_view end, const txn_limits& limits, const std::string& what) {
  if (key.empty()) return refuse(errc::bad_request, what + ": the key is empty");
  if (key.size() > limits.max_key_bytes) {
    return refuse(errc::too_large,
                  fmt::format("{}: the key is {} bytes; max-key-size is {}", what, key.size(), limits.max_key_bytes));
  }
  if (end.size() > limits.max_key_bytes + 1) {
    return refuse(errc::too_large, fmt::format("{}: the range end is {} bytes; max-key-size is {}", what, end.size(),
                                               limits.max_key_bytes));
  }
  if (!end.empty() && end != std::string_view("\0", 1) && end <= key) {
    return refuse(errc::bad_request,
                  fmt::format("{}: the range end \"{}\" is not after its key \"{}\"", what, shown(end), shown(key)));
  }
  return {};
}

error_info check_ops(const std::vector<txn_op_view>& ops, const txn_limits& limits, const char* branch) {
  if (ops.size() > limits.max_ops) {
    return refuse(errc::too_large,
                  fmt::format("the {} branch has {} ops; max-txn-ops is {}", branch, ops.size(), limits.max_ops));
  }
  std::set<std::string_view> written;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const auto& o = ops[i];
    auto what = fmt::format("{} op {} ({})", branch, i + 1, to_string(o.type));
    if (auto e = check_range(o.key, o.end, limits, what); e.code) return e;
    std::uint8_t allowed = 0;
    switch (o.type) {
      case txn_op_type::put:
        allowed = op_prev_kv | op_lease | op_ttl | op_keep_ttl;
        if ((o.flags & op_lease) != 0 && o.lease == 0) {
          return refuse(errc::bad_request, what + ": lease 0 is no lease (leave the lease out)");
        }
        if ((o.flags & op_ttl) != 0 && (o.flags & op_keep_ttl) != 0) {
          return refuse(errc::bad_request, what + ": a put either sets a TTL or keeps the key's, not both");
        }
        if ((o.flags & op_ttl) != 0 && (o.ttl_ms < 1 || o.ttl_ms > max_ttl_ms)) {
          return refuse(errc::bad_request,
                        fmt::format("{}: a TTL is 1 to {} milliseconds, not {}", what, max_ttl_ms, o.ttl_ms));
        }
        if (o.value.size() > limits.max_value_bytes) {
          return refuse(errc::too_large, fmt::format("{}: the value is {} bytes; max-value-size is {}", what,
                                                     o.value.size(), limits.max_value_bytes));
        }
        break;
      case txn_op_type::range:
        allowed = op_keys_only | op_count_only | op_descending;
        break;
      case txn_op_type::delete_range:
        allowed = op_prev_kv;
        break;
      case txn_op_type::incr:
      case txn_op_type::ttl:
        break;
      case txn_op_type::expire:
        if (o.ttl_ms < 0 || o.ttl_ms > max_ttl_ms) {
          return refuse(errc::bad_request, fmt::format("{}: a TTL is 1 to {} milliseconds (0 removes it), not {}",
                                                       what, max_ttl_ms, o.ttl_ms));
        }
        break;
    }
    if ((o.flags & ~allowed) != 0) return refuse(errc::bad_request, what + ": a flag this op does not take is set");
    if (o.type == txn_op_type::ttl && !o.end.empty()) {
      return refuse(errc::bad_request, what + ": reads one key and takes no range end");
    }
    if (o.type != txn_op_type::put && o.type != txn_op_type::incr && o.type != txn_op_type::expire) continue;
    if (!o.end.empty()) return refuse(errc::bad_request, what + ": writes one key and takes no range end");
    if (!written.insert(o.key).second) {
      return refuse(errc::bad_request,
                    fmt::format("{}: key \"{}\" is written twice in one branch", what, shown(o.key)));
    }
  }
  for (const auto& d : ops) {
    if (d.type != txn_op_type::delete_range) continue;
    for (auto k : written) {
      if (contains(key_range{d.key, d.end}, k)) {
        return refuse(errc::bad_request,
                      fmt::format("the {} branch both writes key \"{}\" and deletes it (a delete-range covers it)",
                                  branch, shown(k)));
      }
    }
  }
  return {};
}

}  // namespace

error_info check_txn(const txn_view& t, const txn_limits& limits) {
  if (t.compares.size() > limits.max_ops) {
    return refuse(errc::too_large,
                  fmt::format("{} compares; max-txn-ops is {}", t.compares.size(), limits.max_ops));
  }
  for (std::size_t i = 0; i < t.compares.size(); ++i) {
    const auto& c = t.compares[i];
    auto what = fmt::format("compare {}", i + 1);
    if (auto e = check_range(c.key, c.end, limits, what); e.code) return e;
    if (c.target == compare_target::value && c.value.size() > limits.max_value_bytes) {
      return refuse(errc::too_large, fmt::format("{}: the value is {} bytes; max-value-size is {}", what,
                                                 c.value.size(), limits.max_value_bytes));
    }
  }
  if (t.then_ops.empty() && t.else_ops.empty()) return refuse(errc::bad_request, "the transaction has no ops");
  if (auto e = check_ops(t.then_ops, limits, "then"); e.code) return e;
  return check_ops(t.else_ops, limits, "else");
}

namespace {

template <typename S>
bool only_ranges(const basic_txn<S>& t) noexcept {
  auto reads = [](const std::vector<basic_txn_op<S>>& ops) {
    return std::all_of(ops.begin(), ops.end(),
                       [](const auto& o) { return o.type == txn_op_type::range || o.type == txn_op_type::ttl; });
  };
  return reads(t.then_ops) && reads(t.else_ops);
}

}  // namespace

bool read_only(const txn_view& t) noexcept { return only_ranges(t); }
bool read_only(const txn& t) noexcept { return only_ranges(t); }

bool uses_clock(const txn_view& t) noexcept {
  auto timed = [](const std::vector<txn_op_view>& ops) {
    return std::any_of(ops.begin(), ops.end(), [](const txn_op_view& o) {
      return o.type == txn_op_type::expire || o.type == txn_op_type::ttl ||
             (o.type == txn_op_type::put && (o.flags & op_ttl) != 0);
    });
  };
  return timed(t.then_ops) || timed(t.else_ops);
}

// ---- answers -----------------------------------------------------------------------------

void append_reply_header(std::string& out, std::uint64_t revision, bool succeeded, std::uint16_t results) {
  append_fixed<std::uint64_t>(out, revision);
  out.push_back(succeeded ? 1 : 0);
  append_fixed<std::uint16_t>(out, results);
}

void append_kv(std::string& out, std::string_view key, std::string_view value, std::uint64_t create,
               std::uint64_t mod, std::uint64_t version) {
  append_bytes32(out, key);
  append_bytes32(out, value);
  append_fixed<std::uint64_t>(out, create);
  append_fixed<std::uint64_t>(out, mod);
  append_fixed<std::uint64_t>(out, version);
}

namespace {

bool read_kvs(byte_reader& in, std::uint32_t n, std::vector<kv_version>& out) {
  if (n > in.remaining() / 32) return false;
  out.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    kv_version v;
    v.key = bytes32(in);
    v.value = bytes32(in);
    v.create_revision = in.fixed<std::uint64_t>();
    v.mod_revision = in.fixed<std::uint64_t>();
    v.version = in.fixed<std::uint64_t>();
    if (!in.ok()) return false;
    out.push_back(std::move(v));
  }
  return true;
}

}  // namespace

std::optional<txn_reply> decode_reply(std::string_view bytes) {
  byte_reader in(bytes);
  txn_reply r;
  r.revision = in.fixed<std::uint64_t>();
  r.succeeded = in.fixed<std::uint8_t>() != 0;
  auto n = in.fixed<std::uint16_t>();
  for (std::uint16_t i = 0; i < n && in.ok(); ++i) {
    op_result o;
    auto type = in.fixed<std::uint8_t>();
    if (type < 1 || type > 6) return std::nullopt;
    o.type = static_cast<txn_op_type>(type);
    switch (o.type) {
      case txn_op_type::put:
        if (in.fixed<std::uint8_t>() != 0 && !read_kvs(in, 1, o.kvs)) return std::nullopt;
        break;
      case txn_op_type::range:
        o.count = in.fixed<std::uint64_t>();
        o.more = in.fixed<std::uint8_t>() != 0;
        if (!read_kvs(in, in.fixed<std::uint32_t>(), o.kvs)) return std::nullopt;
        break;
      case txn_op_type::delete_range:
        o.count = in.fixed<std::uint64_t>();
        if (!read_kvs(in, in.fixed<std::uint32_t>(), o.kvs)) return std::nullopt;
        break;
      case txn_op_type::incr:
      case txn_op_type::expire:
      case txn_op_type::ttl:
        o.value = in.fixed<std::int64_t>();
        break;
    }
    r.results.push_back(std::move(o));
  }
  if (!in.ok() || in.remaining() != 0) return std::nullopt;
  return r;
}

std::optional<std::int64_t> parse_int64(std::string_view text) noexcept {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::string_view digits = text.front() == '-' ? text.substr(1) : text;
  if (digits.empty() || (digits.size() > 1 && digits.front() == '0')) return std::nullopt;
  if (text == "-0") return std::nullopt;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

const char* to_string(compare_target t) noexcept {
  switch (t) {
    case compare_target::value: return "value";
    case compare_target::version: return "version";
    case compare_target::create_revision: return "create_revision";
    case compare_target::mod_revision: return "mod_revision";
  }
  return "?";
}

const char* to_string(compare_op o) noexcept {
  switch (o) {
    case compare_op::equal: return "=";
    case compare_op::not_equal: return "!=";
    case compare_op::less: return "<";
    case compare_op::greater: return ">";
  }
  return "?";
}

const char* to_string(txn_op_type t) noexcept {
  switch (t) {
    case txn_op_type::put: return "put";
    case txn_op_type::range: return "range";
    case txn_op_type::delete_range: return "delete_range";
    case txn_op_type::incr: return "incr";
    case txn_op_type::expire: return "expire";
    case txn_op_type::ttl: return "ttl";
  }
  return "?";
}

}  // namespace kv
