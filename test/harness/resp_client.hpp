#pragma once
// A blocking Redis-protocol connection for tests: sends raw bytes and reads raw replies, so a
// test states the exact bytes it expects. `cmd` builds a command as clients send it.

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kv::harness {

// A blocking RESP connection that sends raw bytes and reads raw replies.
class raw_client {
 public:
  explicit raw_client(unsigned short port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect failed");
  }
  ~raw_client() { ::close(fd_); }
  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      auto n = ::write(fd_, bytes.data(), bytes.size());
      if (n <= 0) throw std::runtime_error("write failed");
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // Reads until `n` bytes came, the peer closed, or 5 s passed.
  std::string read(std::size_t n) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[65536];
      auto got = ::read(fd_, buf, sizeof buf);
      if (got <= 0) {
        closed_ = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(got));
    }
    return out;
  }
  // Reads one line, "\r\n" included: a simple reply, an error or an integer (as `ask`, for
  // a request whose answer's length is not known). Empty if none came within 5 s.
  std::string read_line() {
    std::string out;
    while (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) {
      auto got = read(1);
      if (got.empty()) return {};
      out += got;
    }
    return out;
  }
  // Sends `request` and reads exactly the bytes `expected` has.
  std::string ask(std::string_view request, std::string_view expected) {
    send(request);
    return read(expected.size());
  }
  bool closed() {
    if (!closed_) read(1);
    return closed_;
  }

 private:
  int fd_ = -1;
  bool closed_ = false;
};

inline std::string cmd(std::initializer_list<std::string_view> args) {
  std::string out = fmt::format("*{}\r\n", args.size());
  for (auto a : args) out += fmt::format("${}\r\n{}\r\n", a.size(), a);
  return out;
}

}  // namespace kv::harness
