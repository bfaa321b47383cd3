#pragma once
// Child processes for multi-process tests: kvnode servers on free ports, and command runs with
// captured output.

#include "support/temp_dir.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <fmt/format.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kv::test {

inline std::filesystem::path binary(const std::string& name) { return std::filesystem::path(KV_BIN_DIR) / name; }

// A port nothing listens on, for a kvnode to bind. Taken below the kernel's ephemeral range
// (32768 and up on Linux), where every outgoing connection gets its local port: a port from
// bind(0) could be taken by some client's connection before the kvnode binds it. A start
// derived from the pid and a counter keep calls, and concurrent test processes, apart.
inline unsigned short free_port() {
  constexpr unsigned first = 20000;
  constexpr unsigned count = 12000;
  static std::atomic<unsigned> next{static_cast<unsigned>(::getpid()) * 613u % count};
  asio::io_context ctx;
  for (unsigned tries = 0; tries < count; ++tries) {
    const auto port = static_cast<unsigned short>(first + next++ % count);
    asio::ip::tcp::acceptor a(ctx);
    std::error_code ec;
    a.open(asio::ip::tcp::v4(), ec);
    if (!ec) a.bind(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (!ec) return port;
  }
  throw std::runtime_error("no free port between 20000 and 32000");
}

// Starts `argv` with stdout and stderr redirected to files and `stdin_data` on its standard
// input; returns the pid. A child may exit without reading its input: the test process ignores
// SIGPIPE, so that writing it fails instead of killing the test (children get the default back).
inline pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& out,
                   const std::filesystem::path& err, const std::string& stdin_data = {}) {
  static const bool sigpipe_ignored = ::signal(SIGPIPE, SIG_IGN) != SIG_ERR;
  (void)sigpipe_ignored;
  int in_pipe[2];
  if (::pipe(in_pipe) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(in_pipe[0], 0);
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  if (!stdin_data.empty()) [[maybe_unused]] auto n = ::write(in_pipe[1], stdin_data.data(), stdin_data.size());
  ::close(in_pipe[1]);
  return pid;
}

// Whether process `pid` exists and has not exited: a zombie (exited, not yet reaped) counts as
// exited.
inline bool process_running(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("State:")) return line.find('Z') == std::string::npos;
  }
  return false;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct command_result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a command to completion (killing it after `limit`) and captures its output.
inline command_result run_command(const std::vector<std::string>& argv, const std::string& stdin_data = {},
                                  std::chrono::seconds limit = std::chrono::seconds(30)) {
  temp_dir dir;
  auto pid = spawn(argv, dir / "out", dir / "err", stdin_data);
  auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw std::runtime_error("command timed out: " + argv[0]);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(dir / "out"), slurp(dir / "err")};
}

// Waits until `host`:`port` accepts connections; throws if process `pid` exits first (with
// `log()` in the message) or after 30 s.
template <typename Log>
void wait_listening(const std::string& host, unsigned short port, pid_t& pid, Log log) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  asio::io_context ctx;
  while (std::chrono::steady_clock::now() < deadline) {
    asio::ip::tcp::socket s(ctx);
    std::error_code ec;
    s.connect(asio::ip::tcp::endpoint(asio::ip::make_address(host), port), ec);
    if (!ec) return;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      throw std::runtime_error("kvnode exited during startup: " + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("kvnode did not start listening within 30 s: " + log());
}

// A kvnode server process with its own data directory and port. Extra TOML can be passed to
// the constructor (it is appended to [server] / other sections as written), and the keys of its
// [log] section (by default debug to standard error, which log() reads).
class node_process {
 public:
  explicit node_process(std::string extra_toml = {}, std::string log_toml = "level = \"debug\"\n")
      : port_(free_port()), extra_(std::move(extra_toml)), log_(std::move(log_toml)) {
    write_config();
    start();
  }
  // `prepare` runs on the (empty) data directory before the node first starts: to mount a
  // small file system there, for example.
  node_process(std::string extra_toml, const std::function<void(const std::filesystem::path&)>& prepare)
      : port_(free_port()), extra_(std::move(extra_toml)) {
    write_config();
    std::filesystem::create_directories(data_dir());
    prepare(data_dir());
    start();
  }
  ~node_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  std::string endpoint() const { return fmt::format("127.0.0.1:{}", port_); }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::filesystem::path config_path() const { return dir_ / "kv.toml"; }
  std::string log() const { return slurp(dir_ / "stderr"); }
  pid_t pid() const { return pid_; }

  void start() {
    pid_ = spawn({binary("kvnode").string(), "--config", config_path().string()}, dir_ / "stdout", dir_ / "stderr");
    wait_ready();
  }

  // SIGTERM and wait; returns the exit status.
  int stop() {
    ::kill(pid_, SIGTERM);
    return reap();
  }

  // Waits for the process to exit on its own; returns the exit status.
  int wait_exit() { return reap(); }

  void kill9() {
    ::kill(pid_, SIGKILL);
    reap();
  }

  void restart() {
    if (pid_ > 0) stop();
    start();
  }

 private:
  void write_config() {
    std::ofstream(config_path()) << fmt::format(
        "[node]\nid = 1\ndata-dir = \"{}\"\n[server]\nlisten = \"{}\"\n{}\n[log]\n{}", data_dir().string(), endpoint(),
        extra_, log_);
  }

  int reap() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  void wait_ready() {
    wait_listening("127.0.0.1", port_, pid_, [this] { return log(); });
  }

  temp_dir dir_;
  unsigned short port_;
  std::string extra_;
  std::string log_;
  pid_t pid_ = -1;
};

}  // namespace kv::test
