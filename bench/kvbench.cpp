// kvbench: load generator for a running kvnode (or one it starts).
//
//   kvbench [--endpoints H:P[,H:P...]] [--connections 50] [--pipeline 1] [--seconds 10] [--warmup 1]
//           [--value-size 100] [--keys 1000000] [--reads 0.0] [--prefill] [--json]
//           [--op point|range|txn-put|cas] [--stale] [--prefixes 10000] [--range-keys 100] [--hot-keys 100]
//           [--start-node | --start-cluster N] [--fsync always|never] [--index on|off] [--read-from all|leader]
//           [--node-storage 'KEY = VALUE; ...'] [--resp H:P]
//
// Each connection keeps `pipeline` requests in flight, each sent as soon as the previous one on
// its slot is answered (on the raw protocol, so the load generator stays cheap). `--reads` is the fraction of GETs
// (the rest are SETs) over `--keys` random keys; `--prefill` first writes every key so that
// reads hit. Latency is measured from sending a request to receiving its acknowledgement.
// `--op` picks another shape (bench/load_shape.hpp): `range` reads the `--range-keys` keys under
// a random one of `--prefixes` prefixes (always prefilled, in bulk), `txn-put` sends transactions
// of one put, `cas` runs read-then-compare-and-set loops on `--hot-keys` keys (an operation is
// one successful CAS, timed from its first read; failed compares are reported as conflicts).
// `lease-keepalive` renews `--leases` leases, granted first (etcd's `benchmark lease-keepalive`).
// `--stale` sends the reads with the stale flag (served from the node's local state).
// `--start-node` runs build/bin/kvnode on a fresh data directory and a free port for the run;
// `--start-cluster N` runs N of them as one Raft cluster (test/harness/cluster.hpp). `--fsync` and
// `--index` set the started nodes' [storage] fsync and [index] enabled (kvnode's defaults:
// always, on: every node then also indexes every value it applies for search); `--node-storage`
// adds [storage] settings ("syncs-in-flight = 2; group-commit-delay = \"0us\"", ';' between
// them) to the started nodes' configuration, to compare settings side by side.
//
// Clusters: kvbench first asks the endpoints (status) which node leads. Connections that write go
// to the leader. When every request is a read (`--reads 1`, or `--op range`) and `--read-from all`, the
// connections are spread round-robin over every endpoint instead, the leader first; the report
// counts the operations each node answered. After `--prefill` on several nodes, the load waits
// until every node has applied the fill. Every refused request (not_leader, unavailable, ...) is
// counted by status, and so is every answer that is not what was asked for (a range without its
// keys: "bad_answer"); any error makes the exit status 3.
//
// `--resp H:P` sends the point load (GET and SET of the same keys and values) over the Redis
// protocol to that address instead (a node's [resp] listen), so that both of a node's protocols
// are measured by the same load generator; `--endpoints` still names the node to prepare (wait
// for, prefill). A Redis connection answers in order, so its requests in flight are a queue.

#include "bench/args.hpp"
#include "bench/started_nodes.hpp"
#include "bench/load_shape.hpp"
#include "bench/latency.hpp"
#include "core/base/address.hpp"
#include "harness/cluster.hpp"
#include "harness/cluster_status.hpp"
#include "harness/node_process.hpp"
#include "io/client/client.hpp"
#include "io/protocol/protocol.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <thread>

using namespace std::chrono;
using kv::bench::latency_recorder;
using kv::bench::load_op;

namespace {

struct options {
  std::vector<std::string> endpoints{"127.0.0.1:7379"};
  int connections = 50;
  int pipeline = 1;
  double seconds = 10;
  double warmup = 1;
  std::size_t value_size = 100;
  std::uint64_t keys = 1'000'000;
  double reads = 0;
  kv::bench::shape_options shape;  // --op and its settings; keys, value size and reads are copied in
  bool prefill = false;
  bool json = false;
  bool start_node = false;
  int start_cluster = 0;  // members; 0: none
  std::string fsync = "always";
  bool index = true;  // [index] enabled of the nodes started
  std::string node_storage;  // more [storage] lines for the nodes started
  bool reads_from_all = true;  // --read-from all: read-only connections spread over every endpoint
  std::string resp;  // --resp: the Redis protocol's address the load goes to instead
};

options parse(int argc, char** argv) {
  options o;
  kv::bench::flag_table flags("kvbench",
                              "Load generator for a running kvnode, or for nodes it starts; the comment at the top of\n"
                              "bench/kvbench.cpp describes the load and the report.");
  flags.add("--endpoints", "H:P,...", "nodes to send requests to", o.endpoints);
  flags.add("--connections", "N", "connections, each with its own requests in flight", o.connections);
  flags.add("--pipeline", "N", "requests in flight per connection", o.pipeline);
  flags.add("--seconds", "S", "how long the measured load runs", o.seconds);
  flags.add("--warmup", "S", "load before measuring", o.warmup);
  flags.add("--value-size", "BYTES", "size of each value written", o.value_size);
  flags.add("--keys", "N", "random keys the load picks from", o.keys);
  flags.add("--reads", "F", "fraction of GETs, 0 to 1; the rest are SETs", o.reads);
  flags.add_switch("--prefill", "write every key before the load, so that reads hit", o.prefill);
  flags.add_parsed("--op", "point|range|txn-put|cas|lease-keepalive", "the shape of the load (bench/load_shape.hpp)", "point",
                   [&](const std::string& name, const std::string& v) {
                     if (v == "point") {
                       o.shape.op = load_op::point;
                     } else if (v == "range") {
                       o.shape.op = load_op::range;
                     } else if (v == "txn-put") {
                       o.shape.op = load_op::txn_put;
                     } else if (v == "cas") {
                       o.shape.op = load_op::cas;
                     } else if (v == "lease-keepalive") {
                       o.shape.op = load_op::lease_keepalive;
                     } else {
                       flags.usage_error(name + " takes point, range, txn-put, cas or lease-keepalive");
                     }
                   });
  flags.add_switch("--stale", "send reads with the stale flag: served from the node's local state", o.shape.stale);
  flags.add("--prefixes", "N", "--op range: prefixes in the keyspace", o.shape.prefixes);
  flags.add("--range-keys", "N", "--op range: keys under each prefix, all read by each range", o.shape.range_keys);
  flags.add("--hot-keys", "N", "--op cas: keys the compare-and-set loops share", o.shape.hot_keys);
  flags.add("--leases", "N", "--op lease-keepalive: leases granted before the load and renewed", o.shape.leases);
  flags.add_switch("--json", "print the report as one JSON object", o.json);
  flags.add_switch("--start-node", "run a kvnode on a fresh data directory and a free port", o.start_node);
  flags.add("--start-cluster", "N", "run N kvnodes as one Raft cluster; 0: none", o.start_cluster);
  flags.add_parsed("--fsync", "always|never", "[storage] fsync of the nodes started", o.fsync,
                   [&](const std::string& name, const std::string& v) {
                     if (v != "always" && v != "never") flags.usage_error(name + " takes always or never");
                     o.fsync = v;
                   });
  flags.add_parsed("--index", "on|off", "[index] enabled of the nodes started", o.index ? "on" : "off",
                   [&](const std::string& name, const std::string& v) {
                     if (v != "on" && v != "off") flags.usage_error(name + " takes on or off");
                     o.index = v == "on";
                   });
  flags.add_parsed("--read-from", "all|leader",
                   "with --reads 1: spread connections over every endpoint, or send all to the leader",
                   o.reads_from_all ? "all" : "leader", [&](const std::string& name, const std::string& v) {
                     if (v != "all" && v != "leader") flags.usage_error(name + " takes all or leader");
                     o.reads_from_all = v == "all";
                   });
  flags.add_parsed("--node-storage", "'KEY = VALUE; ...'", "more [storage] settings for the nodes started", "",
                   [&](const std::string&, const std::string& v) { o.node_storage = kv::bench::settings_lines(v); });
  flags.add("--resp", "H:P", "send the point load over the Redis protocol to this address", o.resp);
  flags.parse(argc, argv);
  if (!o.resp.empty() && (o.shape.op != load_op::point || o.shape.stale)) {
    flags.usage_error("--resp goes with --op point, without --stale");
  }
  if (o.connections < 1 || o.pipeline < 1 || o.keys < 1 || o.reads > 1) {
    flags.usage_error("--connections, --pipeline and --keys must be at least 1, and --reads at most 1");
  }
  if (o.shape.prefixes < 1 || o.shape.range_keys < 1 || o.shape.range_keys > 99'999 || o.shape.hot_keys < 1) {
    flags.usage_error("--prefixes and --hot-keys must be at least 1, and --range-keys 1 to 99999");
  }
  if (o.reads > 0 && o.shape.op != load_op::point) flags.usage_error("--reads goes with --op point only");
  o.shape.keys = o.keys;
  o.shape.value_size = o.value_size;
  o.shape.reads = o.reads;
  if (o.endpoints.empty()) flags.usage_error("--endpoints needs at least one host:port");
  if (o.start_node && o.start_cluster > 0) flags.usage_error("--start-node and --start-cluster exclude each other");
  return o;
}

struct totals {
  std::uint64_t ops = 0;
  std::uint64_t reads = 0;
  std::uint64_t errors = 0;
  std::uint64_t not_found = 0;
  std::uint64_t conflicts = 0;  // cas: compares that failed (the operation then retried)
  std::string first_error;
  std::map<std::string, std::uint64_t> errors_by_kind;  // a status name, or "connection" (lost, refused)
  std::vector<std::uint64_t> ops_by_target;             // indexed like the distinct targets
  latency_recorder latency;

  void error(const std::string& kind, const std::string& message, std::uint64_t count = 1) {
    if (errors == 0) first_error = message;
    errors += count;
    errors_by_kind[kind] += count;
  }
};

asio::awaitable<void> wait_for_node(std::string endpoint) {
  kv::client::options co;
  co.endpoints.assign(1, endpoint);
  co.connect_timeout = milliseconds(500);
  kv::client c(co_await asio::this_coro::executor, co);
  auto until = steady_clock::now() + seconds(30);
  for (;;) {
    if (co_await c.ping()) {
      c.close();
      co_return;
    }
    if (steady_clock::now() > until) {
      throw std::runtime_error("the node at " + endpoint + " did not answer within 30 s");
    }
    asio::steady_timer t(co_await asio::this_coro::executor, milliseconds(50));
    co_await t.async_wait(asio::use_awaitable);
  }
}

// Writes the keys the load reads: the point keys, or for ranges prefixes x range_keys keys, in
// bulk writes of `per_bulk` pairs.
asio::awaitable<void> prefill(kv::client& c, const options& o) {
  const std::uint64_t per_bulk = 500;
  std::string value(o.value_size, 'p');
  bool ranges = o.shape.op == load_op::range;
  std::uint64_t total = ranges ? o.shape.prefixes * o.shape.range_keys : o.keys;
  auto key = [&](std::uint64_t j) {
    if (!ranges) return kv::bench::point_key(j);
    return kv::bench::range_key(j / o.shape.range_keys, static_cast<std::uint32_t>(j % o.shape.range_keys));
  };
  for (std::uint64_t k = 0; k < total; k += per_bulk) {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (auto j = k; j < std::min(k + per_bulk, total); ++j) pairs.emplace_back(key(j), value);
    auto r = co_await c.bulk_set(std::move(pairs));
    if (!r) throw std::runtime_error("prefill failed: " + r.message());
  }
}

// One load connection, driven with callbacks on the raw protocol so that the load generator
// spends as little CPU per request as it can (the server shares the machine): `pipeline`
// requests are kept in flight; each answer is timed and replaced by a new request, and all
// requests made while handling one read go out in one write.
// What both kinds of load connection share: a socket, the requests queued to send (one write at a
// time, the next batch gathering meanwhile), and the bytes received and not yet parsed.
// `Derived` provides on_data() (parse in_[begin_, end_), send more, read() again) and fail().
template <typename Derived>
class load_io : public std::enable_shared_from_this<Derived> {
 protected:
  explicit load_io(asio::io_context& ctx) : socket_(ctx) {}

  void connect(const asio::ip::tcp::endpoint& ep) {
    socket_.connect(ep);
    socket_.set_option(asio::ip::tcp::no_delay(true));
  }

  void flush() {
    if (writing_ || out_.empty()) return;
    writing_ = true;
    sending_.swap(out_);
    out_.clear();
    asio::async_write(socket_, asio::buffer(sending_),
                      [self = this->shared_from_this()](std::error_code ec, std::size_t) {
                        self->writing_ = false;
                        self->sending_.clear();
                        if (ec) return self->fail(ec.message());
                        self->flush();
                      });
  }

  void read() {
    if (in_.size() - end_ < 16384) {
      std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
      if (in_.size() - end_ < 16384) in_.resize(std::max<std::size_t>(in_.size() * 2, 65536));
    }
    socket_.async_read_some(asio::buffer(in_.data() + end_, in_.size() - end_),
                            [self = this->shared_from_this()](std::error_code ec, std::size_t n) {
                              if (ec) return self->fail(ec.message());
                              self->end_ += n;
                              self->on_data();
                            });
  }

  void close() {
    std::error_code ignored;
    socket_.close(ignored);
  }

  asio::ip::tcp::socket socket_;
  std::string out_;
  std::string sending_;
  bool writing_ = false;
  std::vector<char> in_ = std::vector<char>(65536);
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

class load_connection : public load_io<load_connection> {
  friend class load_io<load_connection>;

 public:
  // `target` indexes totals::ops_by_target: the node this connection talks to.
  load_connection(asio::io_context& ctx, const options& o, std::uint64_t seed, totals& t, std::size_t target)
      : load_io(ctx),
        o_(o),
        rng_(seed),
        t_(t),
        target_(target),
        shape_(o.shape),
        slots_(static_cast<std::size_t>(o.pipeline)) {}

  void start(const asio::ip::tcp::endpoint& ep, steady_clock::time_point measure_from, steady_clock::time_point until) {
    measure_from_ = measure_from;
    until_ = until;
    connect(ep);
    for (int i = 0; i < o_.pipeline; ++i) send_one(static_cast<std::uint64_t>(i), true);
    flush();
    read();
  }

 private:
  // Sends the slot's next request: the first of a new operation, or the next of the one under way.
  void send_one(std::uint64_t slot, bool new_operation) {
    auto id = next_id_++ * static_cast<std::uint64_t>(o_.pipeline) + slot;  // id % pipeline == slot
    if (new_operation) {
      shape_.begin(slots_[slot], out_, id, rng_, steady_clock::now());
    } else {
      shape_.follow(slots_[slot], out_, id);
    }
    ++outstanding_;
  }

  void on_data() {
    auto now = steady_clock::now();
    bool more = now < until_;
    for (;;) {
      auto r = kv::protocol::parse_frame(std::string_view(in_.data() + begin_, end_ - begin_), 1u << 30);
      if (r.status != kv::protocol::parse_status::ok) break;
      begin_ += r.f.size;
      auto slot = r.f.id % static_cast<std::uint64_t>(o_.pipeline);
      auto& s = slots_[slot];
      --outstanding_;
      auto a = shape_.on_answer(s, static_cast<kv::protocol::status>(r.f.code), r.f.body);
      bool measured = s.started >= measure_from_;
      switch (a.outcome) {
        case kv::bench::answer_outcome::failed:
          t_.error(a.kind, a.message);
          break;
        case kv::bench::answer_outcome::next:
          if (more) send_one(slot, false);
          continue;
        case kv::bench::answer_outcome::conflict:
          t_.conflicts += measured;
          if (more) send_one(slot, false);
          continue;
        case kv::bench::answer_outcome::done:
        case kv::bench::answer_outcome::not_found:
          if (!measured) break;
          ++t_.ops;
          ++t_.ops_by_target[target_];
          t_.reads += s.read;
          t_.not_found += a.outcome == kv::bench::answer_outcome::not_found;
          t_.latency.add(now - s.started);
          break;
      }
      if (more) send_one(slot, true);
    }
    if (begin_ == end_) begin_ = end_ = 0;
    flush();
    if (outstanding_ > 0) return read();
    close();
  }

  void fail(const std::string& why) {
    if (outstanding_ > 0) t_.error("connection", "connection: " + why, static_cast<std::uint64_t>(outstanding_));
    close();
  }

  const options& o_;
  std::mt19937_64 rng_;
  totals& t_;
  std::size_t target_;
  kv::bench::load_shape shape_;
  std::vector<kv::bench::slot> slots_;
  std::uint64_t next_id_ = 1;
  int outstanding_ = 0;
  steady_clock::time_point measure_from_;
  steady_clock::time_point until_;
};

// One connection of the point load over the Redis protocol: `pipeline` GETs or SETs in flight,
// answered in the order sent.
class resp_load_connection : public load_io<resp_load_connection> {
  friend class load_io<resp_load_connection>;

 public:
  resp_load_connection(asio::io_context& ctx, const options& o, std::uint64_t seed, totals& t)
      : load_io(ctx), o_(o), rng_(seed), t_(t), value_(o.value_size, 'v') {}

  void start(const asio::ip::tcp::endpoint& ep, steady_clock::time_point measure_from, steady_clock::time_point until) {
    measure_from_ = measure_from;
    until_ = until;
    connect(ep);
    for (int i = 0; i < o_.pipeline; ++i) send_one();
    flush();
    read();
  }

 private:
  struct request {
    steady_clock::time_point started;
    bool read = false;
  };

  void send_one() {
    std::uniform_int_distribution<std::uint64_t> pick(0, o_.keys - 1);
    std::uniform_real_distribution<double> coin(0, 1);
    const auto key = kv::bench::point_key(pick(rng_));
    const bool read = o_.reads > 0 && coin(rng_) < o_.reads;
    if (read) {
      fmt::format_to(std::back_inserter(out_), "*2\r\n$3\r\nGET\r\n${}\r\n{}\r\n", key.size(), key);
    } else {
      fmt::format_to(std::back_inserter(out_), "*3\r\n$3\r\nSET\r\n${}\r\n{}\r\n${}\r\n{}\r\n", key.size(), key,
                     value_.size(), value_);
    }
    in_flight_.push_back(request{steady_clock::now(), read});
  }

  // The length of the reply at the start of `in` (a simple string, error, integer or bulk
  // string, the only ones GET and SET give), 0 if it has not all arrived.
  static std::size_t reply_length(std::string_view in) {
    auto line = in.find("\r\n");
    if (line == std::string_view::npos) return 0;
    if (in[0] != '$') return line + 2;
    const auto n = std::strtoll(std::string(in.substr(1, line - 1)).c_str(), nullptr, 10);
    if (n < 0) return line + 2;
    const auto whole = line + 2 + static_cast<std::size_t>(n) + 2;
    return in.size() >= whole ? whole : 0;
  }

  void on_data() {
    const auto now = steady_clock::now();
    const bool more = now < until_;
    for (;;) {
      auto in = std::string_view(in_.data() + begin_, end_ - begin_);
      const auto n = in.empty() ? 0 : reply_length(in);
      if (n == 0) break;
      begin_ += n;
      const auto r = in_flight_.front();
      in_flight_.pop_front();
      if (in[0] == '-') {
        t_.error("resp_error", std::string(in.substr(1, n - 3)));
      } else if (r.started >= measure_from_) {
        ++t_.ops;
        ++t_.ops_by_target[0];
        t_.reads += r.read;
        t_.not_found += in.starts_with("$-1");
        t_.latency.add(now - r.started);
      }
      if (more) send_one();
    }
    if (begin_ == end_) begin_ = end_ = 0;
    flush();
    if (!in_flight_.empty()) return read();
    close();
  }

  void fail(const std::string& why) {
    if (!in_flight_.empty()) t_.error("connection", "connection: " + why, in_flight_.size());
    close();
  }

  const options& o_;
  std::mt19937_64 rng_;
  totals& t_;
  std::string value_;
  std::deque<request> in_flight_;
  steady_clock::time_point measure_from_;
  steady_clock::time_point until_;
};

// Where the load goes: the distinct nodes, and for each connection the index of its node.
struct load_plan {
  std::vector<std::string> targets;
  std::vector<std::size_t> connection_target;
};

load_plan plan_load(const options& o, const std::string& leader) {
  load_plan p;
  bool spread = kv::bench::load_shape(o.shape).read_only() && o.reads_from_all;
  p.targets.assign(1, leader);
  if (spread) {  // the leader first, so that one connection reads from the leader
    for (const auto& ep : o.endpoints) {
      if (ep != leader) p.targets.push_back(ep);
    }
  }
  for (int c = 0; c < o.connections; ++c) p.connection_target.push_back(static_cast<std::size_t>(c) % p.targets.size());
  return p;
}

// Waits for every node, finds the leader (returned), fills the keys if asked and waits until every
// node has applied them.
asio::awaitable<std::string> prepare(options o) {
  for (const auto& ep : o.endpoints) co_await wait_for_node(ep);
  auto leader = co_await kv::harness::await_leader(o.endpoints, milliseconds(30000));
  if (!leader) throw std::runtime_error("the nodes did not agree on a leader within 30 s");
  const bool leases = o.shape.op == load_op::lease_keepalive;
  if (o.prefill || o.shape.op == load_op::range || leases) {
    kv::client::options co;
    co.endpoints.assign(1, leader->address);
    co.endpoints.insert(co.endpoints.end(), o.endpoints.begin(), o.endpoints.end());
    co.request_timeout = seconds(60);
    kv::client c(co_await asio::this_coro::executor, co);
    if (leases) {
      for (std::uint64_t id = 1; id <= o.shape.leases; ++id) {
        auto g = co_await c.grant_lease(3600, id);
        if (!g) throw std::runtime_error("granting the leases failed: " + g.message());
      }
    } else {
      co_await prefill(c, o);
    }
    c.close();
    if (o.endpoints.size() > 1 && !co_await kv::harness::await_converged(o.endpoints, milliseconds(60000))) {
      throw std::runtime_error("the nodes did not all apply the prefill within 60 s");
    }
  }
  co_return leader->address;
}

std::string describe_errors(const totals& t) {
  std::string out;
  for (const auto& [kind, n] : t.errors_by_kind) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", kind, n);
  return out;
}

void report(const options& o, const load_plan& plan, totals& t, double elapsed) {
  double rate = static_cast<double>(t.ops) / elapsed;
  auto shape = kv::bench::load_shape(o.shape).name();
  if (o.json) {
    std::string by_kind;
    for (const auto& [kind, n] : t.errors_by_kind) {
      by_kind += fmt::format("{}\"{}\":{}", by_kind.empty() ? "" : ",", kind, n);
    }
    std::string by_target;
    for (std::size_t i = 0; i < plan.targets.size(); ++i) {
      by_target += fmt::format("{}\"{}\":{}", i ? "," : "", plan.targets[i], t.ops_by_target[i]);
    }
    fmt::print("{{\"bench\":\"{}\",\"nodes\":{},\"connections\":{},\"pipeline\":{},\"value_size\":{},\"keys\":{},"
               "\"reads\":{},\"seconds\":{:.2f},\"ops\":{},\"ops_per_sec\":{:.0f},\"p50_ms\":{:.3f},\"p99_ms\":{:.3f},"
               "\"p999_ms\":{:.3f},\"errors\":{},\"errors_by_kind\":{{{}}},\"not_found\":{},\"conflicts\":{},"
               "\"ops_by_node\":{{{}}}}}\n",
               shape, o.endpoints.size(), o.connections, o.pipeline, o.value_size, o.keys, o.reads, elapsed, t.ops,
               rate, t.latency.percentile_us(0.5) / 1000, t.latency.percentile_us(0.99) / 1000,
               t.latency.percentile_us(0.999) / 1000, t.errors, by_kind, t.not_found, t.conflicts, by_target);
    return;
  }
  fmt::print("{:<6} c={:<4} P={:<3} {:>10.0f} ops/s  p50 {:.3f} ms  p99 {:.3f} ms  p99.9 {:.3f} ms  ({} ops in "
             "{:.1f} s, {}{} errors{})\n",
             shape, o.connections, o.pipeline, rate, t.latency.percentile_us(0.5) / 1000,
             t.latency.percentile_us(0.99) / 1000, t.latency.percentile_us(0.999) / 1000, t.ops, elapsed,
             o.shape.op == load_op::cas ? fmt::format("{} conflicts, ", t.conflicts) : std::string(), t.errors,
             t.errors ? ": " + describe_errors(t) + "; first: " + t.first_error : std::string());
  if (o.endpoints.size() > 1 || plan.targets != o.endpoints) {
    std::string spread;
    for (std::size_t i = 0; i < plan.targets.size(); ++i) {
      spread += fmt::format(" {}={}", plan.targets[i], t.ops_by_target[i]);
    }
    fmt::print("       operations answered, by node:{}\n", spread);
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  auto storage_toml =
      fmt::format("[storage]\nfsync = \"{}\"\n{}\n[index]\nenabled = {}\n", o.fsync, o.node_storage, o.index);
  auto started = kv::bench::start_nodes(o.start_node, o.start_cluster, storage_toml, o.endpoints);

  // Wait for the nodes, find the leader and fill through the client library; then load on raw
  // connections.
  std::string leader;
  {
    asio::io_context ctx(1);
    std::exception_ptr failure;
    asio::co_spawn(ctx, prepare(o), [&](std::exception_ptr e, std::string l) {
      failure = e;
      leader = std::move(l);
    });
    ctx.run();
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        fmt::print(stderr, "kvbench: {}\n", e.what());
        return 3;
      }
    }
  }
  auto plan = plan_load(o, leader);
  if (!o.resp.empty()) {  // every connection to the one Redis-protocol address
    plan.targets.assign(1, o.resp);
    plan.connection_target.assign(static_cast<std::size_t>(o.connections), 0);
  }
  std::vector<asio::ip::tcp::endpoint> addresses;
  for (const auto& target : plan.targets) {
    auto hp = kv::parse_host_port(target);
    if (!hp) {
      fmt::print(stderr, "kvbench: bad endpoint {}\n", target);
      return 2;
    }
    addresses.emplace_back(asio::ip::make_address(hp->host == "localhost" ? "127.0.0.1" : hp->host), hp->port);
  }
  totals t;
  t.ops_by_target.assign(plan.targets.size(), 0);
  asio::io_context ctx(1);
  auto start = steady_clock::now();
  auto measure_from = start + duration_cast<steady_clock::duration>(duration<double>(o.warmup));
  auto until = measure_from + duration_cast<steady_clock::duration>(duration<double>(o.seconds));
  for (int c = 0; c < o.connections; ++c) {
    auto target = plan.connection_target[static_cast<std::size_t>(c)];
    try {
      const auto seed = static_cast<std::uint64_t>(c) * 7919 + 1;
      if (!o.resp.empty()) {
        std::make_shared<resp_load_connection>(ctx, o, seed, t)->start(addresses[target], measure_from, until);
        continue;
      }
      std::make_shared<load_connection>(ctx, o, seed, t, target)->start(addresses[target], measure_from, until);
    } catch (const std::exception& e) {
      fmt::print(stderr, "kvbench: cannot connect to {}: {}\n", plan.targets[target], e.what());
      return 3;
    }
  }
  ctx.run();
  report(o, plan, t, duration<double>(steady_clock::now() - measure_from).count());
  return t.errors == 0 ? 0 : 3;
}
