#pragma once
// How busy the calling thread is: the share of wall time it ran on a CPU between two samples
// (CLOCK_THREAD_CPUTIME_ID against the steady clock). Time spent runnable but waiting for a CPU
// does not count: a thread that waits for a core is not helped by handing work to another thread.
//
// Threading: construct and sample on the thread measured.

#include <chrono>
#include <ctime>

namespace kv::io {

class thread_load {
 public:
  thread_load() : cpu_(thread_cpu()), wall_(std::chrono::steady_clock::now()) {}

  // The share since the previous sample (or construction), from 0 to about 1.
  double sample() {
    const auto cpu = thread_cpu();
    const auto wall = std::chrono::steady_clock::now();
    const std::chrono::duration<double> ran = cpu - cpu_;
    const std::chrono::duration<double> passed = wall - wall_;
    cpu_ = cpu;
    wall_ = wall;
    return passed.count() > 0 ? ran.count() / passed.count() : 0.0;
  }

 private:
  static std::chrono::nanoseconds thread_cpu() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  }

  std::chrono::nanoseconds cpu_;
  std::chrono::steady_clock::time_point wall_;
};

}  // namespace kv::io
