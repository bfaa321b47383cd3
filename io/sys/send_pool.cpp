#include "io/sys/send_pool.hpp"

#include <spdlog/spdlog.h>

#include <pthread.h>

#include <exception>
#include <string>

namespace kv::io {

send_pool::send_pool(unsigned threads, std::chrono::milliseconds drain_timeout) : drain_timeout_(drain_timeout) {
  for (unsigned i = 0; i < threads; ++i) {
    auto w = std::make_unique<worker>();
    w->thread = std::thread([w = w.get(), i] {
      pthread_setname_np(pthread_self(), ("kv-send-" + std::to_string(i)).c_str());
      try {
        w->context.run();
      } catch (const std::exception& e) {
        // Nothing on these threads throws by contract: each connection's drain has a handler.
        spdlog::critical("send thread {} stopped: {}", i, e.what());
        std::terminate();
      }
      w->ran_out.set_value();
    });
    workers_.push_back(std::move(w));
  }
}

send_pool::~send_pool() {
  for (auto& w : workers_) w->work.reset();
  const auto deadline = std::chrono::steady_clock::now() + drain_timeout_;
  for (auto& w : workers_) {
    if (w->ran_out.get_future().wait_until(deadline) == std::future_status::timeout) {
      spdlog::warn("dropping connections' unsent output: the clients did not take it within {} ms",
                   drain_timeout_.count());
      w->context.stop();
    }
    w->thread.join();
  }
}

asio::io_context* send_pool::next() noexcept {
  if (workers_.empty()) return nullptr;
  auto* ctx = &workers_[next_]->context;
  next_ = (next_ + 1) % workers_.size();
  return ctx;
}

}  // namespace kv::io
