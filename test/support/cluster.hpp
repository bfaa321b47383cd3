#pragma once
// A cluster of kvnode processes on loopback for multi-process tests: each member has its own
// data directory, client port and peer port, and can be killed, paused, resumed and restarted.

#include "io/client.hpp"
#include "support/process.hpp"

#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

namespace kv::test {

class cluster_member {
 public:
  cluster_member(std::uint64_t id, const std::filesystem::path& dir) : id_(id), dir_(dir) {}
  ~cluster_member() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  std::uint64_t id() const { return id_; }
  std::string endpoint() const { return fmt::format("127.0.0.1:{}", client_port_); }
  std::string peer_endpoint() const { return fmt::format("127.0.0.1:{}", peer_port_); }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::filesystem::path config_path() const { return dir_ / "kv.toml"; }
  std::string log() const { return slurp(dir_ / "stderr"); }
  bool running() const { return pid_ > 0; }

  void start() {
    pid_ = spawn({binary("kvnode").string(), "--config", config_path().string()}, dir_ / "stdout", dir_ / "stderr");
    wait_listening(client_port_, pid_, [this] { return log(); });
  }
  void kill9() { signal_and_reap(SIGKILL); }
  int stop() { return signal_and_reap(SIGTERM); }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

 private:
  friend class cluster;
  int signal_and_reap(int sig) {
    ::kill(pid_, SIGCONT);
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::uint64_t id_;
  std::filesystem::path dir_;
  unsigned short client_port_ = free_port();
  unsigned short peer_port_ = free_port();
  pid_t pid_ = -1;
};

class cluster {
 public:
  // `extra_toml` is appended to every member's configuration (a [storage] section, say);
  // `cluster_keys` go into its [cluster] section.
  explicit cluster(int size = 3, std::string extra_toml = {}, std::string cluster_keys = {}) {
    for (int i = 1; i <= size; ++i) {
      auto dir = dir_ / fmt::format("node{}", i);
      std::filesystem::create_directories(dir);
      members_.push_back(std::make_unique<cluster_member>(static_cast<std::uint64_t>(i), dir));
    }
    std::string list;
    for (const auto& m : members_) {
      list += fmt::format("  {{ id = {}, peer = \"{}\", client = \"{}\" }},\n", m->id(), m->peer_endpoint(),
                          m->endpoint());
    }
    for (const auto& m : members_) {
      std::ofstream(m->config_path()) << fmt::format(
          "[node]\nid = {}\ndata-dir = \"{}\"\n[server]\nlisten = \"{}\"\n[cluster]\nmembers = [\n{}]\n{}\n{}\n"
          "[log]\nlevel = \"debug\"\n",
          m->id(), m->data_dir().string(), m->endpoint(), list, cluster_keys, extra_toml);
    }
    for (auto& m : members_) m->start();
  }

  cluster_member& member(std::uint64_t id) { return *members_.at(id - 1); }
  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (const auto& m : members_) out.push_back(m->endpoint());
    return out;
  }
  std::size_t size() const { return members_.size(); }
  // Every member's log, for failure messages.
  std::string logs() const {
    std::string out;
    for (const auto& m : members_) out += fmt::format("---- node {} ----\n{}\n", m->id(), m->log());
    return out;
  }

 private:
  temp_dir dir_;
  std::vector<std::unique_ptr<cluster_member>> members_;
};

}  // namespace kv::test
