#pragma once
// A kvnode server process for benchmarks: the kvnode binary next to the running program, on a
// fresh data directory and a free port.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <fmt/format.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

namespace kv::bench {

class node_process {
 public:
  // `extra_toml` is appended to the generated configuration (it may open sections).
  explicit node_process(const std::string& extra_toml = {}) {
    dir_ = std::filesystem::temp_directory_path() / fmt::format("kvnode-bench-{}-{}", ::getpid(), instances_++);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    port_ = free_port();
    std::ofstream(dir_ / "kv.toml") << fmt::format(
        "[node]\ndata-dir = \"{}\"\n[server]\nlisten = \"{}\"\n[log]\nlevel = \"info\"\nfile = \"{}\"\n{}\n",
        (dir_ / "data").string(), endpoint(), (dir_ / "kvnode.log").string(), extra_toml);
    start();
  }
  ~node_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  std::string endpoint() const { return fmt::format("127.0.0.1:{}", port_); }
  std::string log() const {
    std::ifstream in(dir_ / "kvnode.log");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  void start() {
    auto binary = std::filesystem::canonical("/proc/self/exe").parent_path() / "kvnode";
    auto config = (dir_ / "kv.toml").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::execl(binary.c_str(), "kvnode", "--config", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }

  void kill9() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Whether the port accepts a TCP connection.
  bool listening() const {
    asio::io_context ctx;
    asio::ip::tcp::socket s(ctx);
    std::error_code ec;
    s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    return !ec;
  }

 private:
  static unsigned short free_port() {
    asio::io_context ctx;
    asio::ip::tcp::acceptor a(ctx, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
  }

  static inline int instances_ = 0;
  std::filesystem::path dir_;
  unsigned short port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace kv::bench
