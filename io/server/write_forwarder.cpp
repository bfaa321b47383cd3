#include "io/server/write_forwarder.hpp"

#include "core/base/spawn.hpp"
#include "io/client/client.hpp"
#include "raft/replica/store.hpp"

#include <asio/co_spawn.hpp>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace kv {

struct write_forwarder::link {
  link(asio::any_io_executor executor, client::options o) : to_leader(executor, std::move(o)) {}
  client to_leader;
};

namespace {

template <typename Link>
asio::awaitable<void> send(std::shared_ptr<Link> l, kv::txn t, write_forwarder::done_fn done) {
  auto r = co_await l->to_leader.txn(std::move(t));
  done(std::move(r));
}

}  // namespace

write_forwarder::write_forwarder(asio::any_io_executor executor, const store& st)
    : executor_(executor), id_(st.replication().id) {
  const auto& repl = st.replication();
  for (const auto& [id, address] : repl.client_addresses) {
    if (id != repl.id && !address.empty()) endpoints_.push_back(address);
  }
}

write_forwarder::~write_forwarder() { stop(); }

void write_forwarder::forward(kv::txn t, done_fn done) {
  if (stopped_ || endpoints_.empty()) {
    return done(error_info{make_error_code(errc::unavailable), "the node is shutting down", {}});
  }
  if (!link_) {
    client::options o;
    o.endpoints = endpoints_;
    o.exactly_once = true;
    link_ = std::make_shared<link>(executor_, std::move(o));
    spdlog::info("forwarding Redis-protocol writes to the leader through {}", fmt::join(endpoints_, ", "));
  }
  asio::co_spawn(executor_,
                 send(link_, std::move(t),
                      [id = id_, done = std::move(done)](result<txn_reply> r) {
                        if (r || !r.is(errc::unavailable)) return done(std::move(r));
                        // Say whose write it was and why it went nowhere (the client's text names
                        // the endpoints it tried).
                        done(error_info{r.error(),
                                        fmt::format("node {} found no leader to forward the write to: {}", id,
                                                    r.message()),
                                        {}});
                      }),
                 log_failure("a forwarded write"));
}

void write_forwarder::stop() {
  stopped_ = true;
  if (link_) link_->to_leader.close();
}

}  // namespace kv
