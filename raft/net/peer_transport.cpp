#include "raft/net/peer_transport.hpp"

#include "core/base/address.hpp"
#include "core/base/bytes.hpp"
#include "core/base/spawn.hpp"
#include "core/base/units.hpp"
#include "io/sys/accept.hpp"
#include "io/sys/event.hpp"
#include "io/sys/file.hpp"
#include "io/sys/socket_read.hpp"
#include "raft/codec.hpp"

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/connect.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <iterator>
#include <vector>

namespace kv {

namespace {

// Frames: u32 length (of what follows) | u8 kind | body.
enum class frame_kind : std::uint8_t {
  hello = 1,    // u32 magic | u16 version | u64 from | u64 to
  message = 2,  // one raft::message (raft/codec.hpp)
  snapshot_begin = 3,  // u64 file size | the raft::message to deliver once the file is whole
  snapshot_chunk = 4,  // u64 offset | bytes of the file
};

constexpr std::uint32_t hello_magic = 0x5052564b;  // "KVRP"
constexpr std::uint16_t peer_version = 1;
constexpr std::size_t hello_body_bytes = 4 + 2 + 8 + 8;
constexpr std::size_t read_chunk = 256u << 10;
// Short on purpose: a lost SYN is retried by the kernel only after a second, so a connect that
// hangs is abandoned and started again, and a healed network is noticed within about this long.
constexpr std::chrono::milliseconds connect_timeout{500};
constexpr std::chrono::milliseconds min_backoff{50};
constexpr std::chrono::milliseconds max_backoff{250};
// One merged append carries at most this much entry data.
constexpr std::size_t max_merged_bytes = 8u << 20;
// Snapshot files travel in chunks of this size.
constexpr std::size_t snapshot_chunk_bytes = 1u << 20;

// TCP_USER_TIMEOUT for outbound peer connections: how long sent data may stay unacknowledged
// before the kernel drops the connection. Without it, a connection whose packets were lost for
// a while (a one-way partition) retransmits with exponential backoff and, after the network
// heals, stays silent until the next retransmission (seconds, up to TCP's two minutes); with
// it, the connection fails, and a fresh one is made within connect_timeout + max_backoff.
using tcp_user_timeout = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_USER_TIMEOUT>;
tcp_user_timeout user_timeout(const peer_config& c) {
  auto ms = std::max(2 * c.election_timeout, std::chrono::milliseconds(1000));
  return tcp_user_timeout(static_cast<int>(ms.count()));
}

std::size_t begin_frame(std::string& out, frame_kind kind) {
  auto start = out.size();
  append_fixed<std::uint32_t>(out, 0);
  out.push_back(static_cast<char>(kind));
  return start;
}

void finish_frame(std::string& out, std::size_t start) {
  put_fixed<std::uint32_t>(out.data() + start, static_cast<std::uint32_t>(out.size() - start - 4));
}

std::size_t entry_bytes(const raft::message& m) {
  std::size_t n = 0;
  for (const auto& e : m.entries) n += e.data.size();
  return n;
}

// Whether `next` continues `prev` so that one append can carry both: same leader and term,
// `next` starts right after `prev`'s last entry, and neither confirms a read round.
bool mergeable(const raft::message& prev, const raft::message& next) {
  using raft::message_type;
  if (prev.type != message_type::append || next.type != message_type::append) return false;
  if (prev.term != next.term || prev.context != 0 || next.context != 0) return false;
  if (prev.entries.empty() || next.entries.empty()) return false;
  const auto& last = prev.entries.back();
  return next.prev_index == last.index && next.prev_term == last.term &&
         entry_bytes(prev) + entry_bytes(next) <= max_merged_bytes;
}

}  // namespace

// A snapshot file on its way to a peer.
struct outgoing_snapshot {
  raft::message m;
  io::unique_fd fd;
  std::uint64_t size = 0;
  std::uint64_t offset = 0;
  bool begun = false;
};

// A snapshot file arriving from a peer.
struct incoming_snapshot {
  raft::message m;
  io::unique_fd fd;
  std::filesystem::path path;
  std::uint64_t size = 0;
  std::uint64_t received = 0;
};

namespace {

// Appends the next frame of a snapshot transfer to `out`; false once the file is all queued.
bool add_snapshot_chunk(std::string& out, outgoing_snapshot& s) {
  if (!s.begun) {
    auto f = begin_frame(out, frame_kind::snapshot_begin);
    append_fixed<std::uint64_t>(out, s.size);
    raft::encode(out, s.m);
    finish_frame(out, f);
    s.begun = true;
  }
  auto n = std::min<std::uint64_t>(snapshot_chunk_bytes, s.size - s.offset);
  auto f = begin_frame(out, frame_kind::snapshot_chunk);
  append_fixed<std::uint64_t>(out, s.offset);
  auto at = out.size();
  out.resize(at + n);
  auto got = ::pread(s.fd.get(), out.data() + at, n, static_cast<off_t>(s.offset));
  if (got != static_cast<ssize_t>(n)) {
    throw std::system_error(errno, std::generic_category(), "reading the snapshot being sent");
  }
  finish_frame(out, f);
  s.offset += n;
  return s.offset < s.size;
}

}  // namespace

// One peer: its address, the messages queued for it, and its replicator's state.
struct peer_transport::link {
  link(asio::any_io_executor ex, raft::node_id id, std::string address)
      : id(id), address(std::move(address)), wake(ex), socket(ex) {}
  raft::node_id id;
  std::string address;
  std::deque<raft::message> queue;
  std::size_t queued_bytes = 0;
  io::event wake;
  asio::ip::tcp::socket socket;
  peer_stats stats;
  std::chrono::steady_clock::time_point last_drop_log{};
  std::optional<outgoing_snapshot> snapshot;
};

peer_transport::peer_transport(asio::any_io_executor executor, peer_config cfg, message_handler on_message,
                               unreachable_handler on_unreachable, snapshot_handler on_snapshot_sent,
                               snapshot_path_of incoming_snapshot_path)
    : executor_(executor),
      cfg_(std::move(cfg)),
      on_message_(std::move(on_message)),
      on_unreachable_(std::move(on_unreachable)),
      on_snapshot_sent_(std::move(on_snapshot_sent)),
      incoming_snapshot_path_(std::move(incoming_snapshot_path)),
      acceptor_(executor) {
  for (const auto& [id, address] : cfg_.peers) {
    if (id != cfg_.id) links_[id] = std::make_shared<link>(executor_, id, address);
  }
}

peer_transport::~peer_transport() = default;

void peer_transport::start() {
  auto hp = parse_host_port(cfg_.listen);
  if (!hp) throw std::invalid_argument("invalid peer address " + cfg_.listen);
  asio::ip::tcp::resolver resolver(executor_);
  asio::ip::tcp::endpoint ep = *resolver.resolve(hp->host, std::to_string(hp->port)).begin();
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  if (!ep.address().is_unspecified()) local_address_ = ep.address();
  asio::co_spawn(executor_, accept_loop(), stop_on_failure("the peer acceptor"));
  for (auto& [id, l] : links_) {
    asio::co_spawn(executor_, replicate(l), log_failure(fmt::format("the replicator for peer {}", id)));
  }
}

void peer_transport::stop() {
  stopping_ = true;
  std::error_code ignored;
  acceptor_.close(ignored);
  for (auto& [id, l] : links_) {
    l->socket.close(ignored);
    l->wake.notify();
  }
  for (auto& [socket, open] : inbound_) socket->close(ignored);
}

const peer_transport::peer_stats* peer_transport::stats_of(raft::node_id peer) const {
  auto it = links_.find(peer);
  return it == links_.end() ? nullptr : &it->second->stats;
}

void peer_transport::send(raft::message m) {
  auto it = links_.find(m.to);
  if (it == links_.end() || stopping_) return;
  auto& l = *it->second;
  auto size = raft::encoded_size(m);
  if (!l.stats.connected || l.queued_bytes + size > cfg_.max_queue_bytes) {
    ++l.stats.messages_dropped;
    auto now = std::chrono::steady_clock::now();
    if (l.stats.connected && now - l.last_drop_log > std::chrono::seconds(1)) {
      l.last_drop_log = now;
      spdlog::warn("peer {}: dropping messages: {} queued, above max-peer-queue-size", l.id,
                   format_size(l.queued_bytes));
    }
    return;
  }
  l.queued_bytes += size;
  l.queue.push_back(std::move(m));
  if (l.queue.size() == 1) l.wake.notify();
}

void peer_transport::send_snapshot(raft::message m, std::filesystem::path file) {
  auto it = links_.find(m.to);
  if (it == links_.end() || stopping_) return;
  auto& l = *it->second;
  if (l.snapshot) return;  // one transfer at a time; the core asks again until it is answered
  auto peer = m.to;
  auto fail = [&](const std::string& why) {
    spdlog::warn("peer {}: cannot send snapshot {}: {}", peer, file.string(), why);
    asio::post(executor_, [this, peer] { on_snapshot_sent_(peer, false); });
  };
  if (!l.stats.connected) return fail("not connected");
  outgoing_snapshot out;
  try {
    out.fd = io::open_file(file, O_RDONLY);
    out.size = std::filesystem::file_size(file);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  out.m = std::move(m);
  spdlog::info("peer {}: sending snapshot {} ({}) for index {}", peer, file.filename().string(), format_size(out.size),
               out.m.snapshot_index);
  l.snapshot = std::move(out);
  l.wake.notify();
}

asio::awaitable<void> peer_transport::replicate(std::shared_ptr<link> l) {
  using namespace asio::experimental::awaitable_operators;
  auto backoff = min_backoff;
  bool warn_on_failure = true;  // the first failure after starting or after a lost connection
  std::string out;
  while (!stopping_) {
    std::error_code ec;
    auto hp = parse_host_port(l->address);
    asio::ip::tcp::resolver resolver(executor_);
    auto endpoints = resolver.resolve(hp->host, std::to_string(hp->port), ec);
    if (!ec) {
      // Connect from this node's own peer address, so that a peer (and a firewall rule in a
      // partition test) sees which member a connection comes from.
      asio::ip::tcp::endpoint target = *endpoints.begin();
      l->socket = asio::ip::tcp::socket(executor_);
      l->socket.open(target.protocol(), ec);
      if (!ec && local_address_) l->socket.bind(asio::ip::tcp::endpoint(*local_address_, 0), ec);
      if (!ec) l->socket.set_option(user_timeout(cfg_), ec);
      asio::steady_timer timer(executor_, connect_timeout);
      if (!ec) {
        auto outcome = co_await (l->socket.async_connect(target, asio::redirect_error(asio::use_awaitable, ec)) ||
                                 timer.async_wait(asio::use_awaitable));
        if (outcome.index() == 1) ec = asio::error::timed_out;
      }
    }
    if (stopping_) break;
    if (ec) {
      if (warn_on_failure) {
        spdlog::warn("peer {}: cannot connect to {}: {}; retrying", l->id, l->address, ec.message());
        warn_on_failure = false;
      }
      asio::steady_timer pause(executor_, backoff);
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      backoff = std::min(backoff * 2, max_backoff);
      continue;
    }
    backoff = min_backoff;
    l->socket.set_option(asio::ip::tcp::no_delay(true), ec);
    ++l->stats.connects;
    l->stats.connected = true;
    warn_on_failure = true;
    spdlog::info("peer {}: connected to {}", l->id, l->address);

    out.clear();
    auto start = begin_frame(out, frame_kind::hello);
    append_fixed(out, hello_magic);
    append_fixed(out, peer_version);
    append_fixed<std::uint64_t>(out, cfg_.id);
    append_fixed<std::uint64_t>(out, l->id);
    finish_frame(out, start);
    while (!stopping_ && !ec) {
      if (out.empty() && l->queue.empty() && !l->snapshot) {
        co_await l->wake.wait();
        continue;
      }
      while (!l->queue.empty()) {
        raft::message m = std::move(l->queue.front());
        l->queue.pop_front();
        l->queued_bytes -= raft::encoded_size(m);
        while (!l->queue.empty() && mergeable(m, l->queue.front())) {
          auto& next = l->queue.front();
          l->queued_bytes -= raft::encoded_size(next);
          std::move(next.entries.begin(), next.entries.end(), std::back_inserter(m.entries));
          m.commit = std::max(m.commit, next.commit);
          l->queue.pop_front();
        }
        auto f = begin_frame(out, frame_kind::message);
        raft::encode(out, m);
        finish_frame(out, f);
        ++l->stats.messages_sent;
      }
      bool snapshot_done = false;
      if (l->snapshot) {
        try {
          snapshot_done = !add_snapshot_chunk(out, *l->snapshot);
        } catch (const std::exception& e) {
          spdlog::error("peer {}: snapshot transfer failed: {}", l->id, e.what());
          l->snapshot.reset();
          on_snapshot_sent_(l->id, false);
        }
      }
      co_await asio::async_write(l->socket, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
      l->stats.bytes_sent += out.size();
      out.clear();
      if (snapshot_done && !ec) {
        ++l->stats.snapshots_sent;
        spdlog::info("peer {}: snapshot for index {} sent", l->id, l->snapshot->m.snapshot_index);
        l->snapshot.reset();
        on_snapshot_sent_(l->id, true);
      }
    }
    if (l->snapshot) {
      l->snapshot.reset();
      on_snapshot_sent_(l->id, false);
    }
    l->stats.connected = false;
    l->stats.messages_dropped += l->queue.size();
    l->queue.clear();
    l->queued_bytes = 0;
    std::error_code ignored;
    l->socket.close(ignored);
    if (stopping_) break;
    spdlog::warn("peer {}: connection to {} lost: {}; reconnecting", l->id, l->address, ec.message());
    on_unreachable_(l->id);
  }
}

bool peer_transport::receive_snapshot_frame(raft::node_id from, bool first, std::string_view body,
                                            std::optional<incoming_snapshot>& in) {
  byte_reader r(body);
  try {
    if (first) {
      auto size = r.fixed<std::uint64_t>();
      auto m = raft::decode(r.rest());
      if (!m || m->from != from || m->type != raft::message_type::snapshot) {
        spdlog::warn("peer {}: malformed snapshot header; closing its connection", from);
        return false;
      }
      in.emplace();
      in->m = std::move(*m);
      in->size = size;
      in->path = incoming_snapshot_path_(from);
      in->fd = io::open_file(in->path, O_WRONLY | O_CREAT | O_TRUNC);
      spdlog::info("peer {}: receiving a snapshot for index {} ({})", from, in->m.snapshot_index, format_size(size));
      return true;
    }
    auto offset = r.fixed<std::uint64_t>();
    auto data = r.rest();
    if (!in || offset != in->received || in->received + data.size() > in->size) {
      spdlog::warn("peer {}: snapshot chunk out of order; closing its connection", from);
      return false;
    }
    io::write_all_at(in->fd.get(), data, offset, in->path);
    in->received += data.size();
    if (in->received < in->size) return true;
    if (::fdatasync(in->fd.get()) != 0) {
      throw std::system_error(errno, std::generic_category(), "fdatasync " + in->path.string());
    }
    in->fd.reset();
    spdlog::info("peer {}: snapshot for index {} received", from, in->m.snapshot_index);
    auto m = std::move(in->m);
    in.reset();
    on_message_(std::move(m));
    return true;
  } catch (const std::exception& e) {
    spdlog::error("peer {}: cannot store the incoming snapshot: {}", from, e.what());
    return false;
  }
}

asio::awaitable<void> peer_transport::accept_loop() {
  while (!stopping_) {
    auto socket = co_await io::accept_next(acceptor_, "peer listener");
    if (!socket || stopping_) co_return;
    std::error_code ec;
    socket->set_option(asio::ip::tcp::no_delay(true), ec);
    socket->non_blocking(true, ec);
    asio::co_spawn(executor_, inbound(std::move(*socket)), log_failure("a peer connection"));
  }
}

asio::awaitable<void> peer_transport::inbound(asio::ip::tcp::socket socket) {
  inbound_[&socket] = true;
  struct unregister {
    peer_transport* t;
    asio::ip::tcp::socket* s;
    ~unregister() { t->inbound_.erase(s); }
  } guard{this, &socket};

  std::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  auto from_text = ec ? std::string("?") : fmt::format("{}:{}", remote.address().to_string(), remote.port());
  // A frame can hold the largest append the leader may send, merged, plus slack.
  const std::size_t max_frame = max_merged_bytes + cfg_.max_append_bytes + (1u << 20);
  std::vector<char> buf(read_chunk);
  std::size_t begin = 0;
  std::size_t end = 0;
  raft::node_id from = 0;
  std::optional<incoming_snapshot> incoming;
  while (!stopping_) {
    // Handle every whole frame in the buffer.
    for (;;) {
      if (end - begin < 4) break;
      auto length = get_fixed<std::uint32_t>(buf.data() + begin);
      if (length == 0 || length > max_frame) {
        spdlog::warn("peer connection from {}: bad frame length {}; closing it", from_text, length);
        co_return;
      }
      if (end - begin < 4 + length) {
        if (buf.size() < 4 + length) buf.resize(4 + length);
        break;
      }
      auto kind = static_cast<frame_kind>(static_cast<std::uint8_t>(buf[begin + 4]));
      std::string_view body(buf.data() + begin + 5, length - 1);
      begin += 4 + length;
      if (from == 0) {
        byte_reader in(body);
        auto magic = in.fixed<std::uint32_t>();
        auto version = in.fixed<std::uint16_t>();
        auto sender = in.fixed<std::uint64_t>();
        auto target = in.fixed<std::uint64_t>();
        if (kind != frame_kind::hello || body.size() != hello_body_bytes || magic != hello_magic) {
          spdlog::warn("peer connection from {}: not a kvnode peer (bad hello); closing it", from_text);
          co_return;
        }
        if (version != peer_version) {
          spdlog::error("peer connection from {}: peer protocol version {} (this node speaks {}); closing it",
                        from_text, version, peer_version);
          co_return;
        }
        if (target != cfg_.id || !links_.contains(sender)) {
          spdlog::error("peer connection from {} says it is node {} calling node {}; this is node {} and its members "
                        "are set in cluster.members: check the configurations",
                        from_text, sender, target, cfg_.id);
          co_return;
        }
        from = sender;
        spdlog::info("peer {}: accepted its connection from {}", from, from_text);
        continue;
      }
      if (kind == frame_kind::snapshot_begin || kind == frame_kind::snapshot_chunk) {
        if (!receive_snapshot_frame(from, kind == frame_kind::snapshot_begin, body, incoming)) co_return;
        if (stopping_) co_return;
        continue;
      }
      auto m = kind == frame_kind::message ? raft::decode(body) : std::nullopt;
      if (!m || m->from != from) {
        spdlog::warn("peer {}: malformed message frame; closing its connection", from);
        co_return;
      }
      on_message_(std::move(*m));
      if (stopping_) co_return;
    }
    if (begin == end) {
      begin = end = 0;
    } else if (begin > 0) {
      std::memmove(buf.data(), buf.data() + begin, end - begin);
      end -= begin;
      begin = 0;
    }
    if (buf.size() - end < read_chunk / 4) buf.resize(buf.size() * 2);
    auto room = buf.size() - end;
    auto n = co_await io::read_some(socket, asio::buffer(buf.data() + end, room), ec);
    if (ec) {
      if (from != 0 && ec != asio::error::eof && ec != asio::error::operation_aborted) {
        spdlog::debug("peer {}: inbound connection closed: {}", from, ec.message());
      }
      co_return;
    }
    end += n;
  }
}

}  // namespace kv
