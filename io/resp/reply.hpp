#pragma once
// The Redis protocol's replies, in RESP2 or (after HELLO 3) RESP3: appending one value at a time
// to a connection's output buffer. Where RESP2 has no such type, the RESP2 form is the one Redis 7
// sends: a null is `$-1` (a null array `*-1`), a map is a flat array of keys and values, a set an
// array, a double a bulk string, a boolean an integer 1 or 0.

#include <cstdint>
#include <string>
#include <string_view>

namespace kv::resp {

enum class version : std::uint8_t { resp2 = 2, resp3 = 3 };

class reply {
 public:
  explicit reply(std::string& out, version v = version::resp2) : out_(out), v_(v) {}

  version protocol() const noexcept { return v_; }
  void set_protocol(version v) noexcept { v_ = v; }

  // `+text`: a status such as OK (no CR or LF in it).
  void simple(std::string_view text);
  // `-text`: an error; `text` starts with its code ("ERR ...", "WRONGTYPE ..."). CR and LF in it
  // become spaces, as Redis does to error texts.
  void error(std::string_view text);
  void integer(std::int64_t n);
  void bulk(std::string_view bytes);
  // Text for people (INFO, CLIENT LIST): RESP3's verbatim string of format "txt"; RESP2 a bulk.
  void verbatim_text(std::string_view text);
  void null();        // a missing value: `$-1` / `_`
  void null_array();  // a missing array: `*-1` / `_`
  void array(std::size_t n);  // then n values
  void map(std::size_t pairs);  // then 2 × pairs values, key first
  void set(std::size_t n);
  void boolean(bool b);
  void real(double d);
  // A push (RESP3 `>`; RESP2 an array): pub/sub messages.
  void push(std::size_t n);

 private:
  void header(char type, std::size_t n);
  std::string& out_;
  version v_;
};

}  // namespace kv::resp
