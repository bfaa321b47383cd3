#include "apps/kvnode/config.hpp"
#include "core/base/units.hpp"

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

// Parses `text` and returns the error message, or "" if it parsed.
std::string error_of(const std::string& text) {
  try {
    kv::parse_config(text, "test.toml");
  } catch (const kv::config_error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string source_file(const std::string& relative) {
  std::ifstream in(std::string(KV_SOURCE_DIR) + "/" + relative, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << relative);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The units an error message offers: "... (use A, B or C, e.g. ..." gives {A, B, C}.
std::set<std::string> offered_units(const std::string& message) {
  auto from = message.find("(use ");
  auto to = message.find(", e.g.", from);
  if (from == std::string::npos || to == std::string::npos) return {};
  std::string list = message.substr(from + 5, to - from - 5);
  std::set<std::string> out;
  std::size_t at = 0;
  while (at <= list.size()) {
    auto comma = list.find(", ", at);
    auto next_or = list.find(" or ", at);
    auto end = std::min(comma, next_or);
    out.insert(list.substr(at, end - at));
    if (end == std::string::npos) break;
    at = end + (end == comma ? 2 : 4);
  }
  return out;
}

// The code-quoted words of `text` that are not quoted strings: "`B`, `KiB` e.g. `\"64MiB\"`"
// gives {B, KiB}.
std::set<std::string> code_words(const std::string& text) {
  std::set<std::string> out;
  for (auto open = text.find('`'); open != std::string::npos; open = text.find('`', open)) {
    auto close = text.find('`', open + 1);
    if (close == std::string::npos) break;
    auto word = text.substr(open + 1, close - open - 1);
    if (!word.starts_with('"')) out.insert(word);
    open = close + 1;
  }
  return out;
}

template <typename Units>
std::set<std::string> names_of(const Units& units) {
  std::set<std::string> out;
  for (const auto& u : units) out.insert(std::string(u.name));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(shipped_kv_toml_matches_the_defaults) {
  // Every setting as the startup log lists it (describe() names each one): the shipped file
  // spells out exactly the built-in defaults.
  auto c = kv::load_config(std::string(KV_SOURCE_DIR) + "/kv.toml");
  BOOST_TEST(kv::describe(c) == kv::describe(kv::config{}), boost::test_tools::per_element());
  BOOST_TEST(c.cluster.members.empty());
  BOOST_TEST(!c.index.stop_words.has_value());
}

BOOST_AUTO_TEST_CASE(cluster_members_are_read) {
  auto c = kv::parse_config(R"(
[node]
id = 2
[cluster]
members = [
  { id = 1, peer = "127.0.0.1:7380", client = "127.0.0.1:7379" },
  { id = 2, peer = "127.0.0.1:7382", client = "127.0.0.1:7381" },
  { id = 3, peer = "127.0.0.1:7384", client = "127.0.0.1:7383" },
]
heartbeat-interval = "20ms"
election-timeout = "200ms"
)",
                            "test.toml");
  BOOST_REQUIRE(c.cluster.members.size() == 3u);
  BOOST_TEST(c.cluster.members[2].id == 3u);
  BOOST_TEST(c.cluster.members[2].peer == "127.0.0.1:7384");
  BOOST_TEST(c.cluster.members[2].client == "127.0.0.1:7383");
  BOOST_TEST(c.cluster.self(2)->peer == "127.0.0.1:7382");
  BOOST_TEST(c.cluster.heartbeat_interval.count() == 20);
  BOOST_TEST(c.cluster.election_timeout.count() == 200);
}

BOOST_AUTO_TEST_CASE(the_index_section_is_read) {
  auto c = kv::parse_config(R"(
[index]
enabled = false
ngram-size = 4
stop-words = ["le", "la"]
stemming = "french"
remove-diacritics = false
server-thread-postings = 0
query-threads = 3
max-results = 50
max-query-terms = 8
max-postings-scanned = 1000
wait-timeout = "250ms"
save-interval = "1MiB"
)",
                            "test.toml");
  BOOST_TEST(!c.index.enabled);
  BOOST_TEST(c.index.ngram_size == 4u);
  BOOST_REQUIRE(c.index.stop_words.has_value());
  BOOST_TEST(c.index.stop_words->size() == 2u);
  BOOST_TEST(c.index.stemming == "french");
  BOOST_TEST(!c.index.remove_diacritics);
  BOOST_TEST(c.index.server_thread_postings == 0u);
  BOOST_TEST(c.index.query_threads == 3u);
  BOOST_TEST(c.index.max_results == 50u);
  BOOST_TEST(c.index.max_query_terms == 8u);
  BOOST_TEST(c.index.max_postings_scanned == 1000u);
  BOOST_TEST(c.index.wait_timeout.count() == 250);
  BOOST_TEST(c.index.save_interval_bytes == 1u << 20);
  BOOST_TEST(kv::config{}.index.save_interval_bytes == 64u << 20);
  auto d = kv::parse_config("[index]\nstop-words = []\n", "test.toml");
  BOOST_REQUIRE(d.index.stop_words.has_value());
  BOOST_TEST(d.index.stop_words->empty());
  BOOST_TEST(!kv::config{}.index.stop_words.has_value());
  BOOST_TEST(contains(error_of("[index]\nngram-size = 9"), "test.toml:2: index.ngram-size: expected an integer from 1 to 8"));
  BOOST_TEST(contains(error_of("[index]\nenabled = \"yes\""), "index.enabled: expected true or false"));
  BOOST_TEST(contains(error_of("[index]\nstop-words = \"the\""), "index.stop-words: expected an array of strings"));
  BOOST_TEST(contains(error_of("[index]\nstop-words = [1]"), "index.stop-words: expected a string"));
  BOOST_TEST(contains(error_of("[index]\nmax-results = 0"), "index.max-results: expected an integer from 1 to 1000000, got 0"));
  BOOST_TEST(contains(error_of("[storage]\nsnapshot-log-percent = 10001"), "storage.snapshot-log-percent: expected an integer from 0 to 10000, got 10001"));
  BOOST_TEST(contains(error_of("[index]\nquery-threads = 257"), "index.query-threads: expected an integer from 0 to 256, got 257"));
  BOOST_TEST(contains(error_of("[index]\nserver-thread-postings = -1"), "index.server-thread-postings: expected an integer from 0 to 10000000, got -1"));
  BOOST_TEST(contains(error_of("[index]\nfuzzy = true"), "unknown key (known in [index]:"));
}

BOOST_AUTO_TEST_CASE(bad_cluster_sections_are_explained) {
  const std::string three = R"(
members = [
  { id = 1, peer = "127.0.0.1:7380", client = "127.0.0.1:7379" },
  { id = 2, peer = "127.0.0.1:7382", client = "127.0.0.1:7381" },
])";
  BOOST_TEST(contains(error_of("[node]\nid = 5\n[cluster]" + three), "does not list this node (node.id = 5)"));
  BOOST_TEST(contains(error_of("[cluster]\nmembers = [ { id = 1, peer = \"x\", client = \"127.0.0.1:1\" } ]"),
                      "test.toml:2: cluster.members[0].peer: expected \"host:port\""));
  BOOST_TEST(contains(error_of("[cluster]\nmembers = [ { id = 1, peer = \"127.0.0.1:2\" } ]"),
                      "each member needs id, peer and client"));
  BOOST_TEST(contains(error_of("[cluster]\nmembers = [ { id = 1, peer = \"127.0.0.1:2\", client = \"127.0.0.1:3\", "
                               "port = 4 } ]"),
                      "unknown key (known: id, peer, client)"));
  BOOST_TEST(contains(error_of("[cluster]\nmembers = [ { id = 1, peer = \"127.0.0.1:2\", client = \"127.0.0.1:3\" }, "
                               "{ id = 1, peer = \"127.0.0.1:4\", client = \"127.0.0.1:5\" } ]"),
                      "id 1 appears twice"));
  BOOST_TEST(contains(error_of("[cluster]\nheartbeat-interval = \"100ms\"\nelection-timeout = \"150ms\""),
                      "must be at least twice cluster.heartbeat-interval"));
}

BOOST_AUTO_TEST_CASE(values_are_read) {
  auto c = kv::parse_config(R"(
[node]
id = 3
data-dir = "/var/lib/kv"
[server]
listen = "[::1]:9000"
max-connections = 10
send-threads = 3
send-offload = "always"
max-frame-size = "4MiB"
max-pipeline = 64
idle-timeout = "90s"
shutdown-timeout = "250ms"
[storage]
fsync = "never"
wal-io = "buffered"
segment-size = "1MiB"
max-batch-size = "512KiB"
snapshot-log-size = "2GB"
snapshot-log-percent = 0
snapshot-entries = 50
snapshot-capture = "fork"
[log]
level = "debug"
file = "/tmp/kv.log"
)",
                            "test.toml");
  BOOST_TEST(c.node.id == 3u);
  BOOST_TEST(c.node.data_dir == "/var/lib/kv");
  BOOST_TEST(c.server.listen == "[::1]:9000");
  BOOST_TEST(c.server.max_connections == 10u);
  BOOST_TEST(c.server.send_threads == 3u);
  BOOST_TEST((c.server.send_offload == kv::send_offload_mode::always));
  BOOST_TEST(c.server.max_frame_bytes == 4u << 20);
  BOOST_TEST(c.server.max_pipeline == 64u);
  BOOST_TEST(c.server.idle_timeout.count() == 90'000);
  BOOST_TEST(c.server.shutdown_timeout.count() == 250);
  BOOST_TEST((c.storage.fsync == kv::fsync_policy::never));
  BOOST_TEST((c.storage.wal_io_mode == kv::wal_io::buffered));
  BOOST_TEST(c.storage.segment_bytes == 1u << 20);
  BOOST_TEST(c.storage.max_batch_bytes == 512u << 10);
  BOOST_TEST(c.storage.snapshot_log_bytes == 2'000'000'000u);
  BOOST_TEST(c.storage.snapshot_log_percent == 0u);
  BOOST_TEST(c.storage.snapshot_entries == 50u);
  BOOST_TEST((c.storage.snapshot_capture_mode == kv::snapshot_capture::fork));
  BOOST_TEST(c.log.level == "debug");
  BOOST_TEST(c.log.file == "/tmp/kv.log");
}

BOOST_AUTO_TEST_CASE(unknown_key_names_key_and_line) {
  auto e = error_of("[node]\nid = 1\nsnapshot = 3\n");
  BOOST_TEST(contains(e, "test.toml:3"), e);
  BOOST_TEST(contains(e, "node.snapshot"), e);
  BOOST_TEST(contains(e, "unknown key"), e);
}

BOOST_AUTO_TEST_CASE(unknown_section) {
  auto e = error_of("\n[nodes]\nid = 1\n");
  BOOST_TEST(contains(e, "test.toml:2"), e);
  BOOST_TEST(contains(e, "unknown section"), e);
}

BOOST_AUTO_TEST_CASE(wrong_types) {
  auto e = error_of("[node]\nid = \"one\"\n");
  BOOST_TEST(contains(e, "test.toml:2: node.id: expected an integer, got a string"), e);
  e = error_of("[node]\nid = -4\n");
  BOOST_TEST(contains(e, "node.id: expected a positive integer"), e);
  e = error_of("[server]\nlisten = 7379\n");
  BOOST_TEST(contains(e, "server.listen: expected a string, got an integer"), e);
  e = error_of("node = 5\n");
  BOOST_TEST(contains(e, "expected a [node] table"), e);
}

BOOST_AUTO_TEST_CASE(unparseable_sizes) {
  auto e = error_of("[storage]\n\nsegment-size = \"64 potatoes\"\n");
  BOOST_TEST(contains(e, "test.toml:3: storage.segment-size: cannot parse size \"64 potatoes\""), e);
  e = error_of("[storage]\nsegment-size = 67108864\n");
  BOOST_TEST(contains(e, "storage.segment-size: expected a size with a unit"), e);
  e = error_of("[storage]\nmax-value-size = \"0B\"\n");
  BOOST_TEST(contains(e, "must be greater than zero"), e);
}

BOOST_AUTO_TEST_CASE(unit_errors_offer_every_unit_the_parser_accepts) {
  auto sizes = names_of(kv::size_units);
  auto durations = names_of(kv::duration_units);
  for (const auto& unit : sizes) {
    BOOST_TEST(error_of("[index]\nsave-interval = \"1" + unit + "\"\n") == "", unit);
  }
  for (const auto& unit : durations) {
    BOOST_TEST(error_of("[storage]\ngroup-commit-delay = \"0" + unit + "\"\n") == "", unit);
  }
  auto size_error = error_of("[storage]\nsegment-size = \"64 potatoes\"\n");
  BOOST_TEST(offered_units(size_error) == sizes, size_error);
  auto duration_error = error_of("[server]\nidle-timeout = \"soon\"\n");
  BOOST_TEST(offered_units(duration_error) == durations, duration_error);
}

// docs/configuration.md's sentence on units and kv.toml's header comment name exactly the units
// the parser accepts.
BOOST_AUTO_TEST_CASE(documentation_names_the_parsers_units) {
  auto doc = source_file("docs/configuration.md");
  auto from = doc.find("Sizes are strings with a unit:");
  auto middle = doc.find("Durations", from);
  auto to = doc.find("\n\n", middle);
  BOOST_REQUIRE(from != std::string::npos);
  BOOST_REQUIRE(middle != std::string::npos);
  BOOST_TEST(code_words(doc.substr(from, middle - from)) == names_of(kv::size_units));
  BOOST_TEST(code_words(doc.substr(middle, to - middle)) == names_of(kv::duration_units));
  auto toml = source_file("kv.toml");
  BOOST_TEST(contains(toml, "one of " + kv::size_unit_list() + " ("), kv::size_unit_list());
  BOOST_TEST(contains(toml, "one of " + kv::duration_unit_list() + "."), kv::duration_unit_list());
}

BOOST_AUTO_TEST_CASE(unparseable_durations) {
  auto e = error_of("[server]\nidle-timeout = \"soon\"\n");
  BOOST_TEST(contains(e, "test.toml:2: server.idle-timeout: cannot parse duration \"soon\""), e);
  e = error_of("[server]\nshutdown-timeout = 10\n");
  BOOST_TEST(contains(e, "server.shutdown-timeout: expected a duration with a unit"), e);
  e = error_of("[server]\nidle-timeout = \"10 s\"\n");
  BOOST_TEST(contains(e, "cannot parse duration"), e);
  e = error_of("[server]\nidle-timeout = \"0ms\"\n");
  BOOST_TEST(contains(e, "at least 1ms"), e);
}

BOOST_AUTO_TEST_CASE(microsecond_durations) {
  auto c = kv::parse_config("[storage]\ngroup-commit-delay = \"250us\"\n", "test.toml");
  BOOST_TEST(c.storage.group_commit_delay.count() == 250);
  c = kv::parse_config("[storage]\ngroup-commit-delay = \"0us\"\n", "test.toml");
  BOOST_TEST(c.storage.group_commit_delay.count() == 0);
  auto e = error_of("[storage]\ngroup-commit-delay = \"2s\"\n");
  BOOST_TEST(contains(e, "storage.group-commit-delay: at most 100ms"), e);
}

BOOST_AUTO_TEST_CASE(snapshot_capture_modes) {
  const std::pair<const char*, kv::snapshot_capture> modes[] = {{"thread", kv::snapshot_capture::thread},
                                                               {"event-loop", kv::snapshot_capture::event_loop},
                                                               {"fork", kv::snapshot_capture::fork}};
  for (const auto& [text, mode] : modes) {
    auto c = kv::parse_config(fmt::format("[storage]\nsnapshot-capture = \"{}\"\n", text), "test.toml");
    BOOST_TEST((c.storage.snapshot_capture_mode == mode), text);
  }
}

BOOST_AUTO_TEST_CASE(huge_pages_modes) {
  BOOST_TEST((kv::config{}.node.huge_pages == kv::huge_pages_mode::recovery));
  const std::pair<const char*, kv::huge_pages_mode> modes[] = {{"recovery", kv::huge_pages_mode::recovery},
                                                              {"always", kv::huge_pages_mode::always},
                                                              {"never", kv::huge_pages_mode::never}};
  for (const auto& [text, mode] : modes) {
    auto c = kv::parse_config(fmt::format("[node]\nhuge-pages = \"{}\"\n", text), "test.toml");
    BOOST_TEST((c.node.huge_pages == mode), text);
    BOOST_TEST(contains(kv::describe(c)[0], fmt::format("huge-pages={}", text)), kv::describe(c)[0]);
  }
  BOOST_TEST(error_of("[node]\nhuge-pages = \"madvise\"\n") ==
             "test.toml:2: node.huge-pages: expected \"recovery\", \"always\" or \"never\", got \"madvise\"");
  BOOST_TEST(error_of("[node]\nhuge-pages = false\n") ==
             "test.toml:2: node.huge-pages: expected a string, got a boolean");
}

BOOST_AUTO_TEST_CASE(log_format) {
  BOOST_TEST((kv::config{}.log.format == kv::log_format::text));
  BOOST_TEST((kv::parse_config("[log]\nformat = \"json\"\n", "test.toml").log.format == kv::log_format::json));
  BOOST_TEST((kv::parse_config("[log]\nformat = \"text\"\n", "test.toml").log.format == kv::log_format::text));
  BOOST_TEST(error_of("[log]\nformat = \"logfmt\"\n") ==
             "test.toml:2: log.format: expected \"text\" or \"json\", got \"logfmt\"");
  BOOST_TEST(error_of("[log]\nformat = \"JSON\"\n") ==
             "test.toml:2: log.format: expected \"text\" or \"json\", got \"JSON\"");
  BOOST_TEST(error_of("[log]\n\nformat = true\n") == "test.toml:3: log.format: expected a string, got a boolean");
  BOOST_TEST(contains(kv::describe(kv::parse_config("[log]\nformat = \"json\"\n", "test.toml"))[5],
                      "[log] level=info format=json file=(stderr)"));
}

BOOST_AUTO_TEST_CASE(invalid_enumerations) {
  auto e = error_of("[log]\nlevel = \"verbose\"\n");
  BOOST_TEST(contains(e, "test.toml:2: log.level: unknown log level \"verbose\""), e);
  e = error_of("[storage]\nfsync = \"sometimes\"\n");
  BOOST_TEST(contains(e, "storage.fsync: expected \"always\" or \"never\""), e);
  e = error_of("[storage]\nsnapshot-capture = \"threads\"\n");
  BOOST_TEST(contains(e, "storage.snapshot-capture: expected \"thread\", \"event-loop\" or \"fork\", got \"threads\""),
             e);
  e = error_of("[server]\nsend-offload = \"sometimes\"\n");
  BOOST_TEST(contains(e, "server.send-offload: expected \"when-busy\" or \"always\", got \"sometimes\""), e);
  e = error_of("[server]\nsend-threads = 1000\n");
  BOOST_TEST(contains(e, "server.send-threads"), e);
  e = error_of("[storage]\nwal-io = \"mmap\"\n");
  BOOST_TEST(contains(e, "storage.wal-io: expected \"auto\", \"direct\" or \"buffered\", got \"mmap\""), e);
  e = error_of("[server]\nlisten = \"localhost\"\n");
  BOOST_TEST(contains(e, "server.listen: expected \"host:port\""), e);
  e = error_of("[server]\nlisten = \"localhost:99999\"\n");
  BOOST_TEST(contains(e, "server.listen"), e);
}

BOOST_AUTO_TEST_CASE(cross_field_limits) {
  auto e = error_of("[storage]\nsegment-size = \"1MiB\"\nmax-batch-size = \"2MiB\"\n");
  BOOST_TEST(contains(e, "max-batch-size"), e);
  e = error_of("[storage]\nsegment-size = \"4KiB\"\n");
  BOOST_TEST(contains(e, "below the minimum"), e);
  e = error_of("[server]\nmax-frame-size = \"64KiB\"\n");
  BOOST_TEST(contains(e, "server.max-frame-size (64KiB) must hold the largest key and value"), e);
}

BOOST_AUTO_TEST_CASE(invalid_toml_syntax_names_line) {
  auto e = error_of("[node]\nid = 1\ndata-dir = \"unterminated\n");
  BOOST_TEST(contains(e, "test.toml:3: invalid TOML"), e);
}

BOOST_AUTO_TEST_CASE(missing_file) {
  BOOST_CHECK_THROW(kv::load_config("/nonexistent/kv.toml"), kv::config_error);
}

BOOST_AUTO_TEST_CASE(flags_override_the_file) {
  auto c = kv::parse_config("[node]\nid = 1\ndata-dir = \"a\"\n[log]\nlevel = \"info\"\n", "test.toml");
  auto cl = kv::parse_command_line(
      {"--config", "x.toml", "--node-id", "7", "--data-dir=b", "--listen", "0.0.0.0:1234", "--log-level", "warn"});
  BOOST_TEST(cl.config_path->string() == "x.toml");
  kv::apply_overrides(c, cl);
  BOOST_TEST(c.node.id == 7u);
  BOOST_TEST(c.node.data_dir == "b");
  BOOST_TEST(c.server.listen == "0.0.0.0:1234");
  BOOST_TEST(c.log.level == "warn");
}

BOOST_AUTO_TEST_CASE(bad_flags) {
  auto flag_error = [](std::vector<std::string_view> args) {
    try {
      kv::parse_command_line(args);
    } catch (const kv::config_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  BOOST_TEST(contains(flag_error({"--log-level", "loud"}), "unknown log level \"loud\""));
  BOOST_TEST(contains(flag_error({"--node-id", "0"}), "--node-id"));
  BOOST_TEST(contains(flag_error({"--node-id", "12x"}), "--node-id"));
  BOOST_TEST(contains(flag_error({"--listen", "nowhere"}), "--listen"));
  BOOST_TEST(contains(flag_error({"--config"}), "needs a value"));
  BOOST_TEST(contains(flag_error({"--frobnicate"}), "unknown option"));
  BOOST_TEST(kv::parse_command_line({"--help"}).help);
}

BOOST_AUTO_TEST_CASE(describe_lists_every_section) {
  auto lines = kv::describe(kv::config{});
  BOOST_REQUIRE(lines.size() == 7u);
  BOOST_TEST(contains(lines[1], "idle-timeout=300s"));
  BOOST_TEST(contains(lines[2], "segment-size=64MiB"));
  BOOST_TEST(contains(lines[2], "fsync=always"));
  BOOST_TEST(contains(lines[3], "members=[(this node alone)]"));
  BOOST_TEST(contains(lines[3], "election-timeout=300ms"));
  BOOST_TEST(contains(lines[4], "[index] enabled=true ngram-size=3 stop-words=(default English)"));
  BOOST_TEST(lines[5] == "[log] level=info format=text file=(stderr)");
  BOOST_TEST(lines[6] == "[resp] listen=127.0.0.1:6380 notify-keyspace-events=\"\"");
}

BOOST_AUTO_TEST_CASE(notify_keyspace_events_takes_redis_flags) {
  auto c = kv::parse_config("[resp]\nnotify-keyspace-events = \"KEA\"\n", "test.toml");
  BOOST_TEST(c.server.notify_keyspace_events == "KEA");
  BOOST_TEST(error_of("[resp]\nnotify-keyspace-events = \"KEX\"\n") ==
             "test.toml:2: resp.notify-keyspace-events: expected Redis's event classes (characters of "
             "\"Ag$lshzxeKEtmdn\"), got \"KEX\"");
}

// The file maps onto the settings of the replica and of the peer transport: this node's entry in
// cluster.members gives the transport its own address, the others its peers.
BOOST_AUTO_TEST_CASE(a_cluster_maps_onto_the_replica_and_the_transport) {
  auto c = kv::parse_config(R"(
[node]
id = 2
[cluster]
members = [
  { id = 1, peer = "127.0.0.1:7382", client = "127.0.0.1:7381" },
  { id = 2, peer = "127.0.0.1:7392", client = "127.0.0.1:7391" },
  { id = 3, peer = "127.0.0.1:7402", client = "127.0.0.1:7401" },
]
heartbeat-interval = "20ms"
election-timeout = "100ms"
max-append-size = "2MiB"
max-peer-queue-size = "8MiB"
max-sessions = 7
)",
                            "test.toml");
  auto r = kv::replication_of(c);
  BOOST_TEST(r.id == 2u);
  BOOST_TEST((r.voters == std::vector<kv::raft::node_id>{1, 2, 3}));
  BOOST_TEST(r.client_addresses.at(3) == "127.0.0.1:7401");
  BOOST_TEST(r.tick.count() == 20);
  BOOST_TEST(r.election_ticks == 5);
  BOOST_TEST(r.max_append_bytes == 2u << 20);
  BOOST_TEST(r.max_sessions == 7u);
  auto p = kv::peers_of(c);
  BOOST_TEST(p.id == 2u);
  BOOST_TEST(p.listen == "127.0.0.1:7392");
  BOOST_TEST((p.peers == std::map<kv::raft::node_id, std::string>{{1, "127.0.0.1:7382"}, {3, "127.0.0.1:7402"}}));
  BOOST_TEST(p.election_timeout.count() == 100);
  BOOST_TEST(p.max_append_bytes == 2u << 20);
  BOOST_TEST(p.max_queue_bytes == 8u << 20);
}

// A node alone is a cluster of one whose redirects name its own client address.
BOOST_AUTO_TEST_CASE(a_node_alone_maps_onto_a_cluster_of_one) {
  auto c = kv::parse_config("[server]\nlisten = \"127.0.0.1:9000\"\n", "test.toml");
  auto r = kv::replication_of(c);
  BOOST_TEST(r.voters.empty());
  BOOST_TEST(r.client_addresses.at(1) == "127.0.0.1:9000");
  BOOST_TEST(r.election_ticks == 6);
}

BOOST_AUTO_TEST_SUITE_END()
