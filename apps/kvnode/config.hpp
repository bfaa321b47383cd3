#pragma once
// kvnode's configuration: the TOML file, the command-line flags that override it, and the mapping
// of both onto the settings of each layer (declared with the layer: raft/replica/settings.hpp,
// raft/net/settings.hpp, io/server/settings.hpp, index/node/settings.hpp).
//
// The sections [storage], [server] and [index] are the settings of their layers as they are;
// [node], [cluster] and [log] are kvnode's own and map onto several layers (replication_of,
// peers_of). Durations and sizes carry their unit in the type or the name.

#include "index/node/settings.hpp"
#include "io/server/settings.hpp"
#include "raft/net/settings.hpp"
#include "raft/replica/settings.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kv {

// A bad configuration file or command line. what() names the file, line and key.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// [node] huge-pages: when the heap may use transparent huge pages (apps/kvnode/huge_pages.hpp).
enum class huge_pages_mode : std::uint8_t {
  recovery,  // while the node loads its snapshot and log at start; 4 KiB pages after that
  always,
  never,
};

struct node_config {
  std::uint64_t id = 1;
  std::filesystem::path data_dir = "./data";
  huge_pages_mode huge_pages = huge_pages_mode::recovery;
};

// One voter of the Raft cluster, as every member's configuration lists it.
struct member_config {
  std::uint64_t id = 0;
  std::string peer;    // host:port where it takes Raft traffic from the other members
  std::string client;  // host:port where it serves clients (where redirects send them)
};

struct cluster_config {
  // Every voter, this node included. Empty: a cluster of one (this node), with no peer port.
  std::vector<member_config> members;
  // The leader's heartbeat period; also the tick of the node's Raft clock.
  std::chrono::milliseconds heartbeat_interval{50};
  // A follower that hears no leader for a random time in [t, 2t) starts an election; a leader
  // that hears from no majority for t steps down. A multiple of heartbeat-interval.
  std::chrono::milliseconds election_timeout{300};
  // Largest total size of entries in one AppendEntries message.
  std::uint64_t max_append_bytes = 1ull << 20;
  // Entries sent to a follower and not yet acknowledged before the leader waits.
  std::uint64_t max_entries_in_flight = 4096;
  // Entries the leader keeps past its newest snapshot, so that a follower slightly behind
  // catches up by appends instead of a whole snapshot.
  std::uint64_t snapshot_catch_up_entries = 10'000;
  // Client sessions (exactly-once writes) the cluster remembers; opening one more drops the
  // least recently used. Part of the replicated state: keep it the same on every member.
  std::uint64_t max_sessions = 100'000;
  std::chrono::milliseconds lease_checkpoint_interval{std::chrono::minutes(5)};
  std::uint64_t lease_revokes_per_tick = 64;
  // Per-key TTLs: keys deleted per log entry at most, and how often the leader records the
  // cluster clock through the log while keys with a TTL exist.
  std::uint64_t expiry_batch = 1000;
  std::chrono::milliseconds clock_checkpoint_interval{std::chrono::seconds(1)};
  // Messages queued for a peer beyond this size are dropped (Raft retries them).
  std::uint64_t max_peer_queue_bytes = 64ull << 20;

  // This node's entry in `members`, or nullptr when it runs alone.
  const member_config* self(std::uint64_t id) const;
};

// The log levels [log] level and --log-level take, in the order of spdlog::level::level_enum;
// log lines spell their level the same way.
inline constexpr std::array<std::string_view, 7> log_level_names{"trace", "debug", "info", "warn",
                                                                 "error", "critical", "off"};

enum class log_format : std::uint8_t {
  text,  // 2026-12-02T20:15:01.123Z info  message
  json,  // one object per line: {"ts":"2026-12-02T20:15:01.123Z","level":"info","node":1,"msg":"message"}
};

struct log_config {
  std::string level = "info";  // one of log_level_names
  log_format format = log_format::text;
  std::string file;  // empty: standard error
};

struct config {
  node_config node;
  server_config server;
  storage_config storage;
  // How storage.auto-compaction-retention was written, for validate(): unset, or as a number of
  // revisions or a duration.
  enum class retention_form : std::uint8_t { unset, revisions, duration } compaction_retention = retention_form::unset;
  cluster_config cluster;
  index_config index;
  log_config log;
};

// Parses TOML text. `source` names it in errors (usually the file path). Unknown keys, wrong
// types and malformed values throw config_error naming source, line and key.
config parse_config(std::string_view toml_text, std::string_view source);

// Reads and parses a file; a missing or unreadable file is a config_error.
config load_config(const std::filesystem::path& path);

// The command line of kvnode.
struct command_line {
  std::optional<std::filesystem::path> config_path;
  std::optional<std::uint64_t> node_id;
  std::optional<std::filesystem::path> data_dir;
  std::optional<std::string> listen;
  std::optional<std::string> log_level;
  bool help = false;
  bool version = false;
};

// Parses argv (without argv[0]). Unknown flags or missing values throw config_error.
command_line parse_command_line(const std::vector<std::string_view>& args);

// The --help text.
std::string command_line_help();

// Applies flags over a parsed config and validates the result (throws config_error).
void apply_overrides(config& c, const command_line& cl);

// Checks cross-field constraints that no single key can (throws config_error).
void validate(const config& c);

// One line per section, every key with its effective value, for the startup log.
std::vector<std::string> describe(const config& c);

// Whether `level` is one of log_level_names.
bool is_log_level(std::string_view level);

// The replica's part in its cluster, as [node], [cluster] and (for a cluster of one, whose
// redirects name this node) [server] listen describe it.
replication_options replication_of(const config& c);

// The peer transport's settings. `c.cluster.members` must list this node (validate() checks it).
peer_config peers_of(const config& c);

}  // namespace kv
