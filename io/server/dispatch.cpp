// The request side of a connection: decodes each frame into a request, hands it to the store or
// the index, and appends the answer to the connection's output. See connection.hpp.

#include "core/base/bytes.hpp"
#include "core/base/spawn.hpp"
#include "core/model/txn.hpp"
#include "index/node/node_index.hpp"
#include "io/server/connection.hpp"
#include "io/server/error_text.hpp"
#include "io/server/server.hpp"
#include "io/server/status_report.hpp"

#include <asio/co_spawn.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace kv {

void connection::handle(const protocol::frame& f) {
  ++srv_.stats_.requests;
  if (f.version != protocol::version) {
    return reject(f.id, protocol::status::bad_request, error_text::unsupported_version(f.version));
  }
  auto& st = srv_.store_;
  // A write in a client session (exactly-once) carries its place in the session first.
  std::string_view body = f.body;
  session_ref session;
  if ((f.flags & protocol::flag_session) != 0) {
    auto ref = protocol::take_session_prefix(body);
    if (!ref) return respond_bad_body(f.id, "session prefix of a");
    session = *ref;
  }
  switch (static_cast<protocol::op>(f.code)) {
    case protocol::op::ping:
      return protocol::respond_ok(out_, f.id);
    case protocol::op::get: {
      if (auto e = st.check_key_for_read(f.body); e != errc::ok) {
        return protocol::respond_error(out_, f.id, protocol::to_status(e),
                                       error_text::key_refused(e, f.body.size(), st.storage()));
      }
      return read(f.id, protocol::op::get, f.body, f.flags);
    }
    case protocol::op::txn:
      return txn(f.id, body, f.flags, session);
    case protocol::op::compact: {
      auto rev = protocol::parse_compact(body);
      if (!rev) return respond_bad_body(f.id, "compact");
      return submit(
          f.id, protocol::op::compact, [&](store::write_done done) { st.submit_compact(*rev, std::move(done)); }, 0,
          0);
    }
    case protocol::op::set: {
      auto req = protocol::parse_set(body);
      if (!req) return respond_bad_body(f.id, "set");
      return submit(f.id, protocol::op::set,
                    [&](store::write_done done) { st.submit_set(req->key, req->value, std::move(done), session); },
                    req->key.size(), req->value.size());
    }
    case protocol::op::del:
      return submit(
          f.id, protocol::op::del, [&](store::write_done done) { st.submit_del(body, std::move(done), session); },
          body.size(), 0);
    case protocol::op::bulk_set: {
      auto req = protocol::parse_bulk_set(body);
      if (!req) return respond_bad_body(f.id, "bulk_set");
      return submit(
          f.id, protocol::op::bulk_set,
          [&](store::write_done done) { st.submit_bulk_set(req->pairs, req->count, std::move(done), session); }, 0,
          body.size());
    }
    case protocol::op::open_session:
      return submit(
          f.id, protocol::op::open_session, [&](store::write_done done) { st.submit_open_session(std::move(done)); },
          0, 0);
    case protocol::op::status:
      return respond_status(f.id);
    case protocol::op::lease_grant: {
      auto req = protocol::parse_lease_grant(body);
      if (!req) return respond_bad_body(f.id, "lease_grant");
      return submit(
          f.id, protocol::op::lease_grant,
          [&](store::write_done done) { st.submit_lease_grant(req->ttl_seconds, req->lease, std::move(done), session); },
          0, 0);
    }
    case protocol::op::lease_revoke: {
      auto lease = protocol::parse_compact(body);
      if (!lease) return respond_bad_body(f.id, "lease_revoke");
      return submit(
          f.id, protocol::op::lease_revoke,
          [&](store::write_done done) { st.submit_lease_revoke(*lease, std::move(done), session); }, 0, 0);
    }
    case protocol::op::lease_keepalive: {
      auto lease = protocol::parse_compact(body);
      if (!lease) return respond_bad_body(f.id, "lease_keepalive");
      return keep_lease_alive(f.id, *lease);
    }
    case protocol::op::lease_time_to_live: {
      auto req = protocol::parse_lease_time_to_live(body);
      if (!req) return respond_bad_body(f.id, "lease_time_to_live");
      auto s = st.lease_time_to_live(req->lease);
      if (!s) return protocol::respond_error(out_, f.id, protocol::to_status(s.error()), s.message(), s.failure().leader);
      protocol::lease_time_left t;
      t.ttl_seconds = s->ttl_seconds;
      t.remaining_ms = s->remaining_ms;
      if (req->keys) t.keys = std::move(s->keys);
      return protocol::respond_lease_time_to_live(out_, f.id, t);
    }
    case protocol::op::lease_list: {
      std::vector<std::uint64_t> ids;
      for (const auto& [id, lease] : st.state().leases().leases()) ids.push_back(id);
      return protocol::respond_lease_list(out_, f.id, ids);
    }
    case protocol::op::watch:
      return start_watch(f.id, body);
    case protocol::op::watch_cancel:
      return cancel_watch(f.id, body);
    case protocol::op::watch_progress:
      return report_progress(f.id);
    case protocol::op::search: {
      auto req = protocol::parse_search(body);
      if (!req) return respond_bad_body(f.id, "search");
      return start_query(f.id, f.flags, req->min_index,
                         [q = std::move(req->query)](search::node_index& index, std::uint64_t min_index) {
                           return index.search(q, min_index);
                         });
    }
    case protocol::op::similar: {
      auto req = protocol::parse_similar(body);
      if (!req) return respond_bad_body(f.id, "similar");
      return start_query(f.id, f.flags, req->min_index,
                         [q = std::move(req->query)](search::node_index& index, std::uint64_t min_index) {
                           return index.similar(q, min_index);
                         });
    }
  }
  protocol::respond_error(out_, f.id, protocol::status::bad_request, error_text::unknown_operation(f.code));
}

void connection::respond_bad_body(std::uint64_t id, std::string_view what) {
  protocol::respond_error(out_, id, protocol::status::bad_request, error_text::malformed_body(what));
}

// ---- writes -----------------------------------------------------------------------------

// Hands a write to the store; its callback answers it. `o`, `key_size` and `value_size` only
// shape error messages. The callback fits store::write_done's inline storage: no allocation.
void connection::submit(std::uint64_t id, protocol::op o, auto&& submit_to_store, std::size_t key_size,
                        std::size_t value_size) {
  ++inflight_;
  auto& st = srv_.store_;
  auto before = st.last_index();
  submit_to_store([self = shared_from_this(), id, o, key_size, value_size](result<std::uint64_t> r) {
    self->on_write_done(id, o, std::move(r), key_size, value_size);
  });
  if (st.last_index() != before) last_write_index_ = st.last_index();
}

void connection::on_write_done(std::uint64_t id, protocol::op o, result<std::uint64_t> r, std::size_t key_size,
                               std::size_t value_size) {
  --inflight_;
  if (r && (o == protocol::op::txn || o == protocol::op::lease_grant)) {
    protocol::respond_value(out_, id, srv_.store_.reply());
  } else if (r && o == protocol::op::lease_revoke) {
    // The reply holds the revision the revoke's deletes took (the current one if it had no key).
    const auto reply = srv_.store_.reply();
    const auto revision = reply.size() == 8 ? get_fixed<std::uint64_t>(reply.data()) : srv_.store_.state().revision();
    protocol::respond_write(out_, id, {*r, revision});
  } else if (r && (o == protocol::op::set || o == protocol::op::del || o == protocol::op::bulk_set)) {
    // This runs right after the entry applied, so the keyspace's revision is the one the write
    // took; for a duplicate in a session it is the current one, at least the write's.
    protocol::respond_write(out_, id, {*r, srv_.store_.state().revision()});
  } else if (r) {
    protocol::respond_index(out_, id, *r);
  } else {
    protocol::respond_error(out_, id, protocol::to_status(r.error()),
                            error_text::write_failed(r, o, key_size, value_size, srv_.store_.storage()),
                            r.failure().leader);
  }
  serve_deferred_reads();
  answered();
}

// ---- leases ----------------------------------------------------------------------------

void connection::keep_lease_alive(std::uint64_t id, std::uint64_t lease) {
  ++inflight_;
  srv_.store_.renew_lease(lease, [self = shared_from_this(), id](result<std::int64_t> r) {
    --self->inflight_;
    if (r) {
      std::string ttl;
      append_fixed<std::int64_t>(ttl, *r);
      protocol::respond_value(self->out_, id, ttl);
    } else {
      protocol::respond_error(self->out_, id, protocol::to_status(r.error()), r.message(), r.failure().leader);
    }
    self->answered();
  });
}

// ---- reads ------------------------------------------------------------------------------

// A transaction: a write goes through the log; one that only reads is served as a get is.
void connection::txn(std::uint64_t id, std::string_view body, std::uint16_t flags, const session_ref& session) {
  auto& st = srv_.store_;
  auto t = decode_txn(body);
  if (!t) return respond_bad_body(id, "txn");
  if (!read_only(*t)) {  // the store checks it
    return submit(
        id, protocol::op::txn, [&](store::write_done done) { st.submit_txn(body, *t, std::move(done), session); },
        0, body.size());
  }
  if (auto e = check_txn(*t, st.limits()); e.code) {
    return protocol::respond_error(out_, id, protocol::to_status(e.code), e.message);
  }
  read(id, protocol::op::txn, body, flags);
}

void connection::read(std::uint64_t id, protocol::op o, std::string_view body, std::uint16_t flags) {
  auto& st = srv_.store_;
  if ((flags & protocol::flag_stale_read) == 0 && !st.reads_are_local()) return read_after_barrier(id, o, body);
  if (st.applied_index() < last_write_index_) {
    deferred_.push_back({id, o, std::string(body)});  // after this connection's earlier writes
    return;
  }
  serve_read(id, o, body);
}

// A linearizable read on a cluster: served once ReadIndex confirms this node's state is current.
void connection::read_after_barrier(std::uint64_t id, protocol::op o, std::string_view body) {
  ++inflight_;
  srv_.store_.read_barrier(
      [self = shared_from_this(), id, o, body = std::string(body)](result<std::uint64_t> r) mutable {
        self->on_read_ready(id, o, std::move(body), std::move(r));
      });
}

void connection::on_read_ready(std::uint64_t id, protocol::op o, std::string body, result<std::uint64_t> r) {
  --inflight_;
  if (!r) {
    protocol::respond_error(out_, id, protocol::to_status(r.error()), r.message(), r.failure().leader);
  } else if (srv_.store_.applied_index() < last_write_index_) {
    deferred_.push_back({id, o, std::move(body)});
  } else {
    serve_read(id, o, body);
  }
  answered();
}

// Serves the reads that were waiting for this connection's writes, once those are applied.
void connection::serve_deferred_reads() {
  while (!deferred_.empty() && srv_.store_.applied_index() >= last_write_index_) {
    const auto& d = deferred_.front();
    serve_read(d.id, d.op, d.body);
    deferred_.pop_front();
  }
}

void connection::serve_read(std::uint64_t id, protocol::op o, std::string_view body) {
  if (o == protocol::op::txn) return serve_txn(id, body);
  serve_get(id, body);
}

void connection::serve_get(std::uint64_t id, std::string_view key) {
  if (auto v = srv_.store_.find(key)) {
    protocol::respond_value(out_, id, *v);
  } else {
    protocol::respond_error(out_, id, protocol::status::not_found, {});
  }
}

void connection::serve_txn(std::uint64_t id, std::string_view body) {
  auto t = decode_txn(body);  // checked when it arrived
  if (!t) return respond_bad_body(id, "txn");
  if (auto e = srv_.store_.read(*t, reply_); e != errc::ok) {
    return protocol::respond_error(out_, id, protocol::to_status(make_error_code(e)), reply_);
  }
  protocol::respond_value(out_, id, reply_);
}

// ---- queries ----------------------------------------------------------------------------

// A search or similar query: answered by the index once it reflects `min` (a log index, or with
// flag_min_revision a revision), this connection's earlier writes and, unless the request asks
// for a stale read, every write acknowledged before it arrived (the read index, as for get).
void connection::start_query(std::uint64_t id, std::uint16_t flags, std::uint64_t min, auto query) {
  if (srv_.index_ == nullptr) {
    return protocol::respond_error(out_, id, protocol::status::bad_request, error_text::search_disabled());
  }
  ++inflight_;
  const bool stale = (flags & protocol::flag_stale_read) != 0;
  const bool by_revision = (flags & protocol::flag_min_revision) != 0;
  const auto min_index = std::max(by_revision ? 0 : min, last_write_index_);
  asio::co_spawn(srv_.executor_,
                 run_query(shared_from_this(), id, stale, min_index, by_revision ? min : 0, std::move(query)),
                 log_failure("a search on connection " + peer_));
}

asio::awaitable<void> connection::run_query(std::shared_ptr<connection> self, std::uint64_t id, bool stale,
                                            std::uint64_t min_index, std::uint64_t min_revision, auto query) {
  auto& st = self->srv_.store_;
  auto& index = *self->srv_.index_;
  result<search::search_answer> answer = errc::internal;
  // A revision is waited for as the log index that made it, once this node has applied it: after
  // the read barrier every acknowledged revision is here; a stale search does not wait for one.
  auto wait_point = [&](std::uint64_t floor) -> result<std::uint64_t> {
    if (min_revision > st.state().revision()) {
      return error_info{make_error_code(errc::future_revision),
                        fmt::format("revision {} is beyond this node's revision {}{}", min_revision,
                                    st.state().revision(), stale ? " (a stale search does not wait for it)" : ""),
                        {}};
    }
    return std::max({min_index, floor, st.index_of_revision(min_revision)});
  };
  // (No co_await inside a conditional expression: g++ 12 miscompiles it.)
  result<std::uint64_t> at = errc::internal;
  if (stale) {
    at = wait_point(0);
  } else if (st.reads_are_local()) {
    at = wait_point(st.applied_index());
  } else {
    auto read_index = co_await st.read_barrier();
    at = read_index ? wait_point(*read_index) : read_index;
  }
  if (at) {
    answer = co_await query(index, *at);
  } else {
    answer = at.failure();
  }
  --self->inflight_;
  if (answer) {
    protocol::respond_search(self->out_, id, *answer);
  } else {
    protocol::respond_error(self->out_, id, protocol::to_status(answer.error()), answer.message(),
                            answer.failure().leader);
  }
  self->answered();
}

// ---- status -----------------------------------------------------------------------------

void connection::respond_status(std::uint64_t id) {
  server_facts facts;
  facts.uptime =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - srv_.started_);
  facts.connections = srv_.connections_.size();
  facts.max_frame_bytes = srv_.cfg_.max_frame_bytes;
  facts.watch_events = srv_.stats_.watch_events;
  protocol::respond_status(out_, id, status_report(srv_.store_, srv_.index_, facts));
}

}  // namespace kv
