#pragma once
// A local kvnode cluster for benchmarks: `size` kvnode processes (the binary next to the running
// program) on loopback, each with free client and peer ports and a fresh data directory, all under
// one temporary directory that is removed on destruction. Member ids run 1..size; every member's
// [cluster] lists all of them. Members can be killed with SIGKILL and started again on their data.
//
// Ownership: one thread drives a cluster_process; it forks and reaps its own children only. The
// destructor kills (SIGKILL) and reaps every member still running.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <fmt/format.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace kv::bench {

class cluster_process {
 public:
  struct options {
    int size = 3;
    std::string extra_toml;    // appended to every configuration; may open sections ("[storage]\n...")
    std::string cluster_keys;  // extra lines of the [cluster] section ("election-timeout = \"300ms\"")
    std::string log_level = "info";
  };

  // Writes the configurations and starts every member (without waiting for them to serve).
  explicit cluster_process(options o) : dir_(make_dir()) {
    for (int i = 0; i < o.size; ++i) members_.push_back(member{free_port(), free_port(), -1});
    std::string list;
    for (std::uint64_t id = 1; id <= size(); ++id) {
      list += fmt::format("  {{ id = {}, peer = \"127.0.0.1:{}\", client = \"{}\" }},\n", id, at(id).peer_port,
                          endpoint(id));
    }
    for (std::uint64_t id = 1; id <= size(); ++id) {
      std::ofstream(config_path(id)) << fmt::format(
          "[node]\nid = {}\ndata-dir = \"{}\"\n[server]\nlisten = \"{}\"\n[cluster]\nmembers = [\n{}]\n{}\n"
          "[log]\nlevel = \"{}\"\nfile = \"{}\"\n{}\n",
          id, (member_dir(id) / "data").string(), endpoint(id), list, o.cluster_keys, o.log_level,
          log_path(id).string(), o.extra_toml);
    }
    for (std::uint64_t id = 1; id <= size(); ++id) start(id);
  }
  ~cluster_process() {
    for (std::uint64_t id = 1; id <= size(); ++id) {
      if (running(id)) kill9(id);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  cluster_process(const cluster_process&) = delete;
  cluster_process& operator=(const cluster_process&) = delete;

  std::uint64_t size() const { return members_.size(); }
  // The client address of member `id` (1-based), as the members' configurations list it.
  std::string endpoint(std::uint64_t id) const { return fmt::format("127.0.0.1:{}", at(id).client_port); }
  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (std::uint64_t id = 1; id <= size(); ++id) out.push_back(endpoint(id));
    return out;
  }
  bool running(std::uint64_t id) const { return at(id).pid > 0; }
  pid_t pid(std::uint64_t id) const { return at(id).pid; }
  std::string log(std::uint64_t id) const {
    std::ifstream in(log_path(id));
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  // Starts member `id` on its data directory; returns at once (poll it with status to know when
  // it serves).
  void start(std::uint64_t id) {
    auto binary = std::filesystem::canonical("/proc/self/exe").parent_path() / "kvnode";
    auto config = config_path(id).string();
    auto err = (member_dir(id) / "stderr").string();
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(null, 1);
      ::dup2(e, 2);
      ::execl(binary.c_str(), "kvnode", "--config", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    at(id).pid = pid;
  }

  // Sends SIGKILL to member `id` and returns at once: the process dies, but is not yet reaped.
  void send_kill(std::uint64_t id) { ::kill(at(id).pid, SIGKILL); }
  // Waits for member `id` to exit (after send_kill).
  void reap(std::uint64_t id) {
    ::waitpid(at(id).pid, nullptr, 0);
    at(id).pid = -1;
  }
  void kill9(std::uint64_t id) {
    send_kill(id);
    reap(id);
  }

 private:
  struct member {
    unsigned short client_port;
    unsigned short peer_port;
    pid_t pid;
  };

  static std::filesystem::path make_dir() {
    auto name = fmt::format("kvnode-cluster-bench-{}-{}", ::getpid(), instances_++);
    auto dir = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
  }
  static unsigned short free_port() {
    asio::io_context ctx;
    asio::ip::tcp::acceptor a(ctx, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
  }

  member& at(std::uint64_t id) { return members_.at(id - 1); }
  const member& at(std::uint64_t id) const { return members_.at(id - 1); }
  std::filesystem::path member_dir(std::uint64_t id) const {
    auto d = dir_ / fmt::format("node{}", id);
    std::filesystem::create_directories(d);
    return d;
  }
  std::filesystem::path config_path(std::uint64_t id) const { return member_dir(id) / "kv.toml"; }
  std::filesystem::path log_path(std::uint64_t id) const { return member_dir(id) / "kvnode.log"; }

  static inline int instances_ = 0;
  std::filesystem::path dir_;
  std::vector<member> members_;
};

}  // namespace kv::bench
