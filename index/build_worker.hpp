#pragma once
// A second thread for building the index: search_index hands it the n-gram half of a batch of
// documents while the calling thread does the full-text half (search_index.cpp). One job at a
// time: start() hands a job over, wait() blocks until it has run and rethrows what it threw.
//
// Threading: start() and wait() are called by the one thread that owns the index; the job runs
// on the worker's thread and must touch nothing the owner touches until wait() returns.

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace kv::search {

class build_worker {
 public:
  build_worker();
  // Waits for the job in hand (its failure is dropped) and joins the thread.
  ~build_worker();
  build_worker(const build_worker&) = delete;
  build_worker& operator=(const build_worker&) = delete;

  // Runs job on the worker's thread. The previous job must have been waited for.
  void start(std::function<void()> job);
  // Blocks until the job started last has run (at once if there is none); rethrows its exception.
  void wait();

 private:
  void run();

  std::mutex mu_;  // guards everything below but thread_
  std::condition_variable cv_;
  std::function<void()> job_;  // set: a job to run or running
  bool stopping_ = false;
  std::exception_ptr failure_;
  std::thread thread_;
};

}  // namespace kv::search
