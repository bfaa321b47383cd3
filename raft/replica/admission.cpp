// Write admission: checks a write's key and value against the limits, refuses it while the
// disk is full or this node does not lead, and proposes it to the Raft core; its writer then
// waits in waiters_ until apply.cpp answers it.

#include "raft/replica/store.hpp"

#include "core/base/bytes.hpp"
#include "raft/replica/await_callback.hpp"

#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

namespace kv {

using replica_detail::await_callback;

errc store::check_key(std::string_view key) const {
  if (key.empty()) return errc::bad_request;
  if (key.size() > cfg_.max_key_bytes) return errc::too_large;
  return errc::ok;
}

errc store::check_pair(std::string_view key, std::string_view value) const {
  if (auto e = check_key(key); e != errc::ok) return e;
  return value.size() > cfg_.max_value_bytes ? errc::too_large : errc::ok;
}

void store::submit_set(std::string_view key, std::string_view value, write_done done, const session_ref& session) {
  if (auto e = check_pair(key, value); e != errc::ok) return done(e);
  propose(encode_set(key, value), std::move(done), session);
}

void store::submit_del(std::string_view key, write_done done, const session_ref& session) {
  if (auto e = check_key(key); e != errc::ok) return done(e);
  propose(encode_del(key), std::move(done), session);
}

void store::submit_incr(std::string_view key, std::int64_t delta, write_done done, const session_ref& session) {
  if (auto e = check_key(key); e != errc::ok) return done(e);
  propose(encode_incr(key, delta), std::move(done), session);
}

void store::submit_open_session(write_done done) { propose(encode_open_session(), std::move(done)); }

void store::submit_bulk_set(std::string_view pairs, std::uint32_t count, write_done done, const session_ref& session) {
  if (count == 0 || !valid_pairs(pairs, count)) return done(errc::bad_request);
  errc e = errc::ok;
  for_each_pair(pairs, count, [&](std::string_view k, std::string_view v) {
    if (e == errc::ok) e = check_pair(k, v);
  });
  if (e != errc::ok) return done(e);
  std::string command;
  command.reserve(1 + 4 + pairs.size());
  command.push_back(static_cast<char>(command_type::bulk_set));
  append_fixed<std::uint32_t>(command, count);
  command.append(pairs);
  propose(std::move(command), std::move(done), session);
}

txn_limits store::limits() const noexcept {
  txn_limits l;
  l.max_ops = cfg_.max_txn_ops;
  l.max_key_bytes = cfg_.max_key_bytes;
  l.max_value_bytes = cfg_.max_value_bytes;
  return l;
}

void store::submit_txn(std::string_view txn, write_done done, const session_ref& session) {
  auto t = decode_txn(txn);
  if (!t) return done(error_info{make_error_code(errc::bad_request), "the transaction is malformed", {}});
  submit_txn(txn, *t, std::move(done), session);
}

void store::submit_txn(std::string_view txn, const txn_view& decoded, write_done done, const session_ref& session) {
  if (auto e = check_txn(decoded, limits()); e.code) return done(std::move(e));
  std::uint64_t now = 0;
  if (uses_clock(decoded)) {
    if (stopping_) return done(errc::unavailable);  // as propose() answers every write then
    if (role() != raft::role::leader) return done(not_leader_error());
    auto reading = leader_clock();
    if (!reading) {
      // A new leader has no clock until it applies the first entry of its term, about a round
      // trip away: the write waits for it (follow_clock() submits it again, or fails it if the
      // leadership is lost meanwhile).
      clock_waiters_.push_back([this, bytes = std::string(txn), done = std::move(done), session]() mutable {
        submit_txn(bytes, std::move(done), session);
      });
      return;
    }
    now = *reading;
  }
  propose(encode_txn_command(txn, now), std::move(done), session);
}

void store::submit_compact(std::uint64_t revision, write_done done) {
  if (auto e = sm_.keys().check_compact(revision); e.code && e.code != make_error_code(errc::future_revision)) {
    return done(std::move(e));  // a future revision may exist by the time the entry applies
  }
  propose(encode_compact(revision), std::move(done));
}

asio::awaitable<result<std::uint64_t>> store::set(std::string key, std::string value) {
  co_return co_await await_callback([&](write_done done) { submit_set(key, value, std::move(done)); });
}

asio::awaitable<result<std::uint64_t>> store::del(std::string key) {
  co_return co_await await_callback([&](write_done done) { submit_del(key, std::move(done)); });
}

asio::awaitable<result<std::uint64_t>> store::bulk_set(std::vector<kv_pair> pairs) {
  std::string encoded;
  for (const auto& p : pairs) append_pair(encoded, p.key, p.value);
  auto count = static_cast<std::uint32_t>(pairs.size());
  co_return co_await await_callback([&](write_done done) { submit_bulk_set(encoded, count, std::move(done)); });
}

error_info store::not_leader_error() const {
  auto leader = node_->leader();
  if (leader == 0) {
    return error_info{make_error_code(errc::not_leader),
                      fmt::format("no leader (node {} is {} in term {}): an election is under way or a majority of "
                                  "the cluster is unreachable; retry",
                                  repl_.id, raft::to_string(role()), term()),
                      {}};
  }
  auto it = repl_.client_addresses.find(leader);
  auto address = it == repl_.client_addresses.end() ? std::string() : it->second;
  return error_info{make_error_code(errc::not_leader),
                    fmt::format("node {} is not the leader; the leader is node {}{}", repl_.id, leader,
                                address.empty() ? "" : " at " + address),
                    address};
}

void store::propose(std::string command, write_done done, const session_ref& session) {
  if (stopping_) return done(errc::unavailable);
  if (wal_->out_of_space() && role() == raft::role::leader) {  // a follower redirects instead
    return done(error_info{make_error_code(errc::no_space),
                           fmt::format("node {} cannot write: {}; the write was not applied, and writes are taken "
                                       "again once space is freed",
                                       repl_.id, wal_->space_problem()),
                           {}});
  }
  if (session.session != 0) command = encode_in_session(session, command);
  if (command.size() > cfg_.max_batch_bytes) return done(errc::too_large);
  auto size = command.size();
  auto index = node_->propose(std::move(command));
  if (!index) {
    if (index.is(errc::not_leader)) return done(not_leader_error());
    return done(error_info{index.error(), "leadership is being transferred; retry", {}});
  }
  log_bytes_ += wal::header_bytes + size;
  waiters_.push_back(waiter{*index, node_->term(), std::move(done)});
  raft_wake_.notify();
}

}  // namespace kv
