// watch_load: watch load for a running kvnode (or nodes it starts), in the shapes of etcd's
// benchmark tool (`benchmark watch`, `benchmark watch-latency`) and two of its own.
//
//   watch_load --shape watch|watch-latency|idle|active [--endpoints H:P[,H:P...]]
//              [--start-node | --start-cluster N] [--fsync always|never] [--index on|off] [--json]
//
// - watch: --streams S groups of --watch-per-stream W watches (watcher n = stream n / W), watcher
//   n watching key n mod --watched-key-total K (etcd's `watch --streams --watch-per-stream
//   --watched-key-total`). Stream s is sent on connection s mod --connections (0: a connection
//   per stream). Once every watch is created, --put-total P puts, put i to key i mod K, with
//   --put-clients unanswered at most, paced to --put-rate a second (0: as fast as answers come).
//   Reports puts/s and events/s: the events all watchers received over the time from the first
//   put to the last event, which is what etcd's "Watch events received summary" reports as
//   Requests/sec. Every watcher must receive one event per put to its key, no more, no less.
// - watch-latency: --watchers W watches of one key over --connections C; --put-total puts to it,
//   one at a time, through a connection of their own, each waiting for every watcher's event,
//   limited to --put-rate a second as etcd's tool is (a bucket of put-rate tokens, full at the
//   start). Reports the delay from the put's acknowledgement to each watcher's event, which is
//   what etcd's `watch-latency` measures (0 when the event came first), and from the put's send.
// - idle: --watchers N watches over --connections C on one node (the leader, or the node
//   started), each of its own key, never written. Reports the node's resident memory
//   (VmRSS in /proc/<pid>/status, the pid from the status operation) before the connections,
//   after them and after the watches, the bytes per watch, and sequential get and put latency
//   before and after the watches (puts to an unwatched key: what a write costs beside N
//   watchers). The node must report N watches, and answer every probe.
// - active: --watchers N watches, each of its own key, over --connections C; --put-rate puts a
//   second for --seconds, round-robin over the keys, with at most --put-clients unanswered (a
//   bucket of 10 ms of puts). Each event is timed from the send of the put it reports. A watcher
//   that has not received its key's last put within --settle of the last acknowledgement fell
//   behind. Reports puts/s, put latency, events/s, put-to-event latency and the watchers behind.
//
// Watch connections go to the leader (as etcd's tool with --target-leader), or with --watch-from
// all round-robin over every endpoint, the leader first; puts go to the leader. The load runs on
// the raw protocol (as kvbench's does) on one thread, and the report puts its CPU use beside the
// watching node's, so that a saturated load generator shows. Errors (a refused or ended watch, a
// failed put, a missing or extra event, a lost connection) are counted by kind and make the exit
// status 3.

#include "bench/args.hpp"
#include "bench/started_nodes.hpp"
#include "bench/latency.hpp"
#include "bench/process_stats.hpp"
#include "bench/watch_connections.hpp"
#include "core/base/address.hpp"
#include "harness/cluster.hpp"
#include "harness/cluster_status.hpp"
#include "harness/node_process.hpp"
#include "io/client/client.hpp"
#include "io/protocol/protocol.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <deque>
#include <initializer_list>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono;
using kv::bench::cpu_meter;
using kv::bench::latency_recorder;
using kv::bench::load_state;
using kv::bench::paced_puts;
using kv::bench::put_connection;
using kv::bench::raw_connection;
using kv::bench::rss_bytes;
using kv::bench::sleep_until;
using kv::bench::token_bucket;
using kv::bench::wait_for;
using kv::bench::watch_set;
namespace protocol = kv::protocol;

namespace {

enum class shape : std::uint8_t { watch, watch_latency, idle, active };

const char* to_string(shape s) {
  switch (s) {
    case shape::watch:
      return "watch";
    case shape::watch_latency:
      return "watch-latency";
    case shape::idle:
      return "idle";
    case shape::active:
      return "active";
  }
  return "?";
}

struct options {
  std::vector<std::string> endpoints{"127.0.0.1:7379"};
  shape s = shape::watch;
  // Settings each shape gives its own default (see defaults_of); negative: not given.
  double put_rate = -1;            // puts a second; 0: unpaced
  double put_total = -1;           // watch, watch-latency
  double watchers = -1;            // watch-latency, idle, active
  double connections = -1;         // 0 (watch): one per stream
  double put_clients = -1;         // puts unanswered at most
  double value_size = -1;          // bytes of each value put
  double settle = -1;              // seconds the last events may take after the last acknowledgement
  int streams = 10;                // watch
  int watch_per_stream = 100;      // watch
  std::uint64_t watched_keys = 1;  // watch: --watched-key-total
  double seconds = 10;             // active
  std::size_t key_size = 32;
  int probes = 1000;  // idle: sequential gets, and puts, before and after the watches
  bool watch_from_all = false;
  bool json = false;
  bool start_node = false;
  int start_cluster = 0;
  std::string fsync = "always";
  bool index = true;
};

// Each shape's defaults: etcd's tool's for the two shapes it has (its watch --put-rate 0 would
// stop after one put; here 0 is unpaced), and the issue's targets for the others.
struct shape_settings {
  double watchers;
  double connections;
  double put_total;
  double put_rate;
  double put_clients;
  double value_size;  // etcd's watch puts "data": 4 bytes
  double settle;
};
constexpr shape_settings defaults_of(shape s) {
  switch (s) {
    case shape::watch:
      return shape_settings{0, 0, 1000, 0, 1, 4, 10};
    case shape::watch_latency:
      return shape_settings{1, 1, 10000, 100, 1, 32, 10};
    case shape::idle:
      return shape_settings{100000, 100, 0, 0, 1, 32, 0};
    case shape::active:
      return shape_settings{10000, 100, 0, 10000, 256, 32, 2};
  }
  return shape_settings{};
}

void apply_defaults(options& o) {
  const auto d = defaults_of(o.s);
  for (auto [v, def] : {std::pair{&o.watchers, d.watchers}, std::pair{&o.connections, d.connections},
                        std::pair{&o.put_total, d.put_total}, std::pair{&o.put_rate, d.put_rate},
                        std::pair{&o.put_clients, d.put_clients}, std::pair{&o.value_size, d.value_size},
                        std::pair{&o.settle, d.settle}}) {
    if (*v < 0) *v = def;
  }
}

options parse(int argc, char** argv) {
  options o;
  kv::bench::flag_table flags("watch_load",
                              "Watch load for a running kvnode, or for nodes it starts, in the shapes of etcd's\n"
                              "benchmark tool; the comment at the top of bench/watch_load.cpp describes each.");
  // The defaults --help shows: each shape's that uses the setting.
  auto per_shape = [](double shape_settings::*field, std::initializer_list<shape> shapes) {
    std::string out;
    for (auto s : shapes) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", to_string(s), defaults_of(s).*field);
    return out;
  };
  const auto all = {shape::watch, shape::watch_latency, shape::idle, shape::active};
  const auto watching = {shape::watch_latency, shape::idle, shape::active};
  const auto putting = {shape::watch, shape::watch_latency, shape::active};
  flags.add_parsed("--shape", "watch|watch-latency|idle|active", "the load", "watch",
                   [&](const std::string& name, const std::string& v) {
                     if (v == "watch") {
                       o.s = shape::watch;
                     } else if (v == "watch-latency") {
                       o.s = shape::watch_latency;
                     } else if (v == "idle") {
                       o.s = shape::idle;
                     } else if (v == "active") {
                       o.s = shape::active;
                     } else {
                       flags.usage_error(name + " takes watch, watch-latency, idle or active");
                     }
                   });
  flags.add("--endpoints", "H:P,...", "nodes: the leader takes the puts", o.endpoints);
  flags.add("--streams", "S", "watch: groups of watches (etcd's watch streams)", o.streams);
  flags.add("--watch-per-stream", "W", "watch: watches in each stream", o.watch_per_stream);
  flags.add("--watched-key-total", "K", "watch: keys watched, and put in turn", o.watched_keys);
  flags.add("--watchers", "N", "watch-latency, idle, active: watches", o.watchers);
  flags.shown_default(per_shape(&shape_settings::watchers, watching));
  flags.add("--connections", "C", "connections the watches are spread over (watch: 0 is one per stream)",
            o.connections);
  flags.shown_default(per_shape(&shape_settings::connections, all));
  flags.add("--put-total", "P", "watch, watch-latency: puts", o.put_total);
  flags.shown_default(per_shape(&shape_settings::put_total, {shape::watch, shape::watch_latency}));
  flags.add("--put-rate", "R", "puts a second at most; 0: as fast as answers come", o.put_rate);
  flags.shown_default(per_shape(&shape_settings::put_rate, putting));
  flags.add("--put-clients", "N", "watch, active: puts unanswered at most (etcd's --clients)", o.put_clients);
  flags.shown_default(per_shape(&shape_settings::put_clients, {shape::watch, shape::active}));
  flags.add("--seconds", "S", "active: how long the puts run", o.seconds);
  flags.add("--settle", "S", "seconds the last events may take after the last put's answer", o.settle);
  flags.shown_default(per_shape(&shape_settings::settle, putting));
  flags.add("--key-size", "BYTES", "size of each key", o.key_size);
  flags.add("--val-size", "BYTES", "size of each value put", o.value_size);
  flags.shown_default(per_shape(&shape_settings::value_size, all));
  flags.add("--probes", "N", "idle: sequential gets, and puts, before and after the watches", o.probes);
  flags.add_parsed("--watch-from", "leader|all", "where the watch connections go", "leader",
                   [&](const std::string& name, const std::string& v) {
                     if (v != "leader" && v != "all") flags.usage_error(name + " takes leader or all");
                     o.watch_from_all = v == "all";
                   });
  flags.add_switch("--json", "print the report as one JSON object", o.json);
  flags.add_switch("--start-node", "run a kvnode on a fresh data directory and a free port", o.start_node);
  flags.add("--start-cluster", "N", "run N kvnodes as one Raft cluster; 0: none", o.start_cluster);
  flags.add_parsed("--fsync", "always|never", "[storage] fsync of the nodes started", o.fsync,
                   [&](const std::string& name, const std::string& v) {
                     if (v != "always" && v != "never") flags.usage_error(name + " takes always or never");
                     o.fsync = v;
                   });
  flags.add_parsed("--index", "on|off", "[index] enabled of the nodes started", "on",
                   [&](const std::string& name, const std::string& v) {
                     if (v != "on" && v != "off") flags.usage_error(name + " takes on or off");
                     o.index = v == "on";
                   });
  flags.parse(argc, argv);
  apply_defaults(o);
  if (o.endpoints.empty()) flags.usage_error("--endpoints needs at least one host:port");
  if (o.start_node && o.start_cluster > 0) flags.usage_error("--start-node and --start-cluster exclude each other");
  if (o.streams < 1 || o.watch_per_stream < 1 || o.watched_keys < 1 || o.put_clients < 1) {
    flags.usage_error("--streams, --watch-per-stream, --watched-key-total and --put-clients must be at least 1");
  }
  if (o.s != shape::watch && (o.watchers < 1 || o.connections < 1)) {
    flags.usage_error("--watchers and --connections must be at least 1");
  }
  if (o.s == shape::active && o.put_rate <= 0) flags.usage_error("--shape active needs a --put-rate");
  if (o.key_size < 12 || o.key_size > 4096) flags.usage_error("--key-size must be 12 to 4096");
  return o;
}

// ---- the run's shared state ---------------------------------------------------------------

// The nodes under load: where each is, which leads, and the pid of each (from its status).
struct nodes {
  std::vector<std::string> endpoints;
  std::string leader;
  std::map<std::string, pid_t> pids;
};

// What every part of a run shares. Lives in main until the io_context has stopped.
struct run_context {
  explicit run_context(options opts) : o(std::move(opts)) {}
  options o;
  nodes n;
  asio::io_context ctx{1};
  kv::bench::load_state load{ctx};
};

asio::ip::tcp::endpoint tcp_endpoint(const std::string& text) {
  auto hp = kv::parse_host_port(text);
  if (!hp) throw std::runtime_error("bad endpoint " + text);
  return asio::ip::tcp::endpoint(asio::ip::make_address(hp->host == "localhost" ? "127.0.0.1" : hp->host), hp->port);
}

// Where watch connection c goes: the leader, or every endpoint in turn, the leader first.
std::vector<asio::ip::tcp::endpoint> watch_targets(const run_context& rc) {
  std::vector<asio::ip::tcp::endpoint> out;
  out.push_back(tcp_endpoint(rc.n.leader));
  if (rc.o.watch_from_all) {
    for (const auto& ep : rc.n.endpoints) {
      if (ep != rc.n.leader) out.push_back(tcp_endpoint(ep));
    }
  }
  return out;
}

// Key `i` of a family, `size` bytes: the prefix, then i in decimal, zero-padded.
std::string key_name(std::string_view prefix, std::uint64_t i, std::size_t size) {
  return fmt::format("{}{:0{}}", prefix, i, size - prefix.size());
}

// ---- the report ------------------------------------------------------------------------------

// One run's report: a line (or a few) for people, and the fields of the JSON object.
struct report {
  std::string human;
  std::vector<std::pair<std::string, std::string>> fields;  // values already in JSON

  void number(const std::string& name, double v, int decimals = 0) {
    fields.emplace_back(name, fmt::format("{:.{}f}", v, decimals));
  }
  void latency(const std::string& name, latency_recorder& l) {
    number(name + "_p50_ms", l.percentile_us(0.5) / 1000, 3);
    number(name + "_p90_ms", l.percentile_us(0.9) / 1000, 3);
    number(name + "_p99_ms", l.percentile_us(0.99) / 1000, 3);
    number(name + "_max_ms", l.percentile_us(1.0) / 1000, 3);
  }
};

std::string ms(latency_recorder& l, double q) { return fmt::format("{:.3f}", l.percentile_us(q) / 1000); }

// "p50 0.410 p99 1.200 max 3.000 ms"
std::string spread(latency_recorder& l) {
  return fmt::format("p50 {} p90 {} p99 {} max {} ms", ms(l, 0.5), ms(l, 0.9), ms(l, 0.99), ms(l, 1.0));
}

void report_cpu(report& r, const cpu_meter& cpu) {
  r.number("load_cpu_share", cpu.own_share, 2);
  r.number("node_cpu_share", cpu.node_share, 2);
}

std::string cpu_text(const cpu_meter& cpu) {
  return fmt::format("CPU: watch_load {:.0f}%, watching node {:.0f}% of a core", cpu.own_share * 100,
                     cpu.node_share * 100);
}

pid_t pid_of(const run_context& rc, const std::string& endpoint) {
  auto it = rc.n.pids.find(endpoint);
  return it == rc.n.pids.end() ? 0 : it->second;
}

// ---- shapes ------------------------------------------------------------------------------------

// etcd's `benchmark watch`: S x W watchers over K keys, then P puts fanned out to them.
asio::awaitable<report> run_watch(std::shared_ptr<run_context> rc) {
  const auto& o = rc->o;
  const auto watchers = static_cast<std::size_t>(o.streams) * static_cast<std::size_t>(o.watch_per_stream);
  const auto total = static_cast<std::uint64_t>(o.put_total);
  std::vector<std::string> keys;
  for (std::uint64_t k = 0; k < o.watched_keys; ++k) keys.push_back(key_name("watch/", k, o.key_size));
  std::vector<std::string> watcher_keys;
  std::vector<std::uint64_t> expected(watchers), received(watchers);
  for (std::size_t w = 0; w < watchers; ++w) watcher_keys.push_back(keys[w % keys.size()]);
  std::uint64_t expected_total = 0;
  for (std::size_t w = 0; w < watchers; ++w) {
    const auto k = w % keys.size();
    expected[w] = total / keys.size() + (k < total % keys.size() ? 1 : 0);
    expected_total += expected[w];
  }
  std::uint64_t events = 0;
  steady_clock::time_point last_event;
  watch_set ws(rc->load, [&](std::size_t w, std::uint64_t, std::uint32_t count, steady_clock::time_point now) {
    received[w] += count;
    events += count;
    last_event = now;
    if (received[w] > expected[w])
      rc->load.errors.error("extra_event", fmt::format("watcher {} got an event too many", w));
    if (events == expected_total) rc->load.wake.notify();
  });
  const auto connections =
      o.connections > 0 ? static_cast<std::size_t>(o.connections) : static_cast<std::size_t>(o.streams);
  ws.open(connections, watch_targets(*rc));
  const auto create_start = steady_clock::now();
  ws.send(watcher_keys, static_cast<std::size_t>(o.watch_per_stream));
  co_await wait_for(rc->load, seconds(120), [&] { return ws.all_created(); });
  const auto create_seconds = duration<double>(steady_clock::now() - create_start).count();
  if (!ws.all_created())
    rc->load.errors.error("not_created", fmt::format("{} of {} watches created", ws.created(), watchers));

  put_connection puts(rc->load);
  puts.open(tcp_endpoint(rc->n.leader), {});
  cpu_meter cpu(pid_of(*rc, rc->n.leader));
  if (rc->load.errors.count == 0) {
    co_await paced_puts(
        rc->load, puts, total, static_cast<std::size_t>(o.put_clients), token_bucket(o.put_rate, 1),
        [&](std::uint64_t i) { return std::string_view(keys[i % keys.size()]); },
        std::string(static_cast<std::size_t>(o.value_size), 'd'));
  }
  co_await wait_for(rc->load, duration_cast<steady_clock::duration>(duration<double>(o.settle)),
                    [&] { return events >= expected_total; });
  cpu.stop();
  std::uint64_t short_watchers = 0, missing = 0;
  for (std::size_t w = 0; w < watchers; ++w) {
    if (received[w] < expected[w]) {
      ++short_watchers;
      missing += expected[w] - received[w];
    }
  }
  if (missing > 0 && rc->load.errors.count == 0) {
    rc->load.errors.error("missing_event",
                          fmt::format("{} watchers were {} events short {} s after the last put's answer",
                                      short_watchers, missing, o.settle),
                          missing);
  }
  ws.close();

  const auto put_seconds = duration<double>(puts.last_acked - puts.first_sent).count();
  const auto event_seconds = duration<double>(last_event - puts.first_sent).count();
  const auto put_rate = static_cast<double>(puts.acked) / put_seconds;
  const auto event_rate = static_cast<double>(events) / event_seconds;
  report r;
  r.number("streams", o.streams);
  r.number("watch_per_stream", o.watch_per_stream);
  r.number("watchers", static_cast<double>(watchers));
  r.number("watched_keys", static_cast<double>(keys.size()));
  r.number("connections", static_cast<double>(connections));
  r.number("put_clients", o.put_clients);
  r.number("put_rate_limit", o.put_rate);
  r.number("puts", static_cast<double>(puts.acked));
  r.number("watch_create_seconds", create_seconds, 3);
  r.number("puts_per_sec", put_rate);
  r.latency("put", puts.latency);
  r.number("events", static_cast<double>(events));
  r.number("events_expected", static_cast<double>(expected_total));
  r.number("events_per_sec", event_rate);
  r.number("event_seconds", event_seconds, 3);
  r.number("watchers_short", static_cast<double>(short_watchers));
  report_cpu(r, cpu);
  r.human = fmt::format(
      "watch  {} streams x {} watchers on {} keys ({} connections), {} puts ({} in flight{}): {:.0f} puts/s, "
      "{:.0f} events/s ({} events in {:.2f} s; watches created in {:.2f} s); put p50 {} p99 {} ms; {}",
      o.streams, o.watch_per_stream, keys.size(), connections, total, o.put_clients,
      o.put_rate > 0 ? fmt::format(", at most {:.0f}/s", o.put_rate) : std::string(), put_rate, event_rate, events,
      event_seconds, create_seconds, ms(puts.latency, 0.5), ms(puts.latency, 0.99), cpu_text(cpu));
  co_return r;
}

// etcd's `benchmark watch-latency`: W watchers of one key; puts one at a time, each timed to
// every watcher's event.
asio::awaitable<report> run_watch_latency(std::shared_ptr<run_context> rc) {
  const auto& o = rc->o;
  const auto watchers = static_cast<std::size_t>(o.watchers);
  const auto total = static_cast<std::uint64_t>(o.put_total);
  const auto key = key_name("latency/", 0, o.key_size);
  const std::string value(static_cast<std::size_t>(o.value_size), 'v');
  // The put under way: each watcher's first event at or after its revision is its event.
  std::uint64_t revision = 0;  // the put's, once answered
  steady_clock::time_point sent, acked;
  std::vector<steady_clock::time_point> event_at(watchers);
  std::vector<std::uint64_t> event_revision(watchers);
  std::size_t waiting = 0;  // watchers without the put's event
  latency_recorder from_ack, from_send;
  watch_set ws(rc->load, [&](std::size_t w, std::uint64_t rev, std::uint32_t count, steady_clock::time_point now) {
    if (count == 0) return;
    if (waiting == 0 || event_revision[w] >= rev) {
      rc->load.errors.error("extra_event", fmt::format("watcher {} got revision {} unasked", w, rev));
      return;
    }
    event_revision[w] = rev;
    event_at[w] = now;
    if (--waiting == 0) rc->load.wake.notify();
  });
  ws.open(static_cast<std::size_t>(o.connections), watch_targets(*rc));
  ws.send(std::vector<std::string>(watchers, key), 1);
  co_await wait_for(rc->load, seconds(120), [&] { return ws.all_created(); });
  if (!ws.all_created())
    rc->load.errors.error("not_created", fmt::format("{} of {} watches created", ws.created(), watchers));

  put_connection puts(rc->load);
  puts.open(tcp_endpoint(rc->n.leader),
            [&](std::uint64_t, std::uint64_t rev, steady_clock::time_point, steady_clock::time_point now) {
              revision = rev;
              acked = now;
            });
  cpu_meter cpu(pid_of(*rc, rc->n.leader));
  token_bucket bucket(o.put_rate, o.put_rate);
  const auto start = steady_clock::now();
  std::uint64_t done = 0;
  for (; done < total && rc->load.errors.count == 0; ++done) {
    auto now = steady_clock::now();
    auto at = bucket.next_at(now);
    if (at > now) co_await sleep_until(at);
    bucket.take(steady_clock::now());
    revision = 0;
    waiting = watchers;
    sent = steady_clock::now();
    puts.put(done, key, value);
    auto settle = duration_cast<steady_clock::duration>(duration<double>(o.settle));
    if (!co_await wait_for(rc->load, settle, [&] { return revision != 0 && waiting == 0; })) {
      if (rc->load.errors.count == 0) {
        rc->load.errors.error("missing_event",
                              fmt::format("put {}: {} watchers had no event after {} s", done, waiting, o.settle));
      }
      break;
    }
    for (std::size_t w = 0; w < watchers; ++w) {
      if (event_revision[w] != revision) {
        rc->load.errors.error(
            "bad_answer", fmt::format("watcher {} got revision {}, the put took {}", w, event_revision[w], revision));
      }
      from_ack.add(std::max(event_at[w], acked) - acked);
      from_send.add(event_at[w] - sent);
    }
  }
  cpu.stop();
  ws.close();
  const auto elapsed = duration<double>(steady_clock::now() - start).count();

  report r;
  r.number("watchers", static_cast<double>(watchers));
  r.number("connections", o.connections);
  r.number("put_rate_limit", o.put_rate);
  r.number("puts", static_cast<double>(done));
  r.number("puts_per_sec", static_cast<double>(done) / elapsed);
  r.latency("put", puts.latency);
  r.latency("event_after_ack", from_ack);
  r.latency("event_after_send", from_send);
  report_cpu(r, cpu);
  r.human = fmt::format(
      "watch-latency  {} watchers ({} connections), {} puts at most {:.0f}/s: event after the put's answer "
      "(etcd's measure) {}; after its send {}; put p50 {} p99 {} ms; {}",
      watchers, o.connections, done, o.put_rate, spread(from_ack), spread(from_send), ms(puts.latency, 0.5),
      ms(puts.latency, 0.99), cpu_text(cpu));
  co_return r;
}

// Sequential gets of `get_key` and puts of `put_key` on a connection of their own, `n` of each;
// their latencies.
struct probe_result {
  latency_recorder get;
  latency_recorder put;
};
asio::awaitable<probe_result> probe(std::shared_ptr<run_context> rc, asio::ip::tcp::endpoint ep, int n,
                                    std::string get_key, std::string put_key) {
  probe_result out;
  bool answered = false;
  auto conn = std::make_shared<raw_connection>(rc->load);
  conn->open(ep, [&](const protocol::frame& f, steady_clock::time_point) {
    auto st = static_cast<protocol::status>(f.code);
    if (st != protocol::status::ok) {
      rc->load.errors.error(protocol::status_name(st), "probe failed: " + protocol::parse_error(f.body).message);
    }
    answered = true;
    rc->load.wake.notify();
  });
  for (int i = 0; i < 2 * n && rc->load.errors.count == 0; ++i) {
    answered = false;
    auto sent = steady_clock::now();
    if (i % 2 == 0) {
      protocol::request_get(conn->out(), 1, get_key);
    } else {
      protocol::request_set(conn->out(), 2, put_key, "probe");
    }
    conn->flush();
    co_await wait_for(rc->load, seconds(10), [&] { return answered; });
    if (!answered && rc->load.errors.count == 0)
      rc->load.errors.error("timed_out", "a probe had no answer within 10 s");
    (i % 2 == 0 ? out.get : out.put).add(steady_clock::now() - sent);
  }
  conn->close();
  co_return out;
}

// N idle watches on one node: its memory per watch, and whether it still answers promptly.
asio::awaitable<report> run_idle(std::shared_ptr<run_context> rc) {
  const auto& o = rc->o;
  const auto watchers = static_cast<std::size_t>(o.watchers);
  const auto connections = static_cast<std::size_t>(o.connections);
  const auto node = rc->n.leader;
  const auto pid = pid_of(*rc, node);
  const auto ep = tcp_endpoint(node);
  const auto probe_key = key_name("probe/", 0, o.key_size);
  const auto unwatched = key_name("probe/", 1, o.key_size);
  {  // the key the gets read
    put_connection fill(rc->load);
    fill.open(ep, {});
    fill.put(0, probe_key, std::string(static_cast<std::size_t>(o.value_size), 'p'));
    co_await wait_for(rc->load, seconds(10), [&] { return fill.in_flight() == 0; });
  }
  auto before = co_await probe(rc, ep, o.probes, probe_key, unwatched);
  const auto rss_start = rss_bytes(pid);

  std::vector<std::string> keys;
  for (std::size_t w = 0; w < watchers; ++w) keys.push_back(key_name("idle/", w, o.key_size));
  std::uint64_t events = 0;
  watch_set ws(rc->load,
               [&](std::size_t, std::uint64_t, std::uint32_t count, steady_clock::time_point) { events += count; });
  // Connecting only: there is no request for the node to answer yet.
  ws.open(connections, std::vector<asio::ip::tcp::endpoint>(1, ep));
  co_await sleep_until(steady_clock::now() + milliseconds(200));
  const auto rss_connected = rss_bytes(pid);
  cpu_meter cpu(pid);
  const auto create_start = steady_clock::now();
  ws.send(keys, 1);
  co_await wait_for(rc->load, seconds(600), [&] { return ws.all_created(); });
  const auto create_seconds = duration<double>(steady_clock::now() - create_start).count();
  cpu.stop();
  if (!ws.all_created())
    rc->load.errors.error("not_created", fmt::format("{} of {} watches created", ws.created(), watchers));
  co_await sleep_until(steady_clock::now() + milliseconds(200));
  const auto rss_watching = rss_bytes(pid);
  auto status = co_await kv::harness::status_of(node);
  const auto node_watches = status ? status->number("watches") : 0;
  if (node_watches != watchers) {
    rc->load.errors.error("bad_answer", fmt::format("the node reports {} watches, not {}", node_watches, watchers));
  }
  auto after = co_await probe(rc, ep, o.probes, probe_key, unwatched);
  if (events != 0) rc->load.errors.error("extra_event", fmt::format("{} events on keys never written", events), events);
  ws.close();

  const auto per_watch = watchers ? (static_cast<double>(rss_watching) - static_cast<double>(rss_connected)) /
                                        static_cast<double>(watchers)
                                  : 0.0;
  const auto per_connection =
      (static_cast<double>(rss_connected) - static_cast<double>(rss_start)) / static_cast<double>(connections);
  report r;
  r.number("watchers", static_cast<double>(watchers));
  r.number("connections", static_cast<double>(connections));
  r.number("rss_start_bytes", static_cast<double>(rss_start));
  r.number("rss_connected_bytes", static_cast<double>(rss_connected));
  r.number("rss_watching_bytes", static_cast<double>(rss_watching));
  r.number("bytes_per_watch", per_watch);
  r.number("bytes_per_connection", per_connection);
  r.number("watch_create_seconds", create_seconds, 3);
  r.number("watches_created_per_sec", static_cast<double>(watchers) / create_seconds);
  r.latency("get_before", before.get);
  r.latency("get_after", after.get);
  r.latency("put_before", before.put);
  r.latency("put_after", after.put);
  r.number("create_node_cpu_share", cpu.node_share, 2);
  r.human = fmt::format(
      "idle  {} watches over {} connections: node RSS {:.1f} MiB -> {:.1f} MiB with the connections -> {:.1f} MiB "
      "with the watches: {:.0f} bytes per watch ({:.0f} per connection); created in {:.2f} s ({:.0f}/s, node "
      "CPU {:.0f}%)\n"
      "       get p50/p99 {}/{} ms before, {}/{} ms after; put (unwatched key) p50/p99 {}/{} ms before, {}/{} ms "
      "after",
      watchers, connections, static_cast<double>(rss_start) / 1048576, static_cast<double>(rss_connected) / 1048576,
      static_cast<double>(rss_watching) / 1048576, per_watch, per_connection, create_seconds,
      static_cast<double>(watchers) / create_seconds, cpu.node_share * 100, ms(before.get, 0.5), ms(before.get, 0.99),
      ms(after.get, 0.5), ms(after.get, 0.99), ms(before.put, 0.5), ms(before.put, 0.99), ms(after.put, 0.5),
      ms(after.put, 0.99));
  co_return r;
}

// N watchers, each of its own key, under a steady stream of puts: does any fall behind?
asio::awaitable<report> run_active(std::shared_ptr<run_context> rc) {
  const auto& o = rc->o;
  const auto watchers = static_cast<std::size_t>(o.watchers);
  const auto total = static_cast<std::uint64_t>(o.put_rate * o.seconds);
  std::vector<std::string> keys;
  for (std::size_t w = 0; w < watchers; ++w) keys.push_back(key_name("active/", w, o.key_size));
  // Per key: the send times of its puts not yet reported, oldest first; puts sent and events
  // received; the revision of its last put answered.
  std::vector<std::deque<steady_clock::time_point>> unreported(watchers);
  std::vector<std::uint64_t> sent_to(watchers), received(watchers), last_put_revision(watchers),
      last_event_revision(watchers);
  std::uint64_t sent = 0, events = 0;
  bool sending_done = false;
  steady_clock::time_point last_event;
  latency_recorder put_to_event;
  watch_set ws(rc->load, [&](std::size_t w, std::uint64_t rev, std::uint32_t count, steady_clock::time_point now) {
    for (std::uint32_t e = 0; e < count; ++e) {
      if (unreported[w].empty()) {
        rc->load.errors.error("extra_event", fmt::format("watcher {} got an event of revision {} no put made", w, rev));
        break;
      }
      put_to_event.add(now - unreported[w].front());
      unreported[w].pop_front();
    }
    received[w] += count;
    last_event_revision[w] = rev;
    events += count;
    last_event = now;
    if (sending_done && events == sent) rc->load.wake.notify();
  });
  ws.open(static_cast<std::size_t>(o.connections), watch_targets(*rc));
  const auto create_start = steady_clock::now();
  ws.send(keys, 1);
  co_await wait_for(rc->load, seconds(300), [&] { return ws.all_created(); });
  const auto create_seconds = duration<double>(steady_clock::now() - create_start).count();
  if (!ws.all_created())
    rc->load.errors.error("not_created", fmt::format("{} of {} watches created", ws.created(), watchers));

  put_connection puts(rc->load);
  puts.open(tcp_endpoint(rc->n.leader),
            [&](std::uint64_t i, std::uint64_t rev, steady_clock::time_point, steady_clock::time_point) {
              auto& last = last_put_revision[i % watchers];
              last = std::max(last, rev);
            });
  cpu_meter cpu(pid_of(*rc, rc->n.leader));
  auto key_of = [&](std::uint64_t i) {
    const auto w = static_cast<std::size_t>(i % watchers);
    unreported[w].push_back(steady_clock::now());
    ++sent_to[w];
    ++sent;
    return std::string_view(keys[w]);
  };
  if (rc->load.errors.count == 0) {
    co_await paced_puts(rc->load, puts, total, static_cast<std::size_t>(o.put_clients),
                        token_bucket(o.put_rate, o.put_rate / 100), key_of,
                        std::string(static_cast<std::size_t>(o.value_size), 'a'));
  }
  sending_done = true;
  const auto put_end = puts.last_acked;
  co_await wait_for(rc->load, duration_cast<steady_clock::duration>(duration<double>(o.settle)),
                    [&] { return events >= sent; });
  cpu.stop();
  std::uint64_t behind = 0, missing = 0;
  for (std::size_t w = 0; w < watchers; ++w) {
    if (last_event_revision[w] < last_put_revision[w] || received[w] < sent_to[w]) {
      ++behind;
      missing += sent_to[w] - std::min(sent_to[w], received[w]);
    }
  }
  if (behind > 0 && rc->load.errors.count == 0) {
    rc->load.errors.error(
        "behind",
        fmt::format("{} watchers were {} events short {} s after the last put's answer", behind, missing, o.settle),
        behind);
  }
  ws.close();

  const auto put_seconds = duration<double>(put_end - puts.first_sent).count();
  const auto event_seconds = duration<double>(last_event - puts.first_sent).count();
  const auto drain_ms = duration<double, std::milli>(std::max(last_event, put_end) - put_end).count();
  report r;
  r.number("watchers", static_cast<double>(watchers));
  r.number("connections", o.connections);
  r.number("put_rate_limit", o.put_rate);
  r.number("put_clients", o.put_clients);
  r.number("watch_create_seconds", create_seconds, 3);
  r.number("puts", static_cast<double>(puts.acked));
  r.number("puts_per_sec", static_cast<double>(puts.acked) / put_seconds);
  r.latency("put", puts.latency);
  r.number("events", static_cast<double>(events));
  r.number("events_per_sec", static_cast<double>(events) / event_seconds);
  r.latency("put_to_event", put_to_event);
  r.number("drain_after_last_put_ms", drain_ms, 1);
  r.number("watchers_behind", static_cast<double>(behind));
  r.number("events_missing", static_cast<double>(missing));
  report_cpu(r, cpu);
  r.human = fmt::format(
      "active  {} watchers ({} connections; created in {:.2f} s), puts at {:.0f}/s for {} s ({} in flight at most): "
      "{:.0f} puts/s, put p50 {} p99 {} ms; {:.0f} events/s, put to event {}; {} watchers behind after {} s "
      "(last event {:.1f} ms after the last put's answer); {}",
      watchers, o.connections, create_seconds, o.put_rate, o.seconds, o.put_clients,
      static_cast<double>(puts.acked) / put_seconds, ms(puts.latency, 0.5), ms(puts.latency, 0.99),
      static_cast<double>(events) / event_seconds, spread(put_to_event), behind, o.settle, drain_ms, cpu_text(cpu));
  co_return r;
}

// ---- preparing the nodes -----------------------------------------------------------------------

asio::awaitable<void> wait_for_node(std::string endpoint) {
  auto until = steady_clock::now() + seconds(30);
  for (;;) {
    auto s = co_await kv::harness::status_of(endpoint);
    if (s) co_return;
    if (steady_clock::now() > until)
      throw std::runtime_error("the node at " + endpoint + " did not answer within 30 s");
    co_await sleep_until(steady_clock::now() + milliseconds(50));
  }
}

// Waits for every node and an agreed leader; learns each node's pid.
asio::awaitable<nodes> prepare(std::vector<std::string> endpoints) {
  nodes n;
  n.endpoints = endpoints;
  for (const auto& ep : endpoints) co_await wait_for_node(ep);
  auto leader = co_await kv::harness::await_leader(endpoints, milliseconds(30000));
  if (!leader) throw std::runtime_error("the nodes did not agree on a leader within 30 s");
  n.leader = leader->address;
  for (const auto& ep : endpoints) {
    auto s = co_await kv::harness::status_of(ep);
    if (s) n.pids[ep] = static_cast<pid_t>(s->number("pid"));
  }
  co_return n;
}

asio::awaitable<report> run_shape(std::shared_ptr<run_context> rc) {
  rc->n = co_await prepare(rc->o.endpoints);
  switch (rc->o.s) {
    case shape::watch:
      co_return co_await run_watch(rc);
    case shape::watch_latency:
      co_return co_await run_watch_latency(rc);
    case shape::idle:
      co_return co_await run_idle(rc);
    case shape::active:
      co_return co_await run_active(rc);
  }
  co_return report();
}

void print(const options& o, const nodes& n, const report& r, const kv::bench::error_counts& t) {
  if (o.json) {
    std::string by_kind, fields;
    for (const auto& [kind, count] : t.by_kind)
      by_kind += fmt::format("{}\"{}\":{}", by_kind.empty() ? "" : ",", kind, count);
    for (const auto& [name, value] : r.fields) fields += fmt::format(",\"{}\":{}", name, value);
    fmt::print("{{\"bench\":\"{}\",\"nodes\":{}{},\"errors\":{},\"errors_by_kind\":{{{}}}}}\n", to_string(o.s),
               n.endpoints.size(), fields, t.count, by_kind);
    return;
  }
  fmt::print("{}  [{} node{}; {} errors{}]\n", r.human, n.endpoints.size(), n.endpoints.size() == 1 ? "" : "s", t.count,
             t.count ? ": " + t.describe() + "; first: " + t.first_error : std::string());
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  auto sections_toml = fmt::format("[storage]\nfsync = \"{}\"\n[index]\nenabled = {}\n", o.fsync, o.index);
  auto started = kv::bench::start_nodes(o.start_node, o.start_cluster, sections_toml, o.endpoints);

  auto rc = std::make_shared<run_context>(o);
  report r;
  std::exception_ptr failure;
  asio::co_spawn(rc->ctx, run_shape(rc), [&](std::exception_ptr e, report result) {
    failure = e;
    r = std::move(result);
    rc->ctx.stop();  // the shape closed its connections: what is left of their reads need not run
  });
  rc->ctx.run();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      fmt::print(stderr, "watch_load: {}\n", e.what());
      return 3;
    }
  }
  print(o, rc->n, r, rc->load.errors);
  return rc->load.errors.count == 0 ? 0 : 3;
}
