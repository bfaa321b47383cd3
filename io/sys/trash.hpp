#pragma once
// Files a node no longer needs (WAL segments a snapshot covers, superseded snapshots), given back
// to the file system a slice at a time on a thread of their own.
//
// Why not unlink(2): on a file system mounted with online discard, freeing a file discards all
// its blocks when the journal commits, and the device serves that discard before the writes
// queued behind it. Unlinking a 120 MB snapshot held a WAL write for 29 ms on this project's
// machine (docs/benchmarks.md, "Deleting files"). So a file is renamed out of the way (its name
// gets `suffix`: nothing reads it after that, and a restart finds it by that name), then cut
// from its end `chunk` bytes at a time, each cut synced so that its blocks are freed (and
// discarded) by a commit of their own, `pause` apart, and unlinked once empty. RocksDB's
// SstFileManager deletes files in chunks for the same reason.
//
// Thread-safe: add() from any thread. The destructor unlinks what is left at once.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

namespace kv::io {

class trash {
 public:
  static constexpr std::string_view suffix = ".trash";

  struct options {
    std::uint64_t chunk_bytes = 4ull << 20;
    std::chrono::milliseconds pause{10};
  };

  // Starts the thread and queues the files of `dir` a previous run left with `suffix`.
  explicit trash(const std::filesystem::path& dir) : trash(dir, options{}) {}
  trash(const std::filesystem::path& dir, options o);
  ~trash();
  trash(const trash&) = delete;
  trash& operator=(const trash&) = delete;

  // The name `name` takes in the trash (`name` + suffix).
  static std::string trash_name(std::string_view name) { return std::string(name) + std::string(suffix); }

  // Queues <dir>/`trash_name(name)`, which the caller has renamed there, for deletion.
  void add(std::string_view name);

  // Files queued or being cut, and bytes given back so far (what the tests watch).
  std::size_t pending() const;
  std::uint64_t freed_bytes() const;

 private:
  void run();
  // Cuts one file down and unlinks it; false if the trash is stopping (the file is left whole).
  bool shred(const std::filesystem::path& path);

  std::filesystem::path dir_;
  options opts_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::filesystem::path> queue_;
  bool busy_ = false;  // a file was taken off the queue and is being cut
  bool stopping_ = false;
  std::uint64_t freed_ = 0;
  std::thread thread_;
};

}  // namespace kv::io
