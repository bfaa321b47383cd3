#pragma once
// What a benchmark reads about processes from /proc and getrusage: CPU time and resident memory,
// its own or a node's (Linux only).

#include <fmt/format.h>

#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

namespace kv::bench {

// CPU seconds (user + system) that the `stat` file of a process or thread counts; 0 if it cannot
// be read.
inline double stat_cpu_seconds(const std::string& stat_path) {
  std::ifstream f(stat_path);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {  // fields 14 and 15: utime, stime
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// CPU seconds (user + system) the process has used; 0 if it cannot be read.
inline double cpu_seconds(pid_t pid) { return stat_cpu_seconds(fmt::format("/proc/{}/stat", pid)); }

// CPU seconds each thread of the process has used, by thread id (the main thread's is the pid).
inline std::map<pid_t, double> thread_cpu_seconds(pid_t pid) {
  std::map<pid_t, double> out;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
    const auto tid = static_cast<pid_t>(std::stol(task.path().filename().string()));
    out[tid] = stat_cpu_seconds((task.path() / "stat").string());
  }
  return out;
}

// This process's resident memory in bytes; 0 if it cannot be read.
inline std::uint64_t own_resident_bytes() {
  std::ifstream f("/proc/self/statm");
  std::uint64_t pages = 0;
  std::uint64_t resident = 0;
  if (!(f >> pages >> resident)) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

inline double own_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// Resident memory in bytes (VmRSS); 0 if it cannot be read.
inline std::uint64_t rss_bytes(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// Seconds the process's thread `tid` has spent runnable but waiting for a core (the run delay of
// /proc/.../schedstat); 0 if it cannot be read.
inline double thread_wait_seconds(pid_t pid, pid_t tid) {
  std::ifstream f(fmt::format("/proc/{}/task/{}/schedstat", pid, tid));
  std::uint64_t running_ns = 0;
  std::uint64_t waiting_ns = 0;
  if (!(f >> running_ns >> waiting_ns)) return 0;
  return static_cast<double>(waiting_ns) / 1e9;
}

// CPU used by this process and by one node over an interval, as a share of one core.
class cpu_meter {
 public:
  explicit cpu_meter(pid_t node) : node_(node) { restart(); }
  void restart() {
    at_ = std::chrono::steady_clock::now();
    own_ = own_cpu_seconds();
    node_cpu_ = node_ > 0 ? cpu_seconds(node_) : 0;
  }
  void stop() {
    auto wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - at_).count();
    own_share = (own_cpu_seconds() - own_) / wall;
    node_share = node_ > 0 ? (cpu_seconds(node_) - node_cpu_) / wall : 0;
  }
  double own_share = 0;   // watch_load
  double node_share = 0;  // the node

 private:
  pid_t node_;
  std::chrono::steady_clock::time_point at_;
  double own_ = 0;
  double node_cpu_ = 0;
};

}  // namespace kv::bench
