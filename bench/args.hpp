#pragma once
// Command-line reading shared by the benchmark programs: one table of flags that both parses
// argv and prints --help, so that the help cannot drift from what is accepted.
//
//   kv::bench::flag_table flags("kvbench", "load generator for a running kvnode");
//   flags.add("--seconds", "S", "how long the load runs", o.seconds);  // the default: o.seconds now
//   flags.add_switch("--json", "print one JSON object", o.json);
//   flags.parse(argc, argv);  // fills the targets; --help and --version print and exit 0
//
// Any problem ends the program with a one-line usage error on standard error (status 2).

#include "core/base/version.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

namespace kv::bench {

class flag_table {
 public:
  // `summary`: one line saying what the program does, printed by --help above the flags.
  flag_table(std::string program, std::string summary) : program_(std::move(program)), summary_(std::move(summary)) {}
  flag_table(const flag_table&) = delete;  // the flags refer to the table
  flag_table& operator=(const flag_table&) = delete;

  // A flag whose value is stored in `target`: a number (integers must be whole), a string, a
  // path, or a comma-separated list of numbers or strings ("1,16,64"). `target`'s value now is
  // the default --help shows. `meta` names the value in the help ("N", "H:P,...").
  template <typename T>
  void add(std::string name, std::string meta, std::string help, T& target) {
    add_parsed(std::move(name), std::move(meta), std::move(help), shown(target),
               [this, &target](const std::string& name, const std::string& text) { target = convert<T>(name, text); });
  }

  // A flag without a value: when given, `target` becomes `when_given`.
  void add_switch(std::string name, std::string help, bool& target, bool when_given = true) {
    flags_.push_back(flag{std::move(name), {}, std::move(help), {}, [&target, when_given](const std::string&) {
                            target = when_given;
                          }});
  }

  // A flag whose value `apply(name, text)` checks and stores (calling usage_error if it is wrong);
  // `default_shown` is what --help says the default is ("" for none).
  void add_parsed(std::string name, std::string meta, std::string help, std::string default_shown,
                  std::function<void(const std::string& name, const std::string& text)> apply) {
    flags_.push_back(flag{std::move(name), std::move(meta), std::move(help), std::move(default_shown),
                          [apply = std::move(apply), this](const std::string& text) { apply(current_, text); }});
    flags_.back().takes_value = true;
  }

  // Changes the default --help shows for the flag added last (for a default computed at run
  // time, such as a random seed).
  void shown_default(std::string text) { flags_.back().default_shown = std::move(text); }

  // Reads every flag of argv into its target. --help and --version print to standard output and
  // exit with status 0; an unknown flag or a bad value is a usage error.
  void parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      current_ = argv[i];
      if (current_ == "-h" || current_ == "--help") {
        fmt::print("{}", help());
        std::exit(0);
      }
      if (current_ == "--version") {
        fmt::print("{} {}\n", program_, kv::version);
        std::exit(0);
      }
      const flag* f = find(current_);
      if (f == nullptr) usage_error(fmt::format("unknown option \"{}\"", current_));
      std::string text;
      if (f->takes_value) {
        if (i + 1 >= argc) usage_error(current_ + " needs a value");
        text = argv[++i];
      }
      f->apply(text);
    }
  }

  // The --help text: usage, the summary, every flag with its default.
  std::string help() const {
    std::string out = fmt::format("usage: {} [options]\n\n{}\n\noptions:\n", program_, summary_);
    for (const auto& f : flags_) {
      auto head = f.meta.empty() ? f.name : f.name + " " + f.meta;
      auto text = f.help + (f.default_shown.empty() ? "" : " (default " + f.default_shown + ")");
      if (head.size() > help_column - 4) {
        out += fmt::format("  {}\n{:{}}{}\n", head, "", help_column, text);
      } else {
        out += fmt::format("  {:<{}}{}\n", head, help_column - 2, text);
      }
    }
    out += fmt::format("  {:<{}}{}\n", "-h, --help", help_column - 2, "print this help");
    out += fmt::format("  {:<{}}{}\n", "--version", help_column - 2, "print the version");
    return out;
  }

  [[noreturn]] void usage_error(const std::string& why) const {
    fmt::print(stderr, "{}: {} (see {} --help)\n", program_, why, program_);
    std::exit(2);
  }

 private:
  static constexpr std::size_t help_column = 28;

  struct flag {
    std::string name;
    std::string meta;  // empty for a switch
    std::string help;
    std::string default_shown;
    std::function<void(const std::string& text)> apply;
    bool takes_value = false;
  };

  const flag* find(const std::string& name) const {
    for (const auto& f : flags_)
      if (f.name == name) return &f;
    return nullptr;
  }

  template <typename T>
  struct is_vector : std::false_type {};
  template <typename T>
  struct is_vector<std::vector<T>> : std::true_type {};

  template <typename T>
  static std::string shown(const T& v) {
    if constexpr (std::is_same_v<T, std::string>) {
      return v;
    } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
      return v.string();
    } else if constexpr (is_vector<T>::value) {
      std::string out;
      for (const auto& e : v) out += (out.empty() ? "" : ",") + shown(e);
      return out;
    } else {
      static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, "a switch takes add_switch");
      return fmt::format("{}", v);
    }
  }

  template <typename T>
  T convert(const std::string& name, const std::string& text) const {
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::filesystem::path>) {
      return T(text);
    } else if constexpr (is_vector<T>::value) {
      T out;
      std::size_t begin = 0;
      while (begin <= text.size()) {
        auto end = std::min(text.find(',', begin), text.size());
        if (end > begin) out.push_back(convert<typename T::value_type>(name, text.substr(begin, end - begin)));
        begin = end + 1;
      }
      if (out.empty()) usage_error(fmt::format("{} needs a comma-separated list, got \"{}\"", name, text));
      return out;
    } else if constexpr (std::is_floating_point_v<T>) {
      char* end = nullptr;
      double v = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !(v >= 0)) {
        usage_error(fmt::format("{}: \"{}\" is not a non-negative number", name, text));
      }
      return static_cast<T>(v);
    } else {
      T v{};
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size() || v < T{}) {
        usage_error(fmt::format("{}: \"{}\" is not a non-negative whole number", name, text));
      }
      return v;
    }
  }

  std::string program_;
  std::string summary_;
  std::vector<flag> flags_;
  std::string current_;  // the flag being parsed
};

// Configuration settings for the nodes a bench starts, given as "key = value; key = value":
// TOML lines, one setting per line.
inline std::string settings_lines(std::string text) {
  for (auto& c : text)
    if (c == ';') c = '\n';
  return text;
}

}  // namespace kv::bench
