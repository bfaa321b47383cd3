#include "index/build_worker.hpp"

#include <cassert>
#include <utility>

namespace kv::search {

build_worker::build_worker() : thread_([this] { run(); }) {}

build_worker::~build_worker() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !job_; });
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void build_worker::start(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    assert(!job_);
    job_ = std::move(job);
  }
  cv_.notify_all();
}

void build_worker::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !job_; });
  if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
}

void build_worker::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return job_ || stopping_; });
    if (!job_) return;
    lock.unlock();
    std::exception_ptr failure;
    try {
      job_();
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    failure_ = failure;
    job_ = nullptr;
    cv_.notify_all();
  }
}

}  // namespace kv::search
