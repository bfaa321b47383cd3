#pragma once
// Writes taken by a node that does not lead, sent on to the leader. Redis clients cannot follow
// kvnode's not-leader redirects, so a Redis-protocol write given to a follower is forwarded inside
// the cluster and answered by the follower.
//
// The forwarder is a kvnode client (io/client/client.hpp) of the other members, made on the first
// forwarded write: it follows the leader across elections and sends each transaction in its
// exactly-once session, so a write whose outcome a failover hid is sent again and applied once,
// and its answer (an INCR's value, say) is the one recorded when it was applied. A write is given
// up after the client's leader wait (no leader found) and answered with the client's error.
//
// Threading: every member runs on the server's executor, which the store's callbacks run on too.

#include "core/base/error.hpp"
#include "core/model/txn.hpp"

#include <asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kv {

class store;

class write_forwarder {
 public:
  using done_fn = std::function<void(result<txn_reply>)>;

  write_forwarder(asio::any_io_executor executor, const store& st);
  ~write_forwarder();
  write_forwarder(const write_forwarder&) = delete;
  write_forwarder& operator=(const write_forwarder&) = delete;

  // Whether this node has members to forward to (false in a cluster of one).
  bool possible() const noexcept { return !endpoints_.empty(); }
  // Sends `t`, a transaction that writes, to the leader; `done` gets its reply or the refusal.
  void forward(kv::txn t, done_fn done);
  // Fails the writes in flight (the node is stopping) and forwards no more.
  void stop();

 private:
  asio::any_io_executor executor_;
  std::uint64_t id_;                     // this node's
  std::vector<std::string> endpoints_;  // the other members' client addresses
  // The kvnode client the writes go through (a type of the .cpp's, so that this header does not
  // bring kv::client into the Redis commands' scope, where `client` is CLIENT's).
  struct link;
  std::shared_ptr<link> link_;
  bool stopped_ = false;
};

}  // namespace kv
