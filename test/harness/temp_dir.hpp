#pragma once
// A fresh directory under $TMPDIR (or /tmp) for one test or benchmark run, removed by the
// destructor unless KV_KEEP_TEST_DIRS is set.

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

namespace kv::harness {

class temp_dir {
 public:
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::random_device rd;
    path_ = std::filesystem::path(base ? base : "/tmp") / ("kvnode-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    if (std::getenv("KV_KEEP_TEST_DIRS") == nullptr) {
      std::error_code ignored;
      std::filesystem::remove_all(path_, ignored);
    }
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace kv::harness
