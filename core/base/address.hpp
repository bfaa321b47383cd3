#pragma once
// Network addresses as written in configuration and on the command line.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kv {

struct host_port {
  std::string host;
  std::uint16_t port = 0;
};

// Splits "host:port" or "[v6-address]:port". Returns nullopt for anything else.
std::optional<host_port> parse_host_port(std::string_view text);

}  // namespace kv
