#include "core/state/state_machine.hpp"

#include "core/base/bytes.hpp"

#include <fmt/format.h>

#include <cassert>

namespace kv {

void append_key_record(std::string& out, const captured_key& k) {
  append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(k.key.size()));
  append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(k.versions.size()));
  out.append(k.key);
  for (const auto& v : k.versions) {
    append_fixed<std::uint64_t>(out, v.create_revision);
    append_fixed<std::uint64_t>(out, v.mod_revision);
    append_fixed<std::uint64_t>(out, v.version);
    append_fixed<std::uint64_t>(out, v.expires);
    append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(v.value.size()));
    out.append(v.value);
  }
}

namespace {

// Reads one record from `in` into `out` (when given); false if it is malformed.
bool read_key_record(byte_reader& in, captured_key* out, bool without_expiry) {
  auto klen = in.fixed<std::uint32_t>();
  auto versions = in.fixed<std::uint32_t>();
  auto key = in.bytes(klen);
  if (!in.ok() || versions == 0) return false;
  if (out != nullptr) {
    out->key = key;
    out->versions.clear();
  }
  for (std::uint32_t i = 0; i < versions; ++i) {
    captured_key::version v{};
    v.create_revision = in.fixed<std::uint64_t>();
    v.mod_revision = in.fixed<std::uint64_t>();
    v.version = in.fixed<std::uint64_t>();
    if (!without_expiry) v.expires = in.fixed<std::uint64_t>();
    v.value = in.bytes(in.fixed<std::uint32_t>());
    if (!in.ok()) return false;
    if (out != nullptr) out->versions.push_back(v);
  }
  return true;
}

}  // namespace

bool valid_key_records(std::string_view bytes, std::uint32_t count, bool without_expiry) noexcept {
  byte_reader in(bytes);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (!read_key_record(in, nullptr, without_expiry)) return false;
  }
  return in.remaining() == 0;
}

void for_each_key_record(std::string_view bytes, std::uint32_t count,
                         const std::function<void(const captured_key&)>& f, bool without_expiry) {
  byte_reader in(bytes);
  captured_key k;
  for (std::uint32_t i = 0; i < count; ++i) {
    read_key_record(in, &k, without_expiry);
    f(k);
  }
}

errc state_machine::apply(std::uint64_t index, const command_view& cmd, std::string* reply, change_list* changes) {
  assert(index == applied_index_ + 1);
  applied_index_ = index;
  errc outcome = errc::ok;
  switch (cmd.type) {
    case command_type::noop:
    case command_type::open_session:  // sessions are the store's (core/state/sessions.hpp)
      return errc::ok;
    case command_type::in_session:  // decode_command() unwraps it
    case command_type::changes:     // never in the log
      return errc::internal;
    case command_type::set:
      ks_.begin_write();
      ks_.put(cmd.key, cmd.value);
      ks_.end_write();
      leases_.detach(cmd.key);
      break;
    case command_type::del:
      ks_.begin_write();
      if (ks_.delete_range(key_range{cmd.key, {}}) == 0) outcome = errc::not_found;
      ks_.end_write();
      leases_.detach(cmd.key);
      break;
    case command_type::bulk_set:
      ks_.begin_write();
      cmd.for_each_pair([this](std::string_view k, std::string_view v) {
        ks_.put(k, v);
        leases_.detach(k);
      });
      ks_.end_write();
      break;
    case command_type::incr:
      return apply_incr(cmd.key, cmd.delta, reply, changes);
    case command_type::txn:
      return apply_txn(cmd.txn, cmd.now, reply, changes);
    case command_type::txn_at:  // decode_command() makes it a txn
      return errc::internal;
    case command_type::expire:
      return apply_expire(cmd, reply, changes);
    case command_type::compact:
      return apply_compact(cmd.revision, reply);
    case command_type::lease_grant:
      return apply_lease_grant(cmd, reply);
    case command_type::lease_revoke:
      return apply_lease_revoke(cmd.lease, reply, changes);
    case command_type::lease_checkpoint:
      cmd.for_each_checkpoint([this](std::uint64_t id, std::int64_t remaining) { leases_.checkpoint(id, remaining); });
      return errc::ok;
  }
  return outcome;
}

namespace {

void set_message(std::string* reply, std::string_view message) {
  if (reply != nullptr) reply->assign(message);
}

template <typename T>
bool compare_numbers(T a, compare_op op, T b) {
  switch (op) {
    case compare_op::equal: return a == b;
    case compare_op::not_equal: return a != b;
    case compare_op::less: return a < b;
    case compare_op::greater: return a > b;
  }
  return false;
}

bool compare_kv(const compare_view& c, const key_value& kv) {
  switch (c.target) {
    case compare_target::value: return compare_numbers(kv.value.compare(c.value), c.op, 0);
    case compare_target::version: return compare_numbers(kv.version, c.op, c.number);
    case compare_target::create_revision: return compare_numbers(kv.create_revision, c.op, c.number);
    case compare_target::mod_revision: return compare_numbers(kv.mod_revision, c.op, c.number);
  }
  return false;
}

// What an incr of `key` by `delta` stores (an absent key counts as 0), with the key's expiry (0:
// none), or why it is refused: the value is not a decimal 64-bit integer, or the sum overflows
// one. The messages are the ones clients match (io/server/resp_commands.cpp).
result<counter> counter_sum(const keyspace& ks, std::string_view key, std::int64_t delta) {
  auto v = ks.get(key);
  std::int64_t n = 0;
  if (v) {
    auto parsed = parse_int64(v->value);
    if (!parsed) {
      return error_info{make_error_code(errc::bad_request),
                        fmt::format("incr: the value of the key is not a decimal 64-bit integer ({} bytes)",
                                    v->value.size()),
                        {}};
    }
    n = *parsed;
  }
  std::int64_t sum = 0;
  if (__builtin_add_overflow(n, delta, &sum)) {
    return error_info{make_error_code(errc::bad_request),
                      fmt::format("incr: {} plus {} overflows a 64-bit integer", n, delta), {}};
  }
  return counter{sum, v ? v->expires : 0};
}

}  // namespace

bool state_machine::holds(const compare_view& c) const {
  if (c.end.empty()) {
    auto kv = ks_.get(c.key);
    if (!kv) return c.target != compare_target::value && compare_kv(c, key_value{});
    return compare_kv(c, *kv);
  }
  range_options o;
  o.keys_only = c.target != compare_target::value;
  auto a = ks_.range(key_range{c.key, c.end}, o);
  if (!a || a->kvs.empty()) return c.target != compare_target::value && compare_kv(c, key_value{});
  for (const auto& kv : a->kvs) {
    if (!compare_kv(c, kv)) return false;
  }
  return true;
}

errc state_machine::check_ops(const std::vector<txn_op_view>& ops, std::uint64_t now, std::string* reply) const {
  for (const auto& op : ops) {
    if (now == 0 && (op.type == txn_op_type::expire || (op.type == txn_op_type::put && (op.flags & op_ttl) != 0))) {
      // The leader stamps every transaction that sets a TTL; one without a stamp is a bug.
      set_message(reply, "a TTL needs the leader's clock, and this transaction carries none");
      return errc::bad_request;
    }
    if (op.type == txn_op_type::put && op.lease != 0 && leases_.find(op.lease) == nullptr) {
      set_message(reply, fmt::format("lease {} not found (it expired, was revoked, or never existed)", op.lease));
      return errc::not_found;
    }
    if (op.type == txn_op_type::range) {
      if (auto e = ks_.check_revision(op.revision); e.code) {
        set_message(reply, e.message);
        return static_cast<errc>(e.code.value());
      }
    } else if (op.type == txn_op_type::incr) {
      if (auto sum = counter_sum(ks_, op.key, op.delta); !sum) {
        set_message(reply, sum.message());
        return errc::bad_request;
      }
    }
  }
  return errc::ok;
}

void state_machine::append_ttl(std::string& out, std::string_view key, std::uint64_t now) const {
  out.push_back(static_cast<char>(txn_op_type::ttl));
  auto kv = ks_.get(key);
  std::int64_t left = -2;
  if (kv) left = kv->expires == 0 ? -1 : static_cast<std::int64_t>(kv->expires > now ? kv->expires - now : 0);
  append_fixed<std::int64_t>(out, left);
}

void state_machine::append_range(std::string& out, const txn_op_view& op) const {
  range_options o;
  o.revision = op.revision;
  o.limit = op.limit;
  o.keys_only = (op.flags & op_keys_only) != 0;
  o.count_only = (op.flags & op_count_only) != 0;
  o.descending = (op.flags & op_descending) != 0;
  auto a = ks_.range(key_range{op.key, op.end}, o);  // its revision was checked
  out.push_back(static_cast<char>(txn_op_type::range));
  append_fixed<std::uint64_t>(out, a ? a->count : 0);
  out.push_back(a && a->more ? 1 : 0);
  append_fixed<std::uint32_t>(out, a ? static_cast<std::uint32_t>(a->kvs.size()) : 0);
  if (!a) return;
  for (const auto& kv : a->kvs) {
    append_kv(out, kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version);
  }
}

errc state_machine::read(const txn_view& t, std::string& reply, std::uint64_t now) const {
  reply.clear();
  if (now == 0) now = clock_;
  bool succeeded = true;
  for (const auto& c : t.compares) succeeded = succeeded && holds(c);
  const auto& ops = succeeded ? t.then_ops : t.else_ops;
  if (auto e = check_ops(ops, now, &reply); e != errc::ok) return e;
  append_reply_header(reply, ks_.revision(), succeeded, static_cast<std::uint16_t>(ops.size()));
  for (const auto& op : ops) {
    if (op.type == txn_op_type::ttl) {
      append_ttl(reply, op.key, now);
    } else {
      append_range(reply, op);
    }
  }
  return errc::ok;
}

errc state_machine::apply_txn(std::string_view bytes, std::uint64_t now, std::string* reply, change_list* changes) {
  auto t = decode_txn(bytes);
  if (!t) {
    set_message(reply, "the transaction is malformed");
    return errc::bad_request;
  }
  advance_clock(now);  // a stamp moves the clock even for a transaction refused below
  bool succeeded = true;
  for (const auto& c : t->compares) succeeded = succeeded && holds(c);
  const auto& ops = succeeded ? t->then_ops : t->else_ops;
  if (auto e = check_ops(ops, now, reply); e != errc::ok) return e;
  if (now == 0) now = clock_;  // for ttl ops of an unstamped transaction
  std::string local;
  std::string& out = reply != nullptr ? *reply : local;
  out.clear();
  append_reply_header(out, 0, succeeded, static_cast<std::uint16_t>(ops.size()));
  ks_.begin_write();
  for (const auto& op : ops) {
    switch (op.type) {
      case txn_op_type::put: {
        std::uint64_t expires = 0;
        if ((op.flags & op_ttl) != 0) {
          expires = now + static_cast<std::uint64_t>(op.ttl_ms);
        } else if ((op.flags & op_keep_ttl) != 0) {
          auto kv = ks_.get(op.key);
          expires = kv ? kv->expires : 0;
        }
        auto prev = ks_.put(op.key, op.value, expires);
        out.push_back(static_cast<char>(txn_op_type::put));
        const bool with_prev = prev && (op.flags & op_prev_kv) != 0;
        out.push_back(with_prev ? 1 : 0);
        if (with_prev) append_kv(out, prev->key, prev->value, prev->create_revision, prev->mod_revision, prev->version);
        if (changes != nullptr) changes->put(op.key, op.value);
        leases_.attach(op.key, op.lease);  // 0: detaches it
        break;
      }
      case txn_op_type::range:
        append_range(out, op);
        break;
      case txn_op_type::delete_range: {
        out.push_back(static_cast<char>(txn_op_type::delete_range));
        const auto count_at = out.size();
        append_fixed<std::uint64_t>(out, 0);
        append_fixed<std::uint32_t>(out, 0);
        const bool with_prev = (op.flags & op_prev_kv) != 0;
        auto n = ks_.delete_range(key_range{op.key, op.end}, [&](const key_value& kv) {
          if (with_prev) append_kv(out, kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version);
          if (changes != nullptr) changes->erase(kv.key);
        });
        put_fixed<std::uint64_t>(out.data() + count_at, n);
        put_fixed<std::uint32_t>(out.data() + count_at + 8, with_prev ? static_cast<std::uint32_t>(n) : 0);
        leases_.detach(key_range{op.key, op.end});
        break;
      }
      case txn_op_type::incr: {
        const auto c = *counter_sum(ks_, op.key, op.delta);  // checked above
        put_counter(op.key, c, changes);
        out.push_back(static_cast<char>(txn_op_type::incr));
        append_fixed<std::int64_t>(out, c.sum);
        break;
      }
      case txn_op_type::expire: {
        auto kv = ks_.get(op.key);
        const std::uint64_t expires = op.ttl_ms == 0 ? 0 : now + static_cast<std::uint64_t>(op.ttl_ms);
        const bool change = kv && (op.ttl_ms != 0 || kv->expires != 0);
        if (change) {
          // The value is rewritten from a copy: put() may not read from the keyspace it changes.
          std::string value(kv->value);
          ks_.put(op.key, value, expires);
          if (changes != nullptr) changes->put(op.key, value);
        }
        out.push_back(static_cast<char>(txn_op_type::expire));
        append_fixed<std::int64_t>(out, change ? 1 : 0);
        break;
      }
      case txn_op_type::ttl:
        append_ttl(out, op.key, now);
        break;
    }
  }
  put_fixed<std::uint64_t>(out.data(), ks_.end_write());
  return errc::ok;
}

void state_machine::put_counter(std::string_view key, const counter& c, change_list* changes) {
  char text[24];
  const auto end = fmt::format_to(text, "{}", c.sum);
  const std::string_view value(text, static_cast<std::size_t>(end - text));
  ks_.put(key, value, c.expires);  // an incr keeps the TTL, as Redis's INCR
  if (changes != nullptr) changes->put(key, value);
  leases_.detach(key);
}

errc state_machine::apply_incr(std::string_view key, std::int64_t delta, std::string* reply, change_list* changes) {
  auto sum = counter_sum(ks_, key, delta);
  if (!sum) {
    set_message(reply, sum.message());
    return errc::bad_request;
  }
  ks_.begin_write();
  put_counter(key, *sum, changes);
  const auto revision = ks_.end_write();
  if (reply != nullptr) {
    reply->clear();
    append_fixed<std::uint64_t>(*reply, revision);
    append_fixed<std::int64_t>(*reply, sum->sum);
  }
  return errc::ok;
}

errc state_machine::apply_expire(const command_view& cmd, std::string* reply, change_list* changes) {
  advance_clock(cmd.now);
  std::uint64_t deleted = 0;
  ks_.begin_write();
  auto note = [&](const key_value& gone) {
    if (changes != nullptr) changes->erase(gone.key);
  };
  cmd.for_each_key([&](std::string_view key) {
    // A write since the leader found the key due may have given it a later expiry, or none.
    if (!ks_.erase_expired(key, cmd.now, changes != nullptr ? note : std::function<void(const key_value&)>())) return;
    if (!leases_.empty()) leases_.detach(key);
    ++deleted;
  });
  const auto revision = ks_.end_write();
  if (reply != nullptr) {
    reply->clear();
    append_fixed<std::uint64_t>(*reply, revision);
    append_fixed<std::uint64_t>(*reply, deleted);
  }
  return errc::ok;
}

errc state_machine::apply_compact(std::uint64_t revision, std::string* reply) {
  if (auto e = ks_.check_compact(revision); e.code) {
    set_message(reply, e.message);
    return static_cast<errc>(e.code.value());
  }
  ks_.compact(revision);
  return errc::ok;
}

errc state_machine::apply_lease_grant(const command_view& cmd, std::string* reply) {
  auto id = leases_.grant(cmd.lease, cmd.ttl);
  if (!id) {
    set_message(reply, id.message());
    return errc::bad_request;
  }
  if (reply != nullptr) {
    reply->clear();
    append_fixed<std::uint64_t>(*reply, *id);
    append_fixed<std::int64_t>(*reply, cmd.ttl);
  }
  return errc::ok;
}

errc state_machine::apply_lease_revoke(std::uint64_t id, std::string* reply, change_list* changes) {
  auto keys = leases_.revoke(id);
  if (!keys) {
    set_message(reply, fmt::format("lease {} not found (it expired, was revoked, or never existed)", id));
    return errc::not_found;
  }
  // Every key in one write: one revision, on every member alike.
  ks_.begin_write();
  for (const auto& k : *keys) {
    ks_.delete_range(key_range{k, {}}, [&](const key_value& kv) {
      if (changes != nullptr) changes->erase(kv.key);
    });
  }
  const auto revision = ks_.end_write();
  if (reply != nullptr) {
    reply->clear();
    append_fixed<std::uint64_t>(*reply, revision);
  }
  return errc::ok;
}

std::optional<std::string_view> state_machine::get(std::string_view key) const {
  auto v = ks_.get(key);
  if (!v) return std::nullopt;
  return v->value;
}

void state_machine::restore_pair(std::string_view key, std::string_view value) {
  captured_key k;
  k.key = key;
  k.versions.push_back({1, 1, 1, value, 0});
  ks_.restore_key(k);
}

void state_machine::begin_capture(chunk_sink sink) {
  assert(!capturing());
  capture_clock_ = clock_;
  // The keyspace hands over one key at a time, encoded straight into the chunk being built; the
  // chunk is shared rather than a member so that the sink stays valid if this object moves.
  capture_sink_ = std::move(sink);
  capture_chunk_ = std::make_shared<chunk>();
  ks_.begin_capture([c = capture_chunk_](const captured_key& k) {
    append_key_record(c->keys, k);
    ++c->count;
  });
}

void state_machine::begin_batched_capture() {
  assert(!capturing());
  capture_clock_ = clock_;
  ks_.begin_batched_capture();
}

state_machine::chunk state_machine::encode(const keyspace::capture_batch& b) {
  chunk c;
  keyspace::encode(b, [&c](const captured_key& k) {
    append_key_record(c.keys, k);
    ++c.count;
  });
  return c;
}

bool state_machine::capture_step() {
  const bool more = ks_.capture_step(keys_per_batch);
  if (capture_chunk_->count > 0) {
    chunk c = std::move(*capture_chunk_);
    *capture_chunk_ = chunk{};
    capture_chunk_->keys.reserve(c.keys.size());
    capture_sink_(std::move(c));
  }
  if (!more) {
    capture_sink_ = nullptr;
    capture_chunk_.reset();
  }
  return more;
}

}  // namespace kv
