// A small program using kvnode's asynchronous C++ client with co_await: it writes a few keys,
// reads them back, deletes one, and prints what it saw.
//
//   build/bin/client_example [host:port]      (default 127.0.0.1:7379)
//   build/bin/client_example --help | --version

#include "core/base/version.hpp"
#include "io/client/client.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>

#include <string_view>

namespace {
constexpr const char* usage_text = R"(usage: client_example [HOST:PORT]

Writes a few keys to the kvnode node at HOST:PORT (default 127.0.0.1:7379) with kvnode's C++
client, reads them back, deletes one, and prints what it saw. See apps/example/client_example.cpp.

options:
  -h, --help   print this help
  --version    print the version
)";
}  // namespace

asio::awaitable<int> demo(kv::client& db) {
  // Writes return the revision they took (and the log index they were applied at).
  auto written = co_await db.set("greeting", "hello");
  if (!written) {
    fmt::print(stderr, "set failed: {}\n", written.message());
    co_return 1;
  }
  fmt::print("set greeting at revision {} (log index {})\n", written->revision, written->index);

  // BulkSet is atomic: all pairs or none. (g++ 12 cannot keep a braced initializer list in a
  // coroutine frame, so the pairs are added one by one.)
  std::vector<std::pair<std::string, std::string>> fruit;
  fruit.emplace_back("fruit:1", "apple");
  fruit.emplace_back("fruit:2", "pear");
  auto bulk = co_await db.bulk_set(std::move(fruit));
  if (!bulk) co_return 1;

  // Not-found is a result, not an exception.
  auto value = co_await db.get("greeting");
  fmt::print("greeting = {}\n", value ? *value : value.message());
  co_await db.del("greeting");
  auto gone = co_await db.get("greeting");
  fmt::print("after delete: {}\n", gone.is(kv::errc::not_found) ? "not found" : "still there?!");

  auto status = co_await db.status();
  if (status) fmt::print("node {} holds {} keys\n", status->number("node_id"), status->number("keys"));
  co_return 0;
}

int main(int argc, char** argv) {
  std::string endpoint = "127.0.0.1:7379";
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-h" || a == "--help") {
      fmt::print("{}", usage_text);
      return 0;
    }
    if (a == "--version") {
      fmt::print("client_example {}\n", kv::version);
      return 0;
    }
    if (a.starts_with("-") || i > 1) {
      fmt::print(stderr, "client_example: unexpected argument \"{}\" (see client_example --help)\n", a);
      return 2;
    }
    endpoint = a;
  }
  asio::io_context ctx;
  kv::client db(ctx.get_executor(), {.endpoints = {endpoint}});
  int status = 1;
  asio::co_spawn(ctx, demo(db), [&](std::exception_ptr, int s) {
    status = s;
    db.close();
  });
  ctx.run();
  return status;
}
