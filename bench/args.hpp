#pragma once
// Command-line reading shared by the benchmark programs.

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kv::bench {

// Walks argv flag by flag; any problem ends the program with a one-line usage error (status 2).
class arg_reader {
 public:
  arg_reader(std::string program, int argc, char** argv) : program_(std::move(program)), args_(argv + 1, argv + argc) {}

  // Moves to the next flag; false when none is left.
  bool next() {
    if (++at_ >= args_.size()) return false;
    flag_ = args_[at_];
    return true;
  }
  const std::string& flag() const { return flag_; }

  // The value that follows the current flag.
  std::string value() {
    if (at_ + 1 >= args_.size()) usage(flag_ + " needs a value");
    return args_[++at_];
  }

  // The value as a number (any arithmetic type).
  template <typename T>
  T number() {
    auto text = value();
    try {
      std::size_t used = 0;
      long double v = std::stold(text, &used);
      if (used != text.size() || v < 0) throw std::invalid_argument(text);
      return static_cast<T>(v);
    } catch (const std::logic_error&) {
      usage(fmt::format("{}: \"{}\" is not a non-negative number", flag_, text));
    }
  }

  // Configuration settings for the nodes a bench starts, "key = value; key = value", as TOML
  // lines: one setting per line.
  std::string settings() {
    auto text = value();
    std::replace(text.begin(), text.end(), ';', '\n');
    return text;
  }

  // A comma-separated list of numbers: "1,16,64".
  template <typename T>
  std::vector<T> numbers() {
    auto text = value();
    std::vector<T> out;
    std::stringstream ss(text);
    for (std::string part; std::getline(ss, part, ',');) {
      try {
        out.push_back(static_cast<T>(std::stoull(part)));
      } catch (const std::logic_error&) {
        usage(fmt::format("{}: \"{}\" is not a list of numbers", flag_, text));
      }
    }
    return out;
  }

  [[noreturn]] void usage(const std::string& why) const {
    fmt::print(stderr, "{}: {}\nsee the comment at the top of bench/{}.cpp\n", program_, why, program_);
    std::exit(2);
  }

 private:
  std::string program_;
  std::vector<std::string> args_;
  std::size_t at_ = static_cast<std::size_t>(-1);
  std::string flag_;
};

}  // namespace kv::bench
