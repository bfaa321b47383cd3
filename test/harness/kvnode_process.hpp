#pragma once
// One kvnode child process in a directory of its own: it runs on `<dir>/kv.toml` (written by
// its owner: node_process, cluster) with the data directory `<dir>/data`, its standard output
// and error appended to `<dir>/stdout` and `<dir>/stderr`. It can be started, signalled,
// reaped and started again on the same data.
//
// Ownership: one thread drives a kvnode_process; it forks and reaps its own child only. The
// destructor kills (SIGKILL, after SIGCONT in case it was paused) and reaps a child still
// running, then removes the directory (see temp_dir).

#include "harness/process.hpp"
#include "harness/temp_dir.hpp"

#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace kv::harness {

// Where a kvnode writes its log; kvnode_process::log() reads it either way.
enum class log_sink : std::uint8_t {
  standard_error,  // kvnode's default, captured in <dir>/stderr (what tests read)
  file,            // [log] file = "<dir>/kvnode.log", as a deployment logs (what benchmarks use)
};

class kvnode_process {
 public:
  // Listens for clients on `host` at a free port.
  kvnode_process(std::string host, log_sink sink) : host_(std::move(host)), sink_(sink) {}
  ~kvnode_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  kvnode_process(const kvnode_process&) = delete;
  kvnode_process& operator=(const kvnode_process&) = delete;

  const std::string& host() const { return host_; }
  // The client address, as the configuration's [server] listen names it.
  std::string endpoint() const { return fmt::format("{}:{}", host_, client_port_); }
  // Where its Redis protocol listener is ([resp] listen, which every harness config sets).
  std::string resp_endpoint() const { return fmt::format("{}:{}", host_, resp_port_); }
  unsigned short resp_port() const { return resp_port_; }
  // The [resp] section naming resp_endpoint().
  std::string resp_toml() const { return fmt::format("[resp]\nlisten = \"{}\"\n", resp_endpoint()); }
  std::filesystem::path dir() const { return dir_.path(); }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::filesystem::path config_path() const { return dir_ / "kv.toml"; }
  // The keys of the [log] section that send the log where `sink` says, besides its `level`.
  std::string log_destination_toml() const {
    return sink_ == log_sink::file ? fmt::format("file = \"{}\"\n", (dir_ / "kvnode.log").string()) : std::string();
  }
  // Everything the node logged (over all its starts), then, for log_sink::file, what else it
  // wrote to standard error (a configuration error, say).
  std::string log() const {
    if (sink_ == log_sink::standard_error) return slurp(dir_ / "stderr");
    return slurp(dir_ / "kvnode.log") + slurp(dir_ / "stderr");
  }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // True once the process has exited (killed from outside, say); it is then reaped and no
  // longer running().
  bool exited() {
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, nullptr, WNOHANG) != pid_) return false;
    pid_ = -1;
    return true;
  }

  // Starts kvnode on its configuration and returns at once, without waiting for it to serve
  // (for a benchmark that times a restart, or a caller that must not block its thread).
  void launch() {
    pid_ = spawn({binary("kvnode").string(), "--config", config_path().string()}, dir_ / "stdout", dir_ / "stderr");
  }
  // Starts kvnode and waits until it accepts client connections; throws if it exits first or
  // after 30 s (see wait_listening).
  void start() {
    launch();
    wait_listening(host_, client_port_, pid_, [this] { return log(); });
  }

  // SIGTERM and wait for the exit; returns the exit status (128 + signal if killed).
  int stop() { return signal_and_reap(SIGTERM); }
  // SIGKILL and wait for the exit.
  void kill9() { signal_and_reap(SIGKILL); }
  // Sends SIGKILL and returns at once: the process dies but is not reaped until reap().
  void send_kill() { ::kill(pid_, SIGKILL); }
  // Waits for the process to exit (on its own, or after send_kill); returns the exit status.
  int reap() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

 private:
  int signal_and_reap(int sig) {
    ::kill(pid_, SIGCONT);
    ::kill(pid_, sig);
    return reap();
  }

  temp_dir dir_;
  std::string host_;
  log_sink sink_;
  unsigned short client_port_ = free_port();
  unsigned short resp_port_ = free_port();
  pid_t pid_ = -1;
};

}  // namespace kv::harness
