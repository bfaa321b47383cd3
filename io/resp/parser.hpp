#pragma once
// The Redis protocol's requests (RESP2 and RESP3 send them alike): a parser that turns the bytes a
// connection received into commands, one at a time, without I/O, so that it is tested byte by
// byte. Two forms, as Redis 7 reads them (its networking.c):
//
// - multibulk: `*<n>\r\n` then n bulk strings `$<len>\r\n<bytes>\r\n` (what client libraries and
//   redis-cli send);
// - inline: a line of words separated by spaces, ended by `\n` (`\r\n` too), with Redis's quoting:
//   "double quotes" with \n \r \t \b \a \\ \" \xHH escapes, 'single quotes' with \' only (what a
//   telnet user types). An empty line is skipped.
//
// Errors are Redis's "Protocol error: ..." texts; after one the connection is to be answered with
// it and closed (the bytes after it cannot be trusted), as Redis does. What kvnode bounds
// differently: a bulk string longer than `max_bulk_bytes` (configurable; Redis's
// proto-max-bulk-len is 512 MB) is refused when its header arrives, before any of it is buffered.
//
// Threading: a parser is one connection's, used from one coroutine.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kv::resp {

struct parser_limits {
  std::size_t max_bulk_bytes = 512u << 20;  // one argument
  std::size_t max_args = 1u << 20;          // arguments of one command
  std::size_t max_inline_bytes = 64u << 10;  // an inline command's line, or a header line (Redis's)
};

class parser {
 public:
  enum class status {
    command,     // args() holds a command (at least one argument)
    need_more,   // the buffer ends inside a command: append more bytes and call again
    error,       // a protocol error: error() holds its text; close the connection after replying
  };

  explicit parser(parser_limits limits = {}) : limits_(limits) {}

  // Reads the next command from `buf`, which holds the bytes received and not yet consumed.
  // consumed() says how many bytes of `buf` the command (and any empty inline lines before it)
  // took; the caller drops them before the next call. Arguments are views into `buf` when they
  // could be (multibulk), copies otherwise (inline, with its escapes): valid until `buf` changes.
  status next(std::string_view buf);
  const std::vector<std::string_view>& args() const noexcept { return args_; }
  std::size_t consumed() const noexcept { return consumed_; }
  const std::string& error() const noexcept { return error_; }
  // Bytes the command under way still needs beyond what next() saw, when known (a bulk string's
  // remainder): lets the caller size its buffer once. 0 if unknown.
  std::size_t missing() const noexcept { return missing_; }

 private:
  status multibulk(std::string_view buf);
  status inline_command(std::string_view buf);
  status fail(std::string message);

  parser_limits limits_;
  std::vector<std::string_view> args_;
  std::vector<std::string> inline_words_;  // inline arguments own their (unescaped) bytes
  std::size_t consumed_ = 0;
  std::size_t missing_ = 0;
  std::string error_;
};

// Splits an inline command line as Redis's sdssplitargs does; false for unbalanced quotes (or a
// closing quote not followed by a space).
bool split_inline(std::string_view line, std::vector<std::string>& words);

}  // namespace kv::resp
