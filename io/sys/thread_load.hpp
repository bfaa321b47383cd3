#pragma once
// How busy the calling thread is, and how long it waited for a CPU, between two samples: the
// share of wall time it ran on a CPU, and the share it was runnable but waiting for one
// (/proc/thread-self/schedstat: time on a CPU and time on a run queue, in ns).
//
// A thread that runs most of the time is what limits the work it does; one that also waits for
// a CPU shares its cores with other busy threads.
//
// Threading: construct and sample on the thread measured. Without schedstat (a kernel built
// without it), both shares read 0.

#include <chrono>
#include <cstdio>
#include <cstdint>

#include <fcntl.h>
#include <unistd.h>

namespace kv::io {

class thread_load {
 public:
  struct shares {
    double running = 0;  // of the wall time since the previous sample, from 0 to about 1
    double waiting = 0;  // runnable, waiting for a CPU
  };

  thread_load() : fd_(::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC)) { read(last_); }
  ~thread_load() {
    if (fd_ >= 0) ::close(fd_);
  }
  thread_load(const thread_load&) = delete;
  thread_load& operator=(const thread_load&) = delete;

  shares sample() {
    counters now;
    if (!read(now)) return {};
    const double wall = static_cast<double>((now.wall - last_.wall).count());
    shares s;
    if (wall > 0) {
      s.running = static_cast<double>(now.ran_ns - last_.ran_ns) / wall;
      s.waiting = static_cast<double>(now.waited_ns - last_.waited_ns) / wall;
    }
    last_ = now;
    return s;
  }

 private:
  struct counters {
    std::uint64_t ran_ns = 0;
    std::uint64_t waited_ns = 0;
    std::chrono::steady_clock::time_point wall;
  };

  bool read(counters& c) {
    char buf[128];
    const auto n = fd_ < 0 ? -1 : ::pread(fd_, buf, sizeof buf - 1, 0);
    if (n <= 0) return false;
    buf[n] = '\0';
    unsigned long long ran = 0, waited = 0;
    if (std::sscanf(buf, "%llu %llu", &ran, &waited) != 2) return false;
    c = {ran, waited, std::chrono::steady_clock::now()};
    return true;
  }

  int fd_;
  counters last_;
};

}  // namespace kv::io
