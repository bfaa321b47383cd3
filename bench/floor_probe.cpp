// floor_probe: what this machine's hardware allows a durable write served over loopback.
//
//   floor_probe [--dir DIR] [--samples 2000] [--record-bytes 200] [--json]
//
// Measures, interleaved sample by sample so that the disk's drift touches every method alike:
//   rtt            one TCP round trip on 127.0.0.1 between two processes (a 128-byte request, a
//                  5-byte answer, like a SET and its +OK)
//   append+sync    pwrite of `record-bytes` at the end of a growing file, then fdatasync (what
//                  Redis's appendfsync always does per event-loop turn)
//   overwrite+sync pwrite into a file already zero-filled, then fdatasync (kvnode's WAL: its
//                  segments are written with zeros first, so a sync flushes data, not metadata)
//   uring+sync     the same as one linked io_uring write + fdatasync (kvnode's WAL until issue 19)
//   uring direct   one 4 KiB O_DIRECT|O_DSYNC write through io_uring into a zero-filled file
//   direct         the same with pwrite on the calling thread
//   2 concurrent   two append+syncs on two files at once, from two threads, until both are done
//                  (a leader's and a follower's WAL on one shared disk)
//   2 concurrent direct  the same with two 4 KiB O_DIRECT|O_DSYNC writes (pwrite)
// and prints each method's p50/p99 in microseconds, and the floors the benchmarks compare a
// one-client SET against: rtt p50 + the p50 of a write+fdatasync (append+sync), the same with the
// fastest durable write found, and for a 3-node cluster on this one disk 2 rtt + 2 concurrent,
// and the same with the faster of the two concurrent methods.
//
// DIR should be on the file system the node's data directory is on (default: /tmp).

#include "bench/args.hpp"

#include <fmt/format.h>
#include <liburing.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::size_t block = 4096;
constexpr std::size_t file_bytes = 64ull << 20;

[[noreturn]] void fail(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

double micros_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - start).count();
}

// A loopback TCP connection to a child process that answers every 128-byte request with 5 bytes.
class echo_peer {
 public:
  echo_peer() {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener, 1) != 0 || ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      fail("listen on loopback");
    }
    child_ = ::fork();
    if (child_ < 0) fail("fork");
    if (child_ == 0) serve(listener);
    ::close(listener);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("connect");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~echo_peer() {
    ::close(fd_);
    ::waitpid(child_, nullptr, 0);
  }
  echo_peer(const echo_peer&) = delete;
  echo_peer& operator=(const echo_peer&) = delete;

  double round_trip() {
    char request[128] = {};
    char answer[5];
    auto start = clock_type::now();
    if (::send(fd_, request, sizeof request, 0) != sizeof request) fail("send");
    read_exactly(fd_, answer, sizeof answer);
    return micros_since(start);
  }

 private:
  static void read_exactly(int fd, char* buf, std::size_t n) {
    for (std::size_t got = 0; got < n;) {
      ssize_t r = ::recv(fd, buf + got, n - got, 0);
      if (r <= 0) {
        if (r == 0) throw std::runtime_error("peer closed");
        fail("recv");
      }
      got += static_cast<std::size_t>(r);
    }
  }
  [[noreturn]] static void serve(int listener) {
    int fd = ::accept(listener, nullptr, nullptr);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char request[128];
    for (;;) {
      try {
        read_exactly(fd, request, sizeof request);
      } catch (const std::exception&) {
        ::_exit(0);
      }
      if (::send(fd, "+OK\r\n", 5, 0) != 5) ::_exit(1);
    }
  }

  pid_t child_ = -1;
  int fd_ = -1;
};

// A file of file_bytes, written with zeros and synced, as kvnode's WAL prepares its segments.
int zero_filled(const std::filesystem::path& path, int flags) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("open " + path.string());
  std::vector<char> zeros(1 << 20, 0);
  for (std::size_t at = 0; at < file_bytes; at += zeros.size()) {
    if (::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(at)) != static_cast<ssize_t>(zeros.size())) {
      fail("write zeros");
    }
  }
  if (::fsync(fd) != 0) fail("fsync");
  ::close(fd);
  fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | flags);
  if (fd < 0) fail("reopen " + path.string());
  return fd;
}

struct method {
  std::string name;
  std::vector<double> samples;
  double quantile(double q) {
    std::sort(samples.begin(), samples.end());
    return samples[static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1))];
  }
};

class disk_probe {
 public:
  disk_probe(const std::filesystem::path& dir, std::size_t record_bytes) : dir_(dir), record_(record_bytes, 'r') {
    append_fd_ = ::open((dir / "append.probe").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (append_fd_ < 0) fail("open append.probe");
    overwrite_fd_ = zero_filled(dir / "overwrite.probe", 0);
    uring_fd_ = zero_filled(dir / "uring.probe", 0);
    direct_fd_ = zero_filled(dir / "direct.probe", O_DIRECT | O_DSYNC);
    uring_direct_fd_ = zero_filled(dir / "uring_direct.probe", O_DIRECT | O_DSYNC);
    aligned_ = static_cast<char*>(std::aligned_alloc(block, block));
    std::memset(aligned_, 'd', block);
    if (int rc = io_uring_queue_init(8, &ring_, 0); rc < 0) {
      errno = -rc;
      fail("io_uring_queue_init");
    }
  }
  ~disk_probe() {
    io_uring_queue_exit(&ring_);
    std::free(aligned_);
    for (int fd : {append_fd_, overwrite_fd_, uring_fd_, direct_fd_, uring_direct_fd_}) ::close(fd);
    for (const char* name : {"append.probe", "overwrite.probe", "uring.probe", "direct.probe", "uring_direct.probe"}) {
      std::filesystem::remove(dir_ / name);
    }
  }
  disk_probe(const disk_probe&) = delete;
  disk_probe& operator=(const disk_probe&) = delete;

  double append_sync() {
    auto start = clock_type::now();
    write_at(append_fd_, record_.data(), record_.size(), append_at_);
    append_at_ += record_.size();
    if (::fdatasync(append_fd_) != 0) fail("fdatasync");
    return micros_since(start);
  }
  double overwrite_sync() {
    auto start = clock_type::now();
    write_at(overwrite_fd_, record_.data(), record_.size(), next(overwrite_at_, record_.size()));
    if (::fdatasync(overwrite_fd_) != 0) fail("fdatasync");
    return micros_since(start);
  }
  double uring_sync() {
    auto start = clock_type::now();
    io_uring_sqe* w = io_uring_get_sqe(&ring_);
    io_uring_prep_write(w, uring_fd_, record_.data(), static_cast<unsigned>(record_.size()),
                        next(uring_at_, record_.size()));
    w->flags |= IOSQE_IO_LINK;
    io_uring_prep_fsync(io_uring_get_sqe(&ring_), uring_fd_, IORING_FSYNC_DATASYNC);
    submit_and_reap(2);
    return micros_since(start);
  }
  double uring_direct() {
    auto start = clock_type::now();
    io_uring_prep_write(io_uring_get_sqe(&ring_), uring_direct_fd_, aligned_, block, next(uring_direct_at_, block));
    submit_and_reap(1);
    return micros_since(start);
  }
  double direct() {
    auto start = clock_type::now();
    write_at(direct_fd_, aligned_, block, next(direct_at_, block));
    return micros_since(start);
  }

 private:
  static void write_at(int fd, const char* data, std::size_t n, std::uint64_t at) {
    if (::pwrite(fd, data, n, static_cast<off_t>(at)) != static_cast<ssize_t>(n)) fail("pwrite");
  }
  // The next offset of a file of file_bytes written round and round.
  static std::uint64_t next(std::uint64_t& at, std::size_t n) {
    if (at + n > file_bytes) at = 0;
    std::uint64_t here = at;
    at += n;
    return here;
  }
  void submit_and_reap(int count) {
    if (int rc = io_uring_submit_and_wait(&ring_, static_cast<unsigned>(count)); rc < 0) {
      errno = -rc;
      fail("io_uring_submit_and_wait");
    }
    for (int i = 0; i < count; ++i) {
      io_uring_cqe* cqe = nullptr;
      if (int rc = io_uring_wait_cqe(&ring_, &cqe); rc < 0) {
        errno = -rc;
        fail("io_uring_wait_cqe");
      }
      if (cqe->res < 0) {
        errno = -cqe->res;
        fail("io_uring write or sync");
      }
      io_uring_cqe_seen(&ring_, cqe);
    }
  }

  std::filesystem::path dir_;
  std::string record_;
  char* aligned_ = nullptr;
  io_uring ring_{};
  int append_fd_ = -1, overwrite_fd_ = -1, uring_fd_ = -1, direct_fd_ = -1, uring_direct_fd_ = -1;
  std::uint64_t append_at_ = 0, overwrite_at_ = 0, uring_at_ = 0, direct_at_ = 0, uring_direct_at_ = 0;
};

// Two durable writes at once: this thread's and a helper thread's, each on its own file; either
// append+syncs or (direct) 4 KiB O_DIRECT|O_DSYNC writes into zero-filled files.
class concurrent_pair {
 public:
  concurrent_pair(const std::filesystem::path& dir, std::size_t record_bytes, bool direct)
      : dir_(dir), prefix_(direct ? "pair_direct_" : "pair_"), direct_(direct),
        mine_(open_file(dir / (prefix_ + "a.probe"), direct)), theirs_(open_file(dir / (prefix_ + "b.probe"), direct)),
        record_(record_bytes, 'p'), aligned_(static_cast<char*>(std::aligned_alloc(block, block))),
        helper_([this] { serve(); }) {
    std::memset(aligned_, 'p', block);
  }
  ~concurrent_pair() {
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    helper_.join();
    ::close(mine_.fd);
    ::close(theirs_.fd);
    std::free(aligned_);
    for (const char* end : {"a.probe", "b.probe"}) std::filesystem::remove(dir_ / (prefix_ + end));
  }
  concurrent_pair(const concurrent_pair&) = delete;
  concurrent_pair& operator=(const concurrent_pair&) = delete;

  double both() {
    auto start = clock_type::now();
    {
      std::lock_guard lock(mu_);
      ++asked_;
    }
    cv_.notify_all();
    write(mine_);
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return done_ == asked_; });
    return micros_since(start);
  }

 private:
  struct file {
    int fd = -1;
    std::uint64_t at = 0;
  };
  static file open_file(const std::filesystem::path& path, bool direct) {
    if (direct) return file{zero_filled(path, O_DIRECT | O_DSYNC), 0};
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fail("open " + path.string());
    return file{fd, 0};
  }
  void write(file& f) {
    if (direct_) {
      if (f.at + block > file_bytes) f.at = 0;
      if (::pwrite(f.fd, aligned_, block, static_cast<off_t>(f.at)) != static_cast<ssize_t>(block)) fail("pwrite");
      f.at += block;
      return;
    }
    if (::pwrite(f.fd, record_.data(), record_.size(), static_cast<off_t>(f.at)) != static_cast<ssize_t>(record_.size())) {
      fail("pwrite");
    }
    f.at += record_.size();
    if (::fdatasync(f.fd) != 0) fail("fdatasync");
  }
  void serve() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return quit_ || asked_ > done_; });
      if (quit_) return;
      lock.unlock();
      write(theirs_);
      lock.lock();
      ++done_;
      cv_.notify_all();
    }
  }

  std::filesystem::path dir_;
  std::string prefix_;
  bool direct_;
  file mine_, theirs_;
  std::string record_;
  char* aligned_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t asked_ = 0, done_ = 0;
  bool quit_ = false;
  std::thread helper_;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    std::filesystem::path base = "/tmp";
    std::size_t samples = 2000;
    std::size_t record_bytes = 200;
    bool json = false;
    kv::bench::flag_table flags("floor_probe", "the latency floor of a durable write served over loopback");
    flags.add("--dir", "DIR", "where to write (the node's file system)", base);
    flags.add("--samples", "N", "samples of each method", samples);
    flags.add("--record-bytes", "B", "bytes of each buffered write", record_bytes);
    flags.add_switch("--json", "print one JSON object", json);
    flags.parse(argc, argv);

    auto dir = base / fmt::format("floor_probe.{}", ::getpid());
    std::filesystem::create_directories(dir);
    std::vector<method> methods = {{"rtt", {}},          {"append+sync", {}},  {"overwrite+sync", {}},
                                   {"uring+sync", {}},   {"uring direct", {}}, {"direct", {}},
                                   {"2 concurrent", {}}, {"2 concurrent direct", {}}};
    {
      echo_peer peer;
      disk_probe disk(dir, record_bytes);
      concurrent_pair pair(dir, record_bytes, false);
      concurrent_pair direct_pair(dir, record_bytes, true);
      for (std::size_t i = 0; i < samples; ++i) {
        methods[0].samples.push_back(peer.round_trip());
        methods[1].samples.push_back(disk.append_sync());
        methods[2].samples.push_back(disk.overwrite_sync());
        methods[3].samples.push_back(disk.uring_sync());
        methods[4].samples.push_back(disk.uring_direct());
        methods[5].samples.push_back(disk.direct());
        methods[6].samples.push_back(pair.both());
        methods[7].samples.push_back(direct_pair.both());
      }
    }
    std::filesystem::remove_all(dir);

    double rtt = methods[0].quantile(0.5);
    double fsync_floor = methods[1].quantile(0.5);
    double best = fsync_floor;
    std::string best_name = methods[1].name;
    for (std::size_t i = 2; i < 6; ++i) {
      if (methods[i].quantile(0.5) < best) {
        best = methods[i].quantile(0.5);
        best_name = methods[i].name;
      }
    }
    double cluster_floor = 2 * rtt + methods[6].quantile(0.5);
    double best_cluster_floor = 2 * rtt + std::min(methods[6].quantile(0.5), methods[7].quantile(0.5));
    if (json) {
      std::string out = "{";
      for (auto& m : methods) {
        out += fmt::format("\"{}\":{{\"p50_us\":{:.1f},\"p99_us\":{:.1f}}},", m.name, m.quantile(0.5), m.quantile(0.99));
      }
      out += fmt::format("\"floor_us\":{:.1f},\"best_floor_us\":{:.1f},\"best\":\"{}\",\"cluster_floor_us\":{:.1f},"
                         "\"best_cluster_floor_us\":{:.1f}}}",
                         rtt + fsync_floor, rtt + best, best_name, cluster_floor, best_cluster_floor);
      fmt::print("{}\n", out);
    } else {
      fmt::print("# {} samples of each, interleaved; {}-byte records, 4 KiB direct writes, in {}\n", samples,
                 record_bytes, base.string());
      fmt::print("{:<20}{:>10}{:>10}\n", "method", "p50 µs", "p99 µs");
      for (auto& m : methods) fmt::print("{:<20}{:>10.1f}{:>10.1f}\n", m.name, m.quantile(0.5), m.quantile(0.99));
      fmt::print("floor: rtt + append+sync = {:.1f} µs; with the fastest durable write ({}) {:.1f} µs\n",
                 rtt + fsync_floor, best_name, rtt + best);
      fmt::print("3-node floor on this disk: 2 rtt + 2 concurrent = {:.1f} µs; with the faster concurrent writes {:.1f} µs\n",
                 cluster_floor, best_cluster_floor);
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "floor_probe: {}\n", e.what());
    return 1;
  }
}
