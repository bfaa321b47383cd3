#pragma once
// Child processes for tests and benchmarks: the programs built next to the running one, free
// ports, commands run with captured output, and waiting for a child to listen.
//
// Ownership: the thread that spawns a child reaps it; nothing here installs a SIGCHLD handler.

#include "harness/temp_dir.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace kv::harness {

// The program `name` built next to the running executable (CMake writes every executable of
// the project into one bin/ directory).
inline std::filesystem::path binary(const std::string& name) {
  static const auto dir = std::filesystem::canonical("/proc/self/exe").parent_path();
  return dir / name;
}

// A port nothing listens on, for a kvnode to bind. Taken below the kernel's ephemeral range
// (32768 and up on Linux), where every outgoing connection gets its local port: a port from
// bind(0) could be taken by some client's connection before the kvnode binds it. A start
// derived from the pid and a counter keep calls, and concurrent processes, apart.
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

// Starts `argv` with stdout and stderr appended to files and `stdin_data` on its standard
// input; returns the pid. A child may exit without reading its input: the calling process
// ignores SIGPIPE, so that writing it fails instead of killing the caller (children get the
// default back).
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

// The value of field `name` ("State", "VmRSS", ...) in /proc/<pid>/status, without the blanks
// before it; "" if there is no such process or field.
inline std::string proc_status_field(pid_t pid, std::string_view name) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.size() > name.size() && line.starts_with(name) && line[name.size()] == ':') {
      auto value = line.substr(name.size() + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  }
  return {};
}

// Whether process `pid` exists and has not exited: a zombie (exited, not yet reaped) counts as
// exited.
inline bool process_running(pid_t pid) {
  const auto state = proc_status_field(pid, "State");
  return !state.empty() && state.find('Z') == std::string::npos;
}

// The whole content of file `p` ("" if it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct command_result {
  int exit_code = -1;  // 128 + the signal if a signal ended it
  std::string out;
  std::string err;
};

// Runs a command to completion and captures its output; kills it and throws after `limit`.
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

// Waits until `host`:`port` accepts connections; throws if process `pid` exits first (then
// reaped, and `pid` set to -1; `log()` in the message) or after 30 s. Blocks the calling thread.
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

}  // namespace kv::harness
