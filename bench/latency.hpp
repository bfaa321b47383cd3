#pragma once
// Latency samples and their percentiles, for benchmarks.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace kv::bench {

class latency_recorder {
 public:
  void add(std::chrono::nanoseconds d) { samples_.push_back(d.count()); }
  void merge(const latency_recorder& o) { samples_.insert(samples_.end(), o.samples_.begin(), o.samples_.end()); }
  std::size_t count() const noexcept { return samples_.size(); }

  // The q-quantile (0..1) in microseconds; sorts on first use after adding.
  double percentile_us(double q) {
    if (samples_.empty()) return 0;
    if (!sorted_) {
      std::sort(samples_.begin(), samples_.end());
      sorted_ = true;
    }
    auto i = static_cast<std::size_t>(q * static_cast<double>(samples_.size() - 1));
    return static_cast<double>(samples_[i]) / 1000.0;
  }

 private:
  std::vector<std::int64_t> samples_;
  bool sorted_ = false;
};

}  // namespace kv::bench
