#pragma once
// kvnode's asynchronous C++ client.
//
//   asio::io_context ctx;
//   kv::client c(ctx.get_executor(), {.endpoints = {"127.0.0.1:7379"}});
//   asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
//     auto ack = co_await c.set("k", "v");    // result<write_ack>: ack->revision, ack->index
//     auto v = co_await c.get("k");           // result<std::string>; v.is(kv::errc::not_found)
//   }, asio::detached);
//   ctx.run();
//
// Every operation returns a kv::result: the value, or an error code (kv::errc) with the server's
// message. Expected outcomes such as not-found are results, never exceptions.
//
// - Pipelining: any number of requests may be in flight at once over the one connection; start
//   them from several coroutines.
// - Timeouts: a request not answered within request_timeout fails with errc::timed_out.
// - Reconnects: if the connection drops, reads in flight are sent again; writes are too, under
//   exactly-once sessions (the default, see options::exactly_once), else they fail with
//   errc::unavailable (and may or may not have been applied). The next request connects again,
//   trying each endpoint in turn.
// - Leaders: a request a node refuses because it is not the leader (errc::not_leader: it was
//   not applied) is sent again to the leader that node names, or, while no leader is known
//   (an election, a dead leader), to the next endpoint after a short backoff, for up to
//   leader_wait. After that it fails with errc::unavailable.
// - Reads (get, search, similar, status, ping) are idempotent: one whose connection was lost, or
//   that a node answered unavailable (no leader confirmed its read index, say right after the
//   leader died), is sent again, to the next endpoint after a short backoff, for up to
//   leader_wait, as a write in a session is. A read not answered within request_timeout fails
//   (a write in a session is sent again).
// - A response that does not follow the protocol (the endpoint is not a kvnode node) fails the
//   request with std::errc::protocol_error and a message naming the endpoint.
//
// Thread safety: a client belongs to the executor it was created with. Call it only from that
// executor's thread (or strand); use one client per thread.

#include "core/base/error.hpp"
#include "core/model/txn.hpp"
#include "io/protocol/protocol.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace kv {

namespace io {
class event;
}

// What `status` returns: the node's self-description as named fields (see docs/protocol.md).
struct node_status {
  std::vector<protocol::status_field> fields;
  // The numeric field `name`, or 0 if absent.
  std::uint64_t number(std::string_view name) const;
  // The text field `name`, or "" if absent.
  std::string text(std::string_view name) const;
};

// What set, del and bulk_set yield once the write is applied: the answer's `index` (the log
// index the write was applied at, increasing with every write, on every node alike) and
// `revision` (the keyspace's revision when the node answered: the revision the write took, as a
// transaction's reply carries it and get --rev / min_point::revision take it; a write sent again
// in its session and answered as a duplicate gets the node's revision at that moment, at least
// the one the write took).
using write_ack = protocol::write_reply;

// What a search's minimum names: a log index (write_ack::index) or a revision (write_ack::revision,
// or a transaction's reply's).
enum class min_point : std::uint8_t { index, revision };

// What to watch (etcd v3's watch): the keys in [key, end) (end empty: the one key; see
// core/model/key_range.hpp for prefixes and "everything from key"), from `start_revision`
// (0: the changes after the node's current revision).
struct watch_spec {
  std::string key;
  std::string end;
  std::uint64_t start_revision = 0;
  bool no_put = false;     // report no puts
  bool no_delete = false;  // report no deletes
  bool prev_kv = false;    // each event carries the version it replaced
  // The node tells an idle watch its revision every watch-progress-interval (etcd's progress
  // notify), as an empty batch.
  bool progress_notify = false;
};

// What watch_stream::next() yields.
struct watch_batch {
  // Every change of the watched range up to this revision has been delivered, this batch's
  // included.
  std::uint64_t revision = 0;
  // The changes of one or more whole revisions, in revision order (a transaction's together);
  // empty: a progress notification.
  std::vector<protocol::watch_event> events;
};

class watch_stream;

enum class read_mode : std::uint8_t {
  linearizable,  // the default: reflects every write acknowledged before the read began
  stale,         // served from the contacted node's local state; may miss recent writes
};

class client {
 public:
  struct options {
    std::vector<std::string> endpoints{"127.0.0.1:7379"};  // host:port, tried in order
    std::chrono::milliseconds request_timeout{5000};
    std::chrono::milliseconds connect_timeout{2000};
    int max_redirects = 3;  // redirects followed at once; later ones wait a backoff first
    // How long a request keeps looking for a leader (during an election, after a leader died)
    // before it fails with errc::unavailable.
    std::chrono::milliseconds leader_wait{3000};
    std::uint32_t max_frame_bytes = 64u << 20;  // largest response accepted
    // Exactly-once writes: the client opens a session on its first write and numbers its
    // writes, so a write whose outcome was lost (timeout, dropped connection, failover) is sent
    // again, within leader_wait, and applied once. Off: such a write fails with
    // errc::unavailable or errc::timed_out, and may or may not have been applied.
    bool exactly_once = true;
  };

  client(asio::any_io_executor executor, options opts);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  asio::awaitable<result<write_ack>> set(std::string key, std::string value);
  asio::awaitable<result<std::string>> get(std::string key, read_mode mode = read_mode::linearizable);
  // errc::not_found if the key did not exist.
  asio::awaitable<result<write_ack>> del(std::string key);
  // Atomic, one revision: every pair is written, or (on error) none.
  asio::awaitable<result<write_ack>> bulk_set(std::vector<std::pair<std::string, std::string>> pairs);
  // ---- the ordered, multi-version keyspace (etcd v3's data model; core/model/txn.hpp) ------
  // A transaction, atomic: the compares decide the branch; the reply carries each op's result
  // and the revision. One that only reads (ranges) is served as a read, in `mode`; one that
  // writes goes through the log, in this client's session (exactly-once).
  asio::awaitable<result<txn_reply>> txn(kv::txn t, read_mode mode = read_mode::linearizable);
  // The keys of `op` (a range op: make_range(), with flags such as op_keys_only), and the
  // revision the answer reflects.
  struct range_reply {
    std::uint64_t revision = 0;
    std::vector<kv_version> kvs;
    std::uint64_t count = 0;  // keys in the range, regardless of the limit
    bool more = false;
  };
  asio::awaitable<result<range_reply>> range(txn_op op, read_mode mode = read_mode::linearizable);
  // Deletes every key in [key, end) (end empty: the one key); the deleted versions when prev_kv.
  struct delete_reply {
    std::uint64_t revision = 0;
    std::uint64_t deleted = 0;
    std::vector<kv_version> prev;
  };
  asio::awaitable<result<delete_reply>> delete_range(std::string key, std::string end = {}, bool prev_kv = false);
  // Deletes each of `keys` in one transaction.
  asio::awaitable<result<delete_reply>> delete_keys(std::vector<std::string> keys);
  // Adds `delta` to the decimal integer `key` holds (absent: 0); yields the new value, or
  // errc::bad_request if the value is not an integer or the sum overflows (nothing changes).
  asio::awaitable<result<std::int64_t>> incr(std::string key, std::int64_t delta = 1);
  // ---- per-key TTLs (Redis's EXPIRE family; core/model/txn.hpp) -----------------------------
  // Sets `key` to `value`, expiring `ttl` after the write (at least 1 ms); yields the revision.
  asio::awaitable<result<std::uint64_t>> put_with_ttl(std::string key, std::string value, std::chrono::milliseconds ttl);
  // Gives the live `key` a TTL of `ttl` from now (a new version of the key); false if there is
  // no such key.
  asio::awaitable<result<bool>> expire(std::string key, std::chrono::milliseconds ttl);
  // Removes `key`'s TTL; false if there is no such key or it has none (Redis's PERSIST).
  asio::awaitable<result<bool>> persist(std::string key);
  // What `key` has left, in milliseconds: -1 for a key without a TTL, -2 for no such key (Redis's
  // PTTL). Read on the node the client is connected to, against its reading of the cluster clock.
  asio::awaitable<result<std::int64_t>> ttl(std::string key, read_mode mode = read_mode::linearizable);
  // The values of `keys` at one revision: one range result per key, in order.
  asio::awaitable<result<txn_reply>> mget(std::vector<std::string> keys, read_mode mode = read_mode::linearizable);
  // Drops the history below `revision` on every node; yields the compaction's log index.
  asio::awaitable<result<std::uint64_t>> compact(std::uint64_t revision);

  // ---- leases (etcd v3's; docs/protocol.md) -----------------------------------------------
  // A lease of `ttl_seconds` (1 to 9e9), named `id` or (0) numbered by the cluster. A put in a
  // transaction attaches a key to it (make_put(key, value, prev_kv, lease)); when the lease
  // expires or is revoked, its keys are deleted at one revision. In this client's session.
  asio::awaitable<result<protocol::lease_granted>> grant_lease(std::int64_t ttl_seconds, std::uint64_t id = 0);
  // Ends lease `id` and deletes its keys (errc::not_found if there is no such lease).
  asio::awaitable<result<write_ack>> revoke_lease(std::uint64_t id);
  // Renews lease `id` for a full TTL, counted at the latest from when this call was sent; yields
  // the TTL. errc::not_found once the lease expired or was revoked. Keep a lease alive by calling
  // this about every TTL/3, or let a lease_keeper do it (io/client/lease_keeper.hpp).
  asio::awaitable<result<std::int64_t>> keep_alive(std::uint64_t id);
  // The lease's granted TTL, what it has left (on the leader's clock) and, with `keys`, its keys.
  asio::awaitable<result<protocol::lease_time_left>> time_to_live(std::uint64_t id, bool keys = false);
  // Every lease's id, from the contacted node's applied state.
  asio::awaitable<result<std::vector<std::uint64_t>>> leases();

  // The round-trip time.
  asio::awaitable<result<std::chrono::microseconds>> ping();
  asio::awaitable<result<node_status>> status();

  // Full-text search (AND / OR / phrase, prefix terms, BM25-ranked) and n-gram similarity
  // (Jaccard, top k above a threshold) over values; see core/model/query.hpp. The node answers once
  // its index has applied `min_index` (pass the write_ack::index a write returned to find what
  // you just wrote, on any node), and, in the linearizable mode, every write acknowledged before
  // the request. answer.applied_index says which log index the index reflected.
  // With min_point::revision, `min_index` is a revision (write_ack::revision, a txn's): the node
  // waits until its index has applied the entry that made it (errc::future_revision if this node
  // has not reached it after the read barrier, or at once for a stale search).
  asio::awaitable<result<search::search_answer>> search(search::text_query q, std::uint64_t min_index = 0,
                                                        read_mode mode = read_mode::linearizable,
                                                        min_point point = min_point::index);
  asio::awaitable<result<search::search_answer>> similar(search::similar_query q, std::uint64_t min_index = 0,
                                                         read_mode mode = read_mode::linearizable,
                                                         min_point point = min_point::index);

  // Starts a watch (io/client/watch_stream.hpp): once a node has taken it, a stream of the
  // range's changes that survives lost connections and failovers by itself. Fails with
  // errc::bad_request or too_large for an invalid request, errc::unavailable if no node took it
  // within leader_wait. A start revision that was compacted is reported by the stream's first
  // next() (errc::compacted, with compact_revision()). The client must outlive the stream.
  asio::awaitable<result<std::unique_ptr<watch_stream>>> watch(watch_spec spec);

  // The endpoint requests currently go to.
  const std::string& endpoint() const;
  // Closes the connection; requests in flight fail with errc::unavailable.
  void close();

 private:
  struct response {
    protocol::status status = protocol::status::ok;
    std::string body;
  };
  class connection;
  friend class watch_stream;
  friend class lease_keeper;

  // How call() may resend a request whose outcome is unknown (lost connection, timeout, or a
  // node answering unavailable: no read index confirmed, or a write that may or may not be
  // applied).
  enum class resend : std::uint8_t {
    never,           // a write outside a session
    read,            // after a lost connection or an unavailable answer, until leader_wait is used up
    until_answered,  // a write in a session: as a read, and also after a timeout
  };
  // Sends one request built by `encode(out, id)`, following redirects and waiting out elections.
  template <typename Encode>
  asio::awaitable<result<response>> call(Encode encode, resend policy);
  // A write: in this client's session when exactly_once; its answer if the status is ok.
  template <typename Encode>
  asio::awaitable<result<response>> send_write(Encode encode);
  // A write whose answer is a write_ack (set, del, bulk_set).
  template <typename Encode>
  asio::awaitable<result<write_ack>> write(Encode encode);
  asio::awaitable<result<std::uint64_t>> session();
  template <typename Encode>
  asio::awaitable<result<search::search_answer>> query(Encode encode);
  asio::awaitable<result<std::shared_ptr<connection>>> connected();
  asio::awaitable<result<std::shared_ptr<connection>>> connect_any();
  static error_info failure(const response& r);

  asio::any_io_executor executor_;
  options opts_;
  std::size_t current_ = 0;  // index into opts_.endpoints
  std::shared_ptr<connection> conn_;
  std::uint64_t session_ = 0;  // 0: none opened yet (or it expired)
  std::uint64_t next_seq_ = 0;
  std::set<std::uint64_t> unanswered_;  // seqs of writes in flight
  bool opening_session_ = false;
  bool connecting_ = false;
  std::unique_ptr<io::event> connect_done_;  // notified when a connection attempt ends
};

}  // namespace kv
