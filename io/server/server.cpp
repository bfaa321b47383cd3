#include "io/server/server.hpp"

#include "core/base/address.hpp"
#include "core/base/spawn.hpp"
#include "io/protocol/protocol.hpp"
#include "io/server/connection.hpp"
#include "io/server/resp_connection.hpp"
#include "io/server/error_text.hpp"
#include "io/server/write_forwarder.hpp"
#include "io/sys/accept.hpp"
#include "io/sys/thread_load.hpp"

#include <asio/co_spawn.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

namespace kv {

server::server(asio::any_io_executor executor, store& st, server_config cfg, search::node_index* index)
    : executor_(executor),
      store_(st),
      cfg_(std::move(cfg)),
      index_(index),
      send_pool_(cfg_.send_threads, cfg_.shutdown_timeout),
      load_timer_(executor),
      acceptor_(executor),
      sweep_timer_(executor),
      progress_timer_(executor),
      resp_acceptor_(executor),
      forwarder_(std::make_unique<write_forwarder>(executor, st)),
      last_connection_gone_(executor),
      started_(std::chrono::steady_clock::now()) {
  auto events = keyspace_events::parse(cfg_.notify_keyspace_events);
  if (!events) throw std::invalid_argument("invalid notify-keyspace-events: " + cfg_.notify_keyspace_events);
  notify_events_ = *events;
}

server::~server() { store_.listen_to_changes(nullptr); }

void server::listen(asio::ip::tcp::acceptor& acceptor, const std::string& address) {
  auto hp = parse_host_port(address);
  if (!hp) throw std::runtime_error("invalid listen address " + address);
  asio::ip::tcp::resolver resolver(executor_);
  auto results = resolver.resolve(hp->host, std::to_string(hp->port));
  asio::ip::tcp::endpoint ep = *results.begin();
  acceptor.open(ep.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(asio::socket_base::max_listen_connections);
}

void server::start() {
  listen(acceptor_, cfg_.listen);
  if (!cfg_.resp_listen.empty()) {
    listen(resp_acceptor_, cfg_.resp_listen);
    asio::co_spawn(executor_, resp_accept_loop(), stop_on_failure("the Redis protocol's acceptor"));
  }
  asio::co_spawn(executor_, accept_loop(), stop_on_failure("the acceptor"));
  asio::co_spawn(executor_, idle_sweep(), log_failure("the idle-connection sweep"));
  if (send_pool_.size() > 0 && cfg_.send_offload == send_offload_mode::always) {
    send_route_ = io::outbox::route::send_thread;
  } else if (send_pool_.size() > 0) {
    asio::co_spawn(executor_, watch_load(), log_failure("the event loop's load meter"));
  }
  asio::co_spawn(executor_, progress_notify(), log_failure("the watch progress notifier"));
}

asio::awaitable<void> server::accept_loop() {
  while (!stopping_) {
    auto socket = co_await io::accept_next(acceptor_, "client listener");
    if (!socket || stopping_) co_return;
    if (connection_count() >= cfg_.max_connections) {
      refuse(std::move(*socket));
      continue;
    }
    ++stats_.accepted;
    std::error_code ec;
    socket->set_option(asio::ip::tcp::no_delay(true), ec);
    socket->non_blocking(true, ec);
    std::make_shared<connection>(*this, std::move(*socket))->start();
  }
}

asio::awaitable<void> server::resp_accept_loop() {
  while (!stopping_) {
    auto socket = co_await io::accept_next(resp_acceptor_, "Redis protocol listener");
    if (!socket || stopping_) co_return;
    if (connection_count() >= cfg_.max_connections) {
      // As Redis answers a client past maxclients, then closes.
      ++stats_.refused;
      spdlog::warn("refusing a Redis protocol connection: max-connections ({}) reached", cfg_.max_connections);
      auto s = std::make_shared<asio::ip::tcp::socket>(std::move(*socket));
      auto text = std::make_shared<std::string>("-ERR max number of clients reached\r\n");
      asio::async_write(*s, asio::buffer(*text), [s, text](std::error_code, std::size_t) {
        std::error_code ignored;
        s->close(ignored);
      });
      continue;
    }
    ++stats_.accepted;
    std::error_code ec;
    socket->set_option(asio::ip::tcp::no_delay(true), ec);
    socket->non_blocking(true, ec);
    std::make_shared<resp_connection>(*this, std::move(*socket))->start();
  }
}

void server::refuse(asio::ip::tcp::socket socket) {
  ++stats_.refused;
  spdlog::warn("refusing a connection from {}: max-connections ({}) reached", peer_text(socket),
               cfg_.max_connections);
  auto s = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
  auto frame = std::make_shared<std::string>();
  protocol::respond_error(*frame, 0, protocol::status::unavailable,
                          error_text::too_many_connections(cfg_.max_connections));
  asio::async_write(*s, asio::buffer(*frame), [s, frame](std::error_code, std::size_t) {
    std::error_code ignored;
    s->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    s->close(ignored);
  });
}

void server::forget(connection* c) {
  connections_.erase(c);
  if (connection_count() == 0) last_connection_gone_.notify();
}

void server::forget(resp_connection* c) {
  resp_connections_.erase(c);
  if (subscribers_.erase(c->id()) != 0) {
    pubsub_.forget(c->id());
    follow_subscriptions();
  }
  if (connection_count() == 0) last_connection_gone_.notify();
}

// ---- Redis pub/sub ----------------------------------------------------------------------------

std::size_t server::publish(std::string_view channel, std::string_view message) {
  if (pubsub_.empty()) return 0;
  // A delivery may close its connection (over the output limit), which leaves the registry as
  // it is until the connection is gone: nothing here changes while it is walked.
  return pubsub_.publish(channel, [&](pubsub_registry::subscriber id, const std::string* pattern) {
    auto it = subscribers_.find(id);
    if (it != subscribers_.end()) it->second->push_message(pattern, channel, message);
  });
}

bool server::subscribe(resp_connection& c, std::string_view channel) {
  const bool changed = pubsub_.subscribe(c.id(), channel);
  subscribers_.emplace(c.id(), &c);
  follow_subscriptions();
  return changed;
}

bool server::psubscribe(resp_connection& c, std::string_view pattern) {
  const bool changed = pubsub_.psubscribe(c.id(), pattern);
  subscribers_.emplace(c.id(), &c);
  follow_subscriptions();
  return changed;
}

bool server::unsubscribe(resp_connection& c, std::string_view channel) {
  const bool changed = pubsub_.unsubscribe(c.id(), channel);
  if (pubsub_.subscriptions(c.id()) == 0) subscribers_.erase(c.id());
  follow_subscriptions();
  return changed;
}

bool server::punsubscribe(resp_connection& c, std::string_view pattern) {
  const bool changed = pubsub_.punsubscribe(c.id(), pattern);
  if (pubsub_.subscriptions(c.id()) == 0) subscribers_.erase(c.id());
  follow_subscriptions();
  return changed;
}

void server::set_notify_keyspace_events(keyspace_events e) {
  notify_events_ = e;
  follow_subscriptions();
}

void server::follow_subscriptions() {
  const bool listen = !pubsub_.empty() && notify_events_.wants(keyspace_events::all);
  store_.listen_to_changes(listen ? this : nullptr);
}

// Redis's event names for kvnode's changes: every put is a `set` (string class), a delete by TTL
// `expired`, any other delete `del` (generic class). docs/redis.md lists what differs.
void server::key_changed(change_cause cause, bool deleted, std::string_view key) {
  std::string_view event = "set";
  auto event_class = keyspace_events::string;
  if (deleted) {
    const bool expired = cause == change_cause::expiry;
    event = expired ? "expired" : "del";
    event_class = expired ? keyspace_events::expired : keyspace_events::generic;
  }
  if (!notify_events_.wants(event_class)) return;
  if ((notify_events_.flags & keyspace_events::keyspace) != 0) {
    notify_channel_.assign("__keyspace@0__:");
    notify_channel_.append(key);
    publish(notify_channel_, event);
  }
  if ((notify_events_.flags & keyspace_events::keyevent) != 0) {
    notify_channel_.assign("__keyevent@0__:");
    notify_channel_.append(event);
    publish(notify_channel_, key);
  }
}

namespace {

// Closes the connections of `all` (either protocol's) idle since `cutoff`; how many.
template <typename Connection>
std::size_t close_idle(const std::unordered_set<Connection*>& all, std::chrono::steady_clock::time_point cutoff) {
  std::vector<Connection*> idle;  // collected first: a closed one may leave `all`
  for (auto* c : all)
    if (c->idle_since(cutoff)) idle.push_back(c);
  for (auto* c : idle) c->close();
  return idle.size();
}

}  // namespace

asio::awaitable<void> server::idle_sweep() {
  const auto timeout = cfg_.idle_timeout;
  const auto every = std::max<std::chrono::milliseconds>(timeout / 4, std::chrono::milliseconds(50));
  while (!stopping_) {
    std::error_code ec;
    sweep_timer_.expires_after(every);
    co_await sweep_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) co_return;
    auto cutoff = std::chrono::steady_clock::now() - timeout;
    const auto closed = close_idle(connections_, cutoff) + close_idle(resp_connections_, cutoff);
    stats_.idle_closed += closed;
    if (closed != 0) spdlog::debug("closed {} idle connection(s)", closed);
  }
}

asio::awaitable<void> server::watch_load() {
  io::thread_load load;
  send_route_policy policy;
  auto requests = stats_.requests;
  auto sends = sends_;
  while (!stopping_) {
    std::error_code ec;
    load_timer_.expires_after(load_period);
    co_await load_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) co_return;
    const auto shares = load.sample();
    const bool was_trying = policy.trying();
    send_route_ = policy.next(
        {.running = shares.running, .requests = stats_.requests - requests, .sends = sends_ - sends});
    requests = stats_.requests;
    sends = sends_;
    const char* where = send_route_ == io::outbox::route::owner ? "the event loop" : "the send threads";
    if (!was_trying && policy.trying()) {
      spdlog::debug("trying replies sent by {} (the event loop ran {:.0f}% of the last {} ms and waited for a CPU "
                    "{:.0f}%)",
                    where, shares.running * 100, load_period.count(), shares.waiting * 100);
    } else if (was_trying && !policy.trying()) {
      const auto& t = policy.last_trial();
      spdlog::debug("replies sent by {}: the trial served {:.0f} requests per {} ms, against {:.0f} before it", where,
                    t.during, load_period.count(), t.before);
    }
  }
}

// A watch is told its progress once it has been sent nothing for an interval, so checking every
// quarter interval sends it within 1.25 intervals of its last frame.
asio::awaitable<void> server::progress_notify() {
  const auto interval = cfg_.watch_progress_interval;
  while (!stopping_) {
    std::error_code ec;
    progress_timer_.expires_after(interval / 4);
    co_await progress_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) co_return;
    if (store_.watches().watchers() == 0) continue;
    auto cutoff = std::chrono::steady_clock::now() - interval;
    for (auto* c : connections_) c->notify_idle_watches(cutoff);
  }
}

asio::awaitable<void> server::stop() {
  stopping_ = true;
  std::error_code ignored;
  acceptor_.close(ignored);
  resp_acceptor_.close(ignored);
  sweep_timer_.cancel();
  progress_timer_.cancel();
  load_timer_.cancel();
  std::vector<connection*> all(connections_.begin(), connections_.end());
  for (auto* c : all) c->drain();
  std::vector<resp_connection*> all_resp(resp_connections_.begin(), resp_connections_.end());
  for (auto* c : all_resp) c->drain();
  const auto deadline = std::chrono::steady_clock::now() + cfg_.shutdown_timeout;
  while (connection_count() != 0 && std::chrono::steady_clock::now() < deadline) {
    co_await last_connection_gone_.wait_until(deadline);
  }
  if (connection_count() == 0) {
    forwarder_->stop();
    co_return;
  }
  spdlog::warn("shutdown: closing {} connection(s) with requests still in flight after {}", connection_count(),
               format_duration(cfg_.shutdown_timeout));
  std::vector<connection*> rest(connections_.begin(), connections_.end());
  for (auto* c : rest) c->close();
  std::vector<resp_connection*> rest_resp(resp_connections_.begin(), resp_connections_.end());
  for (auto* c : rest_resp) c->close();
  // A closed connection goes once its last pending callback has run.
  forwarder_->stop();  // what it still has in flight fails, so those connections can go
  while (connection_count() != 0) co_await last_connection_gone_.wait();
}

}  // namespace kv
