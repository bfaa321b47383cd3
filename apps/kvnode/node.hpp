#pragma once
// One kvnode member assembled from its configuration: the search index (when enabled), the
// replicated store, the peer transport (for a cluster of more than one) and the client server,
// all on one io_context's thread. main() runs one; tests run several in one process, each on an
// io_context of its own.
//
// Lifecycle: the constructor opens and recovers the data directory and starts listening for
// peers and clients; start() runs the store; shutdown() (or the store failing) ends it, after
// which the io_context runs out of work. Destroy the node only after its io_context stopped.
//
// Threading: every member but the constructor and the destructor runs on the io_context's
// thread.

#include "apps/kvnode/config.hpp"

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace kv {

class store;
class server;
class peer_transport;
namespace search {
class node_index;
}

// Why a node could not be assembled. `bad_configuration`: the settings are inconsistent (exit 2,
// as a configuration file error); `cannot_start`: the data directory cannot be opened or an
// address cannot be bound (exit 1).
class node_start_error : public std::runtime_error {
 public:
  enum class kind { bad_configuration, cannot_start };
  node_start_error(kind k, const std::string& what) : std::runtime_error(what), kind_(k) {}
  kind why() const noexcept { return kind_; }

 private:
  kind kind_;
};

class node {
 public:
  // Opens the data directory (recovering the store and the index) and binds the client and peer
  // listeners. Throws node_start_error.
  node(asio::io_context& ctx, const config& cfg);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // Runs the store on the io_context. `stopped` is called once, on the io_context's thread,
  // when the store stops: with nullptr after shutdown(), with the exception that stopped it
  // otherwise (a failed fsync, say).
  void start(std::function<void(std::exception_ptr)> stopped);

  // Graceful stop: no new clients or requests, in-flight requests answered (up to the server's
  // shutdown timeout), leadership handed to a caught-up follower, then the store and the peer
  // transport stop.
  asio::awaitable<void> shutdown();

  asio::ip::tcp::endpoint client_endpoint() const;
  // The startup line: where the node serves and what recovery found and how long it took.
  std::string describe_start() const;

  kv::store& store() noexcept { return *store_; }
  const kv::store& store() const noexcept { return *store_; }
  kv::server& server() noexcept { return *server_; }
  // nullptr when the index is disabled.
  search::node_index* index() noexcept { return index_.get(); }
  const config& configuration() const noexcept { return cfg_; }

 private:
  asio::io_context& ctx_;
  config cfg_;
  // Declared in construction order; destroyed in reverse: the server and the transport refer to
  // the store, and the store to the index.
  std::unique_ptr<search::node_index> index_;
  std::unique_ptr<kv::store> store_;
  std::unique_ptr<peer_transport> peers_;
  std::unique_ptr<kv::server> server_;
};

}  // namespace kv
