#include "apps/kvnode/node.hpp"

#include "index/node/node_index.hpp"
#include "io/server/server.hpp"
#include "raft/net/peer_transport.hpp"
#include "raft/replica/store.hpp"

#include <asio/co_spawn.hpp>
#include <fmt/format.h>

namespace kv {

node::node(asio::io_context& ctx, const config& cfg) : ctx_(ctx), cfg_(cfg) {
  using kind = node_start_error::kind;
  // The search index follows the store from its recovery on, so it is made first.
  if (cfg_.index.enabled) {
    try {
      index_ = std::make_unique<search::node_index>(
          search::options_of(cfg_.index), cfg_.index.wait_timeout, cfg_.node.data_dir, cfg_.index.save_interval_bytes,
          search::query_routing{.here_postings = cfg_.index.server_thread_postings, .threads = cfg_.index.query_threads});
    } catch (const std::invalid_argument& e) {
      throw node_start_error(kind::bad_configuration, fmt::format("[index] {}", e.what()));
    }
  }
  try {
    store_ = std::make_unique<kv::store>(ctx.get_executor(), cfg_.node.data_dir, cfg_.storage, replication_of(cfg_),
                                         index_.get());
  } catch (const std::exception& e) {
    throw node_start_error(kind::cannot_start,
                           fmt::format("cannot open data directory {}: {}", cfg_.node.data_dir.string(), e.what()));
  }
  if (!cfg_.cluster.members.empty()) {
    auto* st = store_.get();
    peers_ = std::make_unique<peer_transport>(
        ctx.get_executor(), peers_of(cfg_), [st](raft::message m) { st->receive(m); },
        [st](raft::node_id peer) { st->peer_unreachable(peer); },
        [st](raft::node_id peer, bool ok) { st->snapshot_sent(peer, ok); },
        [st](raft::node_id from) { return st->incoming_snapshot_path(from); });
    store_->attach(*peers_);
    try {
      peers_->start();
    } catch (const std::exception& e) {
      throw node_start_error(kind::cannot_start, fmt::format("cannot listen for peers on {}: {}",
                                                             cfg_.cluster.self(cfg_.node.id)->peer, e.what()));
    }
  }
  server_ = std::make_unique<kv::server>(ctx.get_executor(), *store_, cfg_.server, index_.get());
  try {
    server_->start();
  } catch (const std::exception& e) {
    throw node_start_error(kind::cannot_start, fmt::format("cannot listen on {}: {}", cfg_.server.listen, e.what()));
  }
}

node::~node() = default;

void node::start(std::function<void(std::exception_ptr)> stopped) {
  asio::co_spawn(ctx_, store_->run(), std::move(stopped));
}

asio::awaitable<void> node::shutdown() {
  co_await server_->stop();
  co_await store_->hand_over_leadership();
  store_->stop();
  if (peers_) peers_->stop();
}

asio::ip::tcp::endpoint node::client_endpoint() const { return server_->local_endpoint(); }

std::string node::describe_start() const {
  const auto& r = store_->recovery();
  auto ep = client_endpoint();
  auto ms = [](auto d) { return d.count() / 1000.0; };
  return fmt::format(
      "kvnode {} serving on {}:{} ({}): data-dir={} keys={} applied-index={}; recovered snapshot-index={} + {} log "
      "entries from {} segment(s) in {:.1f} ms (snapshot {:.1f} ms, log read {:.1f} ms in parallel, index {:.1f} ms, "
      "replay {:.1f} ms, log and Raft opened {:.1f} ms){}",
      cfg_.node.id, ep.address().to_string(), ep.port(),
      cfg_.cluster.members.empty() ? std::string("a cluster of one")
                                   : fmt::format("one of {} voters", cfg_.cluster.members.size()),
      cfg_.node.data_dir.string(), store_->state().key_count(), store_->applied_index(), r.snapshot_index,
      r.replayed_entries, r.segments, ms(r.duration), ms(r.snapshot_duration), ms(r.log_read_duration),
      ms(r.index_duration), ms(r.replay_duration), ms(r.open_duration),
      r.torn_bytes ? fmt::format(" (discarded a torn tail of {} bytes)", r.torn_bytes) : "");
}

}  // namespace kv
