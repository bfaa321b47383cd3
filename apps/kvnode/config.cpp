#include "apps/kvnode/config.hpp"

#include "core/base/address.hpp"
#include "core/base/units.hpp"
#include "io/server/pubsub.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <functional>
#include <sstream>

namespace kv {

namespace {

// Where a value came from, for error messages.
struct location {
  std::string_view source;
  std::string key;  // "section.key"
  std::uint32_t line = 0;
};

[[noreturn]] void fail(const location& at, const std::string& message) {
  throw config_error(fmt::format("{}:{}: {}: {}", at.source, at.line, at.key, message));
}

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    default: return "a date or time";
  }
}

std::string as_string(const toml::node& n, const location& at) {
  if (!n.is_string()) fail(at, "expected a string, got " + type_name(n));
  return *n.value<std::string>();
}

std::uint64_t as_positive_integer(const toml::node& n, const location& at) {
  if (!n.is_integer()) fail(at, "expected an integer, got " + type_name(n));
  auto v = *n.value<std::int64_t>();
  if (v <= 0) fail(at, fmt::format("expected a positive integer, got {}", v));
  return static_cast<std::uint64_t>(v);
}

std::uint64_t as_size(const toml::node& n, const location& at) {
  if (!n.is_string()) {
    fail(at, "expected a size with a unit as a string, such as \"64MiB\", got " + type_name(n));
  }
  auto text = as_string(n, at);
  auto v = parse_size(text);
  if (!v) fail(at, fmt::format("cannot parse size \"{}\" (use {}, e.g. \"64MiB\")", text, size_unit_list()));
  if (*v == 0) fail(at, "size must be greater than zero");
  return *v;
}

std::chrono::nanoseconds as_any_duration(const toml::node& n, const location& at) {
  if (!n.is_string()) {
    fail(at, "expected a duration with a unit as a string, such as \"500ms\", got " + type_name(n));
  }
  auto text = as_string(n, at);
  auto v = parse_duration(text);
  if (!v) fail(at, fmt::format("cannot parse duration \"{}\" (use {}, e.g. \"500ms\")", text, duration_unit_list()));
  return *v;
}

std::chrono::milliseconds as_duration(const toml::node& n, const location& at) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(as_any_duration(n, at));
  if (ms.count() <= 0) fail(at, "duration must be at least 1ms");
  return ms;
}

member_config as_member(const toml::node& n, const location& at);

bool as_bool(const toml::node& n, const location& at) {
  if (!n.is_boolean()) fail(at, "expected true or false, got " + type_name(n));
  return *n.value<bool>();
}

std::uint64_t as_integer_in(const toml::node& n, const location& at, std::uint64_t lo, std::uint64_t hi) {
  if (!n.is_integer()) fail(at, "expected an integer, got " + type_name(n));
  auto v = *n.value<std::int64_t>();
  if (v < 0 || static_cast<std::uint64_t>(v) < lo || static_cast<std::uint64_t>(v) > hi) {
    fail(at, fmt::format("expected an integer from {} to {}, got {}", lo, hi, v));
  }
  return static_cast<std::uint64_t>(v);
}

// The names the configuration gives each value of a setting with named values, in the order
// its errors list them; reading (as_choice) and describe() both go through them.
template <typename E, std::size_t N>
using value_names = std::array<std::pair<std::string_view, E>, N>;

constexpr value_names<huge_pages_mode, 3> huge_pages_names{
    {{"recovery", huge_pages_mode::recovery}, {"always", huge_pages_mode::always}, {"never", huge_pages_mode::never}}};
constexpr value_names<send_offload_mode, 2> send_offload_names{
    {{"when-busy", send_offload_mode::when_busy}, {"always", send_offload_mode::always}}};
constexpr value_names<fsync_policy, 2> fsync_names{{{"always", fsync_policy::always}, {"never", fsync_policy::never}}};
constexpr value_names<wal_io, 3> wal_io_names{
    {{"auto", wal_io::automatic}, {"direct", wal_io::direct}, {"buffered", wal_io::buffered}}};
constexpr value_names<snapshot_capture, 3> snapshot_capture_names{{{"thread", snapshot_capture::thread},
                                                                   {"event-loop", snapshot_capture::event_loop},
                                                                   {"fork", snapshot_capture::fork}}};
constexpr value_names<compaction_mode, 3> compaction_mode_names{
    {{"revision", compaction_mode::revision}, {"periodic", compaction_mode::periodic}, {"off", compaction_mode::off}}};
constexpr value_names<log_format, 2> log_format_names{{{"text", log_format::text}, {"json", log_format::json}}};

// The value a string names; the error lists the names in order.
template <typename E, std::size_t N>
E as_choice(const toml::node& n, const location& at, const value_names<E, N>& names) {
  auto text = as_string(n, at);
  for (const auto& [name, value] : names) {
    if (text == name) return value;
  }
  std::string list;
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) list += i + 1 == N ? " or " : ", ";
    list += fmt::format("\"{}\"", names[i].first);
  }
  fail(at, fmt::format("expected {}, got \"{}\"", list, text));
}

// The name of `value`.
template <typename E, std::size_t N>
std::string_view name_of(const value_names<E, N>& names, E value) {
  for (const auto& [name, v] : names) {
    if (v == value) return name;
  }
  return "?";
}

std::vector<std::string> as_string_list(const toml::node& n, const location& at) {
  const auto* list = n.as_array();
  if (!list) fail(at, "expected an array of strings, got " + type_name(n));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < list->size(); ++i) out.push_back(as_string(*list->get(i), at));
  return out;
}

// A key of a section: how to store its value.
struct key_spec {
  std::string_view name;
  std::function<void(config&, const toml::node&, const location&)> set;
};

struct section_spec {
  std::string_view name;
  std::vector<key_spec> keys;
};

const std::vector<section_spec>& schema() {
  static const std::vector<section_spec> sections = {
      {"node",
       {
           {"id", [](config& c, const toml::node& n, const location& at) { c.node.id = as_positive_integer(n, at); }},
           {"data-dir",
            [](config& c, const toml::node& n, const location& at) {
              auto dir = as_string(n, at);
              if (dir.empty()) fail(at, "must not be empty");
              c.node.data_dir = dir;
            }},
           {"huge-pages",
            [](config& c, const toml::node& n, const location& at) {
              c.node.huge_pages = as_choice(n, at, huge_pages_names);
            }},
       }},
      {"server",
       {
           {"listen",
            [](config& c, const toml::node& n, const location& at) {
              auto text = as_string(n, at);
              if (!parse_host_port(text)) fail(at, fmt::format("expected \"host:port\", got \"{}\"", text));
              c.server.listen = text;
            }},
           {"max-connections",
            [](config& c, const toml::node& n, const location& at) {
              c.server.max_connections = as_positive_integer(n, at);
            }},
           {"send-threads",
            [](config& c, const toml::node& n, const location& at) {
              c.server.send_threads = static_cast<unsigned>(as_integer_in(n, at, 0, 256));
            }},
           {"send-offload",
            [](config& c, const toml::node& n, const location& at) {
              c.server.send_offload = as_choice(n, at, send_offload_names);
            }},
           {"max-frame-size",
            [](config& c, const toml::node& n, const location& at) { c.server.max_frame_bytes = as_size(n, at); }},
           {"max-pipeline",
            [](config& c, const toml::node& n, const location& at) { c.server.max_pipeline = as_positive_integer(n, at); }},
           {"idle-timeout",
            [](config& c, const toml::node& n, const location& at) { c.server.idle_timeout = as_duration(n, at); }},
           {"shutdown-timeout",
            [](config& c, const toml::node& n, const location& at) { c.server.shutdown_timeout = as_duration(n, at); }},
           {"max-watches",
            [](config& c, const toml::node& n, const location& at) { c.server.max_watches = as_positive_integer(n, at); }},
           {"watch-progress-interval",
            [](config& c, const toml::node& n, const location& at) {
              c.server.watch_progress_interval = as_duration(n, at);
              if (c.server.watch_progress_interval < std::chrono::milliseconds(10)) fail(at, "must be at least 10ms");
            }},
       }},
      {"resp",
       {
           {"listen",
            [](config& c, const toml::node& n, const location& at) {
              auto text = as_string(n, at);
              if (!text.empty() && !parse_host_port(text)) {
                fail(at, fmt::format("expected \"host:port\", or \"\" for no Redis protocol listener, got \"{}\"", text));
              }
              c.server.resp_listen = text;
            }},
           {"notify-keyspace-events",
            [](config& c, const toml::node& n, const location& at) {
              auto text = as_string(n, at);
              if (!keyspace_events::parse(text)) {
                fail(at, fmt::format("expected Redis's event classes (characters of \"Ag$lshzxeKEtmdn\"), got \"{}\"",
                                     text));
              }
              c.server.notify_keyspace_events = text;
            }},
       }},
      {"storage",
       {
           {"fsync",
            [](config& c, const toml::node& n, const location& at) {
              c.storage.fsync = as_choice(n, at, fsync_names);
            }},
           {"wal-io",
            [](config& c, const toml::node& n, const location& at) {
              c.storage.wal_io_mode = as_choice(n, at, wal_io_names);
            }},
           {"segment-size",
            [](config& c, const toml::node& n, const location& at) { c.storage.segment_bytes = as_size(n, at); }},
           {"max-batch-size",
            [](config& c, const toml::node& n, const location& at) { c.storage.max_batch_bytes = as_size(n, at); }},
           {"syncs-in-flight",
            [](config& c, const toml::node& n, const location& at) {
              c.storage.syncs_in_flight = as_positive_integer(n, at);
              if (c.storage.syncs_in_flight > 64) fail(at, "at most 64");
            }},
           {"group-commit-delay",
            [](config& c, const toml::node& n, const location& at) {
              auto d = std::chrono::duration_cast<std::chrono::microseconds>(as_any_duration(n, at));
              if (d > std::chrono::milliseconds(100)) fail(at, "at most 100ms");
              c.storage.group_commit_delay = d;
            }},
           {"snapshot-log-size",
            [](config& c, const toml::node& n, const location& at) { c.storage.snapshot_log_bytes = as_size(n, at); }},
           {"snapshot-log-percent",
            [](config& c, const toml::node& n, const location& at) {
              c.storage.snapshot_log_percent = as_integer_in(n, at, 0, 10'000);
            }},
           {"snapshot-entries",
            [](config& c, const toml::node& n, const location& at) {
              c.storage.snapshot_entries = as_positive_integer(n, at);
            }},
           {"snapshot-capture",
            [](config& c, const toml::node& n, const location& at) {
              c.storage.snapshot_capture_mode = as_choice(n, at, snapshot_capture_names);
            }},
           {"max-key-size",
            [](config& c, const toml::node& n, const location& at) { c.storage.max_key_bytes = as_size(n, at); }},
           {"max-value-size",
            [](config& c, const toml::node& n, const location& at) { c.storage.max_value_bytes = as_size(n, at); }},
           {"max-txn-ops",
            [](config& c, const toml::node& n, const location& at) {
              c.storage.max_txn_ops = as_integer_in(n, at, 1, 10'000);
            }},
           {"auto-compaction-mode",
            [](config& c, const toml::node& n, const location& at) {
              c.storage.compaction.mode = as_choice(n, at, compaction_mode_names);
            }},
           {"auto-compaction-retention",
            [](config& c, const toml::node& n, const location& at) {
              // A number of revisions (an integer) or a duration (a string with a unit), as the
              // mode takes; which one the mode needs is checked once the whole file is read.
              if (n.is_integer()) {
                c.storage.compaction.retention_revisions = as_positive_integer(n, at);
                c.compaction_retention = config::retention_form::revisions;
              } else {
                c.storage.compaction.retention_period = as_duration(n, at);
                if (c.storage.compaction.retention_period.count() <= 0) fail(at, "must be above 0");
                c.compaction_retention = config::retention_form::duration;
              }
            }},
       }},
      {"cluster",
       {
           {"members",
            [](config& c, const toml::node& n, const location& at) {
              const auto* list = n.as_array();
              if (list == nullptr) fail(at, "expected an array of members, got " + type_name(n));
              c.cluster.members.clear();
              for (std::size_t i = 0; i < list->size(); ++i) {
                location item_at{at.source, fmt::format("{}[{}]", at.key, i), at.line};
                c.cluster.members.push_back(as_member(*list->get(i), item_at));
              }
            }},
           {"heartbeat-interval",
            [](config& c, const toml::node& n, const location& at) {
              c.cluster.heartbeat_interval = as_duration(n, at);
            }},
           {"election-timeout",
            [](config& c, const toml::node& n, const location& at) { c.cluster.election_timeout = as_duration(n, at); }},
           {"max-append-size",
            [](config& c, const toml::node& n, const location& at) { c.cluster.max_append_bytes = as_size(n, at); }},
           {"max-entries-in-flight",
            [](config& c, const toml::node& n, const location& at) {
              c.cluster.max_entries_in_flight = as_positive_integer(n, at);
            }},
           {"snapshot-catch-up-entries",
            [](config& c, const toml::node& n, const location& at) {
              c.cluster.snapshot_catch_up_entries = as_positive_integer(n, at);
            }},
           {"max-sessions",
            [](config& c, const toml::node& n, const location& at) { c.cluster.max_sessions = as_positive_integer(n, at); }},
           {"lease-checkpoint-interval",
            [](config& c, const toml::node& n, const location& at) {
              c.cluster.lease_checkpoint_interval = as_duration(n, at);
              if (c.cluster.lease_checkpoint_interval < std::chrono::seconds(1)) fail(at, "must be at least 1s");
            }},
           {"lease-revokes-per-tick",
            [](config& c, const toml::node& n, const location& at) {
              c.cluster.lease_revokes_per_tick = as_positive_integer(n, at);
            }},
           {"expiry-batch",
            [](config& c, const toml::node& n, const location& at) {
              c.cluster.expiry_batch = as_positive_integer(n, at);
              if (c.cluster.expiry_batch > 100'000) fail(at, "must be at most 100000 (keys per log entry)");
            }},
           {"clock-checkpoint-interval",
            [](config& c, const toml::node& n, const location& at) {
              c.cluster.clock_checkpoint_interval = as_duration(n, at);
              if (c.cluster.clock_checkpoint_interval < std::chrono::milliseconds(100)) {
                fail(at, "must be at least 100ms");
              }
            }},
           {"max-peer-queue-size",
            [](config& c, const toml::node& n, const location& at) {
              c.cluster.max_peer_queue_bytes = as_size(n, at);
            }},
       }},
      {"index",
       {
           {"enabled", [](config& c, const toml::node& n, const location& at) { c.index.enabled = as_bool(n, at); }},
           {"ngram-size",
            [](config& c, const toml::node& n, const location& at) {
              c.index.ngram_size = static_cast<std::uint32_t>(as_integer_in(n, at, 1, 8));
            }},
           {"stop-words",
            [](config& c, const toml::node& n, const location& at) { c.index.stop_words = as_string_list(n, at); }},
           {"stemming", [](config& c, const toml::node& n, const location& at) { c.index.stemming = as_string(n, at); }},
           {"remove-diacritics",
            [](config& c, const toml::node& n, const location& at) { c.index.remove_diacritics = as_bool(n, at); }},
           {"max-results",
            [](config& c, const toml::node& n, const location& at) {
              c.index.max_results = static_cast<std::uint32_t>(as_integer_in(n, at, 1, 1'000'000));
            }},
           {"max-query-terms",
            [](config& c, const toml::node& n, const location& at) {
              c.index.max_query_terms = static_cast<std::uint32_t>(as_integer_in(n, at, 1, 65'535));
            }},
           {"server-thread-postings",
            [](config& c, const toml::node& n, const location& at) {
              c.index.server_thread_postings = static_cast<std::uint64_t>(as_integer_in(n, at, 0, 10'000'000));
            }},
           {"query-threads",
            [](config& c, const toml::node& n, const location& at) {
              c.index.query_threads = static_cast<std::uint32_t>(as_integer_in(n, at, 0, 256));
            }},
           {"max-postings-scanned",
            [](config& c, const toml::node& n, const location& at) {
              c.index.max_postings_scanned = as_positive_integer(n, at);
            }},
           {"wait-timeout",
            [](config& c, const toml::node& n, const location& at) { c.index.wait_timeout = as_duration(n, at); }},
           {"save-interval",
            [](config& c, const toml::node& n, const location& at) { c.index.save_interval_bytes = as_size(n, at); }},
       }},
      {"log",
       {
           {"level",
            [](config& c, const toml::node& n, const location& at) {
              auto text = as_string(n, at);
              if (!is_log_level(text)) {
                fail(at, fmt::format("unknown log level \"{}\" (use trace, debug, info, warn, error, critical or off)",
                                     text));
              }
              c.log.level = text;
            }},
           {"format",
            [](config& c, const toml::node& n, const location& at) {
              c.log.format = as_choice(n, at, log_format_names);
            }},
           {"file", [](config& c, const toml::node& n, const location& at) { c.log.file = as_string(n, at); }},
       }},
  };
  return sections;
}

void validate_cluster(const config& c);

member_config as_member(const toml::node& n, const location& at) {
  const auto* t = n.as_table();
  if (t == nullptr) fail(at, "expected a table such as { id = 2, peer = \"127.0.0.1:7382\", client = \"127.0.0.1:7381\" }");
  member_config m;
  for (auto&& [key, value] : *t) {
    location key_at{at.source, at.key + "." + std::string(key.str()), key.source().begin.line};
    if (key.str() == "id") {
      m.id = as_positive_integer(value, key_at);
    } else if (key.str() == "peer" || key.str() == "client") {
      auto text = as_string(value, key_at);
      if (!parse_host_port(text)) fail(key_at, fmt::format("expected \"host:port\", got \"{}\"", text));
      (key.str() == "peer" ? m.peer : m.client) = text;
    } else {
      fail(key_at, "unknown key (known: id, peer, client)");
    }
  }
  if (m.id == 0 || m.peer.empty() || m.client.empty()) fail(at, "each member needs id, peer and client");
  return m;
}

std::string known_names(const auto& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + std::string(i.name);
  return out;
}

}  // namespace

bool is_log_level(std::string_view level) {
  return std::find(log_level_names.begin(), log_level_names.end(), level) != log_level_names.end();
}

config parse_config(std::string_view toml_text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    throw config_error(fmt::format("{}:{}: invalid TOML: {}", source, e.source().begin.line, e.description()));
  }
  config c;
  for (auto&& [section_key, section_node] : root) {
    location at{source, std::string(section_key.str()), section_key.source().begin.line};
    const auto& sections = schema();
    auto section = std::find_if(sections.begin(), sections.end(),
                                [&](const section_spec& s) { return s.name == section_key.str(); });
    if (section == sections.end()) fail(at, "unknown section (known: " + known_names(sections) + ")");
    const auto* table = section_node.as_table();
    if (table == nullptr) fail(at, "expected a [" + at.key + "] table, got " + type_name(section_node));
    for (auto&& [key, value] : *table) {
      location key_at{source, at.key + "." + std::string(key.str()), key.source().begin.line};
      auto spec = std::find_if(section->keys.begin(), section->keys.end(),
                               [&](const key_spec& k) { return k.name == key.str(); });
      if (spec == section->keys.end()) fail(key_at, "unknown key (known in [" + at.key + "]: " + known_names(section->keys) + ")");
      spec->set(c, value, key_at);
    }
  }
  validate(c);
  return c;
}

config load_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error(fmt::format("{}: cannot read configuration file", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path.string());
}

void validate(const config& c) {
  const auto& s = c.storage;
  const auto& srv = c.server;
  using form = config::retention_form;
  if (s.compaction.mode == compaction_mode::revision && c.compaction_retention == form::duration) {
    throw config_error("storage.auto-compaction-retention: the \"revision\" mode keeps a number of revisions "
                       "(an integer such as 10000), not a duration");
  }
  if (s.compaction.mode == compaction_mode::periodic && c.compaction_retention == form::revisions) {
    throw config_error("storage.auto-compaction-retention: the \"periodic\" mode keeps a duration of history "
                       "(a string such as \"1h\"), not a number of revisions");
  }
  if (srv.max_frame_bytes > (1ull << 30)) {
    throw config_error(fmt::format("server.max-frame-size: {} is above the maximum of 1GiB", format_size(srv.max_frame_bytes)));
  }
  if (srv.max_frame_bytes < s.max_key_bytes + s.max_value_bytes + 64) {
    throw config_error(fmt::format("server.max-frame-size ({}) must hold the largest key and value "
                                   "(storage.max-key-size + storage.max-value-size + 64B = {})",
                                   format_size(srv.max_frame_bytes),
                                   format_size(s.max_key_bytes + s.max_value_bytes + 64)));
  }
  if (s.segment_bytes < (64u << 10)) {
    throw config_error(fmt::format("storage.segment-size: {} is below the minimum of 64KiB", format_size(s.segment_bytes)));
  }
  if (s.max_batch_bytes > s.segment_bytes) {
    throw config_error(fmt::format("storage.max-batch-size ({}) must not exceed storage.segment-size ({})",
                                   format_size(s.max_batch_bytes), format_size(s.segment_bytes)));
  }
  if (s.max_key_bytes > (64u << 10)) {
    throw config_error(fmt::format("storage.max-key-size: {} is above the maximum of 64KiB", format_size(s.max_key_bytes)));
  }
  if (s.max_value_bytes > (64u << 20)) {
    throw config_error(
        fmt::format("storage.max-value-size: {} is above the maximum of 64MiB", format_size(s.max_value_bytes)));
  }
  validate_cluster(c);
}

const member_config* cluster_config::self(std::uint64_t id) const {
  for (const auto& m : members) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

namespace {

void validate_cluster(const config& c) {
  const auto& cl = c.cluster;
  if (cl.election_timeout < 2 * cl.heartbeat_interval) {
    throw config_error(fmt::format("cluster.election-timeout ({}) must be at least twice cluster.heartbeat-interval ({})",
                                   format_duration(cl.election_timeout), format_duration(cl.heartbeat_interval)));
  }
  if (cl.members.empty()) return;
  if (cl.self(c.node.id) == nullptr) {
    throw config_error(fmt::format("cluster.members does not list this node (node.id = {}); list every voter, this "
                                   "node included",
                                   c.node.id));
  }
  for (std::size_t i = 0; i < cl.members.size(); ++i) {
    for (std::size_t j = i + 1; j < cl.members.size(); ++j) {
      const auto& a = cl.members[i];
      const auto& b = cl.members[j];
      if (a.id == b.id) throw config_error(fmt::format("cluster.members: id {} appears twice", a.id));
      if (a.peer == b.peer) throw config_error(fmt::format("cluster.members: peer address {} appears twice", a.peer));
      if (a.client == b.client) {
        throw config_error(fmt::format("cluster.members: client address {} appears twice", a.client));
      }
    }
  }
}

}  // namespace

command_line parse_command_line(const std::vector<std::string_view>& args) {
  command_line cl;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string_view value;
    bool has_inline_value = false;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_inline_value = true;
    }
    auto take_value = [&]() -> std::string_view {
      if (has_inline_value) return value;
      if (i + 1 >= args.size()) throw config_error(fmt::format("option {} needs a value", arg));
      return args[++i];
    };
    if (arg == "-h" || arg == "--help") {
      cl.help = true;
    } else if (arg == "--version") {
      cl.version = true;
    } else if (arg == "-c" || arg == "--config") {
      cl.config_path = std::filesystem::path(take_value());
    } else if (arg == "--node-id") {
      auto v = take_value();
      std::uint64_t id = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), id);
      if (ec != std::errc{} || end != v.data() + v.size() || id == 0) {
        throw config_error(fmt::format("--node-id: expected a positive integer, got \"{}\"", v));
      }
      cl.node_id = id;
    } else if (arg == "--data-dir") {
      auto v = take_value();
      if (v.empty()) throw config_error("--data-dir: must not be empty");
      cl.data_dir = std::filesystem::path(v);
    } else if (arg == "--listen") {
      auto v = take_value();
      if (!parse_host_port(v)) throw config_error(fmt::format("--listen: expected \"host:port\", got \"{}\"", v));
      cl.listen = std::string(v);
    } else if (arg == "--log-level") {
      auto v = take_value();
      if (!is_log_level(v)) {
        throw config_error(
            fmt::format("--log-level: unknown log level \"{}\" (use trace, debug, info, warn, error, critical or off)", v));
      }
      cl.log_level = std::string(v);
    } else {
      throw config_error(fmt::format("unknown option \"{}\" (see --help)", args[i]));
    }
  }
  return cl;
}

std::string command_line_help() {
  return R"(Usage: kvnode [options]

Runs one kvnode server. Settings come from the configuration file (see kv.toml for every key
and its default); the flags below override the file.

Options:
  -c, --config PATH     configuration file (TOML); without it, built-in defaults are used
      --node-id N       node id, a positive integer              [node] id
      --data-dir DIR    data directory (WAL, snapshots, LOCK)    [node] data-dir
      --listen H:P      client address, e.g. 127.0.0.1:7379      [server] listen
      --log-level L     trace, debug, info, warn, error, critical or off   [log] level
  -h, --help            print this help and exit
      --version         print the version and exit

Signals: SIGINT or SIGTERM shut the node down cleanly; SIGHUP reopens the log file (for log
rotation); SIGPIPE is ignored.

Exit status: 0 after a clean shutdown, 2 for a bad configuration or command line,
1 when the node cannot start (for example a corrupt or locked data directory),
74 after a fatal storage error (a failed write or fsync).
)";
}

void apply_overrides(config& c, const command_line& cl) {
  if (cl.node_id) c.node.id = *cl.node_id;
  if (cl.data_dir) c.node.data_dir = *cl.data_dir;
  if (cl.listen) c.server.listen = *cl.listen;
  if (cl.log_level) c.log.level = *cl.log_level;
  validate(c);
}

namespace {

std::string describe_cluster(const config& c) {
  const auto& cl = c.cluster;
  std::string members;
  for (const auto& m : cl.members) {
    members += fmt::format("{}{{id={} peer={} client={}}}", members.empty() ? "" : ",", m.id, m.peer, m.client);
  }
  return fmt::format("[cluster] members=[{}] heartbeat-interval={} election-timeout={} max-append-size={} "
                     "max-entries-in-flight={} snapshot-catch-up-entries={} max-sessions={} max-peer-queue-size={} "
                     "lease-checkpoint-interval={} lease-revokes-per-tick={} expiry-batch={} "
                     "clock-checkpoint-interval={}",
                     members.empty() ? "(this node alone)" : members, format_duration(cl.heartbeat_interval),
                     format_duration(cl.election_timeout), format_size(cl.max_append_bytes), cl.max_entries_in_flight,
                     cl.snapshot_catch_up_entries, cl.max_sessions, format_size(cl.max_peer_queue_bytes),
                     format_duration(cl.lease_checkpoint_interval), cl.lease_revokes_per_tick, cl.expiry_batch,
                     format_duration(cl.clock_checkpoint_interval));
}

}  // namespace

std::vector<std::string> describe(const config& c) {
  const auto& s = c.storage;
  return {
      fmt::format("[node] id={} data-dir={} huge-pages={}", c.node.id, c.node.data_dir.string(),
                  name_of(huge_pages_names, c.node.huge_pages)),
      fmt::format("[server] listen={} max-connections={} send-threads={} send-offload={} max-frame-size={} "
                  "max-pipeline={} idle-timeout={} shutdown-timeout={} max-watches={} watch-progress-interval={}",
                  c.server.listen, c.server.max_connections, c.server.send_threads,
                  name_of(send_offload_names, c.server.send_offload),
                  format_size(c.server.max_frame_bytes),
                  c.server.max_pipeline, format_duration(c.server.idle_timeout),
                  format_duration(c.server.shutdown_timeout), c.server.max_watches,
                  format_duration(c.server.watch_progress_interval)),
      fmt::format("[storage] fsync={} wal-io={} segment-size={} max-batch-size={} syncs-in-flight={} group-commit-delay={} "
                  "snapshot-log-size={} snapshot-log-percent={} snapshot-entries={} snapshot-capture={} "
                  "max-key-size={} max-value-size={} max-txn-ops={} auto-compaction={}",
                  name_of(fsync_names, s.fsync),
                  name_of(wal_io_names, s.wal_io_mode), format_size(s.segment_bytes),
                  format_size(s.max_batch_bytes), s.syncs_in_flight, format_duration(s.group_commit_delay),
                  format_size(s.snapshot_log_bytes), s.snapshot_log_percent, s.snapshot_entries,
                  name_of(snapshot_capture_names, s.snapshot_capture_mode),
                  format_size(s.max_key_bytes), format_size(s.max_value_bytes), s.max_txn_ops,
                  s.compaction.mode == compaction_mode::off        ? std::string("off")
                  : s.compaction.mode == compaction_mode::revision ? fmt::format("revision, keep {} revisions",
                                                                                 s.compaction.retention_revisions)
                                                                   : fmt::format("periodic, keep {}",
                                                                                 format_duration(
                                                                                     s.compaction.retention_period))),
      describe_cluster(c),
      fmt::format("[index] enabled={} ngram-size={} stop-words={} stemming={} remove-diacritics={} max-results={} max-query-terms={} "
                  "max-postings-scanned={} server-thread-postings={} query-threads={} wait-timeout={} save-interval={}",
                  c.index.enabled, c.index.ngram_size,
                  c.index.stop_words ? fmt::format("{} words", c.index.stop_words->size()) : "(default English)",
                  c.index.stemming.empty() ? "(none)" : c.index.stemming, c.index.remove_diacritics, c.index.max_results,
                  c.index.max_query_terms, c.index.max_postings_scanned, c.index.server_thread_postings,
                  c.index.query_threads == 0 ? std::string("auto") : std::to_string(c.index.query_threads),
                  format_duration(c.index.wait_timeout),
                  format_size(c.index.save_interval_bytes)),
      fmt::format("[log] level={} format={} file={}", c.log.level,
                  name_of(log_format_names, c.log.format), c.log.file.empty() ? "(stderr)" : c.log.file),
      fmt::format("[resp] listen={} notify-keyspace-events=\"{}\"",
                  c.server.resp_listen.empty() ? "(none)" : c.server.resp_listen, c.server.notify_keyspace_events),
  };
}

replication_options replication_of(const config& c) {
  replication_options r;
  r.id = c.node.id;
  for (const auto& m : c.cluster.members) {
    r.voters.push_back(m.id);
    r.client_addresses[m.id] = m.client;
  }
  if (r.voters.empty()) r.client_addresses[r.id] = c.server.listen;
  r.tick = c.cluster.heartbeat_interval;
  r.election_ticks = static_cast<int>(c.cluster.election_timeout / c.cluster.heartbeat_interval);
  r.max_append_bytes = c.cluster.max_append_bytes;
  r.max_entries_in_flight = c.cluster.max_entries_in_flight;
  r.snapshot_catch_up_entries = c.cluster.snapshot_catch_up_entries;
  r.max_sessions = c.cluster.max_sessions;
  r.lease_checkpoint_interval = c.cluster.lease_checkpoint_interval;
  r.lease_revokes_per_tick = c.cluster.lease_revokes_per_tick;
  r.expiry_batch = c.cluster.expiry_batch;
  r.clock_checkpoint_interval = c.cluster.clock_checkpoint_interval;
  return r;
}

peer_config peers_of(const config& c) {
  peer_config p;
  p.id = c.node.id;
  for (const auto& m : c.cluster.members) {
    if (m.id == c.node.id) {
      p.listen = m.peer;
    } else {
      p.peers[m.id] = m.peer;
    }
  }
  p.election_timeout = c.cluster.election_timeout;
  p.max_append_bytes = c.cluster.max_append_bytes;
  p.max_queue_bytes = c.cluster.max_peer_queue_bytes;
  return p;
}

}  // namespace kv
