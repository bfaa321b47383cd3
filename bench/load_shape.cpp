#include "bench/load_shape.hpp"

#include "core/base/bytes.hpp"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>

namespace kv::bench {

namespace {

// The range ends where the prefix's last character is one higher: [prefix, end) holds exactly
// the keys under the prefix.
std::string prefix_end(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

std::string_view bytes32(byte_reader& in) { return in.bytes(in.fixed<std::uint32_t>()); }

// The header of a txn reply (core/model/txn.hpp), up to the first result's type.
struct reply_head {
  bool succeeded = false;
  std::uint16_t results = 0;
  std::uint8_t first_type = 0;
};

reply_head read_head(byte_reader& in) {
  reply_head h;
  in.fixed<std::uint64_t>();  // revision
  h.succeeded = in.fixed<std::uint8_t>() != 0;
  h.results = in.fixed<std::uint16_t>();
  if (h.results > 0) h.first_type = in.fixed<std::uint8_t>();
  return h;
}

answer_result plain(answer_outcome o) {
  answer_result r;
  r.outcome = o;
  return r;
}

answer_result bad(std::string message) { return {answer_outcome::failed, "bad_answer", std::move(message)}; }

answer_result refused(protocol::status st, std::string_view body) {
  auto e = protocol::parse_error(body);
  return {answer_outcome::failed, protocol::status_name(st),
          fmt::format("{}: {}{}", protocol::status_name(st), e.message,
                      e.leader.empty() ? std::string() : " (leader " + e.leader + ")")};
}

}  // namespace

std::string point_key(std::uint64_t k) { return fmt::format("key:{:012}", k); }
std::string range_prefix(std::uint64_t prefix) { return fmt::format("r:{:06}:", prefix); }
std::string range_key(std::uint64_t prefix, std::uint32_t i) { return fmt::format("r:{:06}:{:05}", prefix, i); }
std::string cas_key(std::uint64_t k) { return fmt::format("cas:{:06}", k); }

load_shape::load_shape(shape_options o)
    : o_(o), read_flags_(o.stale ? protocol::flag_stale_read : 0), value_(o.value_size, 'v') {
  one_op_.then_ops.resize(1);
  if (o_.op == load_op::range) one_op_.then_ops[0].type = txn_op_type::range;
  if (o_.op == load_op::txn_put) one_op_.then_ops[0].type = txn_op_type::put;
  if (o_.op != load_op::cas) return;
  // The compared revision is patched into a pre-encoded write: find where it sits by encoding a
  // marker there.
  const std::uint64_t marker = 0x5a17'c0de'0123'4567;
  for (std::uint64_t k = 0; k < o_.hot_keys; ++k) {
    txn read;
    read.then_ops.push_back(make_range(cas_key(k)));
    cas_reads_.push_back(encode_txn(read));
    txn write;
    compare c;
    c.key = cas_key(k);
    c.target = compare_target::mod_revision;
    c.number = marker;
    write.compares.push_back(std::move(c));
    write.then_ops.push_back(make_put(cas_key(k), value_));
    cas_writes_.push_back(encode_txn(write));
    auto at = std::string_view(cas_writes_.back()).find(std::string_view(reinterpret_cast<const char*>(&marker), 8));
    if (at == std::string_view::npos || (k > 0 && at != cas_revision_at_)) {
      throw std::logic_error("load_shape: cannot find the compared revision in an encoded transaction");
    }
    cas_revision_at_ = at;
  }
}

void load_shape::begin(slot& s, std::string& out, std::uint64_t id, std::mt19937_64& rng,
                       std::chrono::steady_clock::time_point now) {
  s.started = now;
  s.at = slot::step::single;
  switch (o_.op) {
    case load_op::point:
      s.target = rng() % o_.keys;
      s.read = o_.reads > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < o_.reads;
      if (s.read) return protocol::request_get(out, id, point_key(s.target), read_flags_);
      return protocol::request_set(out, id, point_key(s.target), value_);
    case load_op::range: {
      s.target = rng() % o_.prefixes;
      s.read = true;
      key_ = range_prefix(s.target);
      end_ = prefix_end(key_);
      auto& op = one_op_.then_ops[0];
      op.key = key_;
      op.end = end_;
      body_.clear();
      append_txn(body_, one_op_);
      return protocol::request_txn(out, id, body_, nullptr, read_flags_);
    }
    case load_op::txn_put: {
      s.target = rng() % o_.keys;
      key_ = point_key(s.target);
      auto& op = one_op_.then_ops[0];
      op.key = key_;
      op.value = value_;
      body_.clear();
      append_txn(body_, one_op_);
      return protocol::request_txn(out, id, body_);
    }
    case load_op::cas:
      s.target = rng() % o_.hot_keys;
      s.at = slot::step::cas_read;
      return protocol::request_txn(out, id, cas_reads_[s.target], nullptr, read_flags_);
    case load_op::lease_keepalive:
      s.target = 1 + rng() % o_.leases;
      return protocol::request_lease_keepalive(out, id, s.target);
  }
}

void load_shape::follow(slot& s, std::string& out, std::uint64_t id) {
  if (s.at == slot::step::cas_read) {
    return protocol::request_txn(out, id, cas_reads_[s.target], nullptr, read_flags_);
  }
  body_ = cas_writes_[s.target];
  put_fixed(body_.data() + cas_revision_at_, s.revision);
  protocol::request_txn(out, id, body_);
}

answer_result load_shape::on_answer(slot& s, protocol::status st, std::string_view body) const {
  if (st == protocol::status::not_found && o_.op == load_op::point && s.read) return plain(answer_outcome::not_found);
  if (st != protocol::status::ok) return refused(st, body);
  switch (o_.op) {
    case load_op::point:
      return plain(answer_outcome::done);
    case load_op::range:
      return check_range(s, body);
    case load_op::txn_put: {
      byte_reader in(body);
      auto h = read_head(in);
      if (!in.ok() || !h.succeeded || h.results != 1 || h.first_type != static_cast<std::uint8_t>(txn_op_type::put)) {
        return bad("txn-put: the answer is not one put's");
      }
      return plain(answer_outcome::done);
    }
    case load_op::lease_keepalive:
      if (body.size() != 8) return bad("lease-keepalive: the answer is not a TTL");
      return plain(answer_outcome::done);
    case load_op::cas:
      break;
  }
  if (s.at == slot::step::cas_read) return check_cas_read(s, body);
  byte_reader in(body);
  auto h = read_head(in);
  if (!in.ok()) return bad("cas: a malformed answer to the write");
  if (!h.succeeded) {
    s.at = slot::step::cas_read;
    return plain(answer_outcome::conflict);
  }
  if (h.results != 1 || h.first_type != static_cast<std::uint8_t>(txn_op_type::put)) {
    return bad("cas: the write's answer is not one put's");
  }
  return plain(answer_outcome::done);
}

answer_result load_shape::check_range(const slot& s, std::string_view body) const {
  byte_reader in(body);
  auto h = read_head(in);
  auto count = in.fixed<std::uint64_t>();
  auto more = in.fixed<std::uint8_t>();
  auto n = in.fixed<std::uint32_t>();
  if (!in.ok() || h.results != 1 || h.first_type != static_cast<std::uint8_t>(txn_op_type::range)) {
    return bad("range: the answer is not one range's");
  }
  if (n != o_.range_keys || count != o_.range_keys || more != 0) {
    return bad(fmt::format("range: {} keys came back ({} in the range), not {}", n, count, o_.range_keys));
  }
  auto prefix = range_prefix(s.target);
  for (std::uint32_t i = 0; i < n; ++i) {
    auto key = bytes32(in);
    bytes32(in);      // value
    in.bytes(3 * 8);  // create, mod, version
    if (!in.ok() || !key.starts_with(prefix)) return bad("range: a key outside the prefix, or a malformed answer");
  }
  if (in.remaining() != 0) return bad("range: bytes after the keys");
  return plain(answer_outcome::done);
}

answer_result load_shape::check_cas_read(slot& s, std::string_view body) const {
  byte_reader in(body);
  auto h = read_head(in);
  auto count = in.fixed<std::uint64_t>();
  in.fixed<std::uint8_t>();  // more
  auto n = in.fixed<std::uint32_t>();
  if (!in.ok() || h.results != 1 || h.first_type != static_cast<std::uint8_t>(txn_op_type::range) || n > 1 ||
      count != n) {
    return bad("cas: the read's answer is not one range of at most one key");
  }
  s.revision = 0;  // a key that does not exist has mod_revision 0
  if (n == 1) {
    bytes32(in);  // key
    bytes32(in);  // value
    in.fixed<std::uint64_t>();  // create
    s.revision = in.fixed<std::uint64_t>();
    if (!in.ok()) return bad("cas: a malformed answer to the read");
  }
  s.at = slot::step::cas_write;
  return plain(answer_outcome::next);
}

std::string load_shape::name() const {
  std::string n;
  switch (o_.op) {
    case load_op::point: n = o_.reads == 0 ? "set" : o_.reads == 1 ? "get" : "mixed"; break;
    case load_op::range: n = "range"; break;
    case load_op::txn_put: n = "txn-put"; break;
    case load_op::cas: n = "cas"; break;
    case load_op::lease_keepalive: n = "lease-keepalive"; break;
  }
  bool reads = o_.op == load_op::range || o_.op == load_op::cas || (o_.op == load_op::point && o_.reads > 0);
  return o_.stale && reads ? n + "-stale" : n;
}

bool load_shape::read_only() const { return o_.op == load_op::range || (o_.op == load_op::point && o_.reads == 1); }

}  // namespace kv::bench
