#pragma once
// A single kvnode server (no [cluster]) on 127.0.0.1 at a free port, with a fresh directory:
// the configuration is written and the node started (and waited for, see
// kvnode_process::start) by the constructor.

#include "harness/kvnode_process.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace kv::harness {

struct node_options {
  // More keys of the [node] section ("huge-pages = \"always\"\n").
  std::string node_keys;
  // Appended right after [server]'s listen: more [server] keys, then sections of their own
  // ("max-connections = 10\n[storage]\nfsync = \"never\"\n").
  std::string extra_toml;
  // The keys of the [log] section (the destination is added per `log`).
  std::string log_keys = "level = \"debug\"\n";
  log_sink log = log_sink::standard_error;
  // Runs on the empty data directory before the node first starts (to mount a small file
  // system there, say).
  std::function<void(const std::filesystem::path& data_dir)> prepare;
};

class node_process : public kvnode_process {
 public:
  explicit node_process(node_options o) : kvnode_process("127.0.0.1", o.log) {
    std::ofstream(config_path()) << fmt::format(
        "[node]\nid = 1\ndata-dir = \"{}\"\n{}[server]\nlisten = \"{}\"\n{}\n{}[log]\n{}{}", data_dir().string(),
        o.node_keys, endpoint(), o.extra_toml, resp_toml(), o.log_keys, log_destination_toml());
    if (o.prepare) {
      std::filesystem::create_directories(data_dir());
      o.prepare(data_dir());
    }
    start();
  }
  // The tests' shorthand: `extra_toml` and `log_keys` as in node_options, the log on standard
  // error.
  explicit node_process(std::string extra_toml = {}, std::string log_keys = "level = \"debug\"\n")
      : node_process(options(std::move(extra_toml), std::move(log_keys))) {}

  // Stops the node (SIGTERM) if it runs, then starts it again on its data.
  void restart() {
    if (running()) stop();
    start();
  }

 private:
  static node_options options(std::string extra_toml, std::string log_keys) {
    node_options o;
    o.extra_toml = std::move(extra_toml);
    o.log_keys = std::move(log_keys);
    return o;
  }
};

}  // namespace kv::harness
