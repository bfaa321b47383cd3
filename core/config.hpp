#pragma once
// kvnode's configuration: the TOML file, its defaults, and the command-line flags that override it.
//
// Every default lives here. Durations and sizes carry their unit in the type or the name.

#include "core/base/address.hpp"

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

enum class fsync_policy : std::uint8_t {
  always,  // every acknowledged write is on disk (fdatasync); the only durable mode
  never,   // writes are acknowledged once handed to the kernel; loses data on power failure
};

struct node_config {
  std::uint64_t id = 1;
  std::filesystem::path data_dir = "./data";
};

struct server_config {
  std::string listen = "127.0.0.1:7379";
  std::uint64_t max_connections = 4096;
  // Largest request frame; a larger length prefix is refused before the body is read.
  std::uint64_t max_frame_bytes = 16ull << 20;
  // Requests one connection may have in flight before the node stops reading from it.
  std::uint64_t max_pipeline = 1024;
  // A connection with nothing in flight that sends nothing for this long is closed.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  // How long a graceful shutdown waits for in-flight requests before closing connections.
  std::chrono::milliseconds shutdown_timeout{std::chrono::seconds(10)};
};

struct storage_config {
  fsync_policy fsync = fsync_policy::always;
  // Size each WAL segment file is preallocated to; a new segment starts when it is full.
  std::uint64_t segment_bytes = 64ull << 20;
  // A group-commit batch stops growing at this size; the next batch takes the rest.
  std::uint64_t max_batch_bytes = 8ull << 20;
  // Batches written and being fdatasynced at once (1: each sync waits for the previous one).
  std::uint64_t syncs_in_flight = 1;
  // When the disk is free but fewer writes are queued than recent batches held, wait up to this
  // long for the rest before syncing (0: sync at once).
  std::chrono::microseconds group_commit_delay{300};
  // A snapshot is taken once the log written since the last one exceeds either bound. The byte
  // bound grows with the state: it is the larger of snapshot_log_bytes and snapshot_log_percent
  // of the last snapshot's size (0: snapshot_log_bytes alone), so the snapshots of a growing
  // store write O(n) bytes in all rather than O(n^2), and a replay at recovery stays within a
  // fixed multiple of the snapshot's load (Redis's auto-aof-rewrite-percentage, in effect).
  std::uint64_t snapshot_log_bytes = 64ull << 20;
  std::uint64_t snapshot_log_percent = 100;
  std::uint64_t snapshot_entries = 500'000;
  // Largest key and value the store accepts.
  std::uint64_t max_key_bytes = 4ull << 10;
  std::uint64_t max_value_bytes = 1ull << 20;
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

// The search index (index/): full-text and n-gram similarity over values.
struct index_config {
  bool enabled = true;
  std::uint32_t ngram_size = 3;  // n of the character n-grams for similarity (1..8)
  // Words left out of the full-text index; nullopt: a short English list
  // (search::default_stop_words()); an empty list: none.
  std::optional<std::vector<std::string>> stop_words;
  std::string stemming;  // a Snowball language ("english", ...), or "" for none
  bool remove_diacritics = true;  // "naive" finds "naïve" (Latin letters only)
  // Per query: hits returned (limit + offset, or k), terms after tokenizing, and posting
  // entries read; a query over a limit fails with too_large.
  std::uint32_t max_results = 1000;
  std::uint32_t max_query_terms = 64;
  std::uint64_t max_postings_scanned = 200'000'000;
  // A query that reads at most this many posting entries is answered on the server's thread when
  // the index is free (skipping two thread hand-offs); 0: every query on a query thread.
  std::uint64_t server_thread_postings = 20'000;
  // Threads in each of the two pools (short and long queries) that run the other queries at a
  // lower priority (0: automatic, see search::follower).
  std::uint32_t query_threads = 0;
  // How long a search waits for the index to reach its min_index (or read index) before it
  // fails with timed_out.
  std::chrono::milliseconds wait_timeout{5000};
  // Once this much log has been applied since the index was last saved and the index has caught
  // up, it is saved (besides at every snapshot), so a restart loads it and re-indexes only the
  // log after it.
  std::uint64_t save_interval_bytes = 64ull << 20;
};

struct config {
  node_config node;
  server_config server;
  storage_config storage;
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

}  // namespace kv
