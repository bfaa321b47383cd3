#pragma once
// The search benchmark's corpus: Debian package descriptions, as this machine's apt knows them.
//
// Packages come from `apt-cache dumpavail` (one record per package, the candidate version). Its
// records carry only the one-line synopsis and a Description-md5; the long descriptions live in
// apt's Translation-en files (downloaded by `apt-get update -o Acquire::Languages=en`), which
// are joined in by that md5. A package whose md5 no Translation-en file has keeps its synopsis.
//
// A document's key is the package name (with "=version:arch" when a name repeats); its value is
// the synopsis, a newline, then the long description with its continuation lines joined by
// spaces and each " ." line (a paragraph break) turned into a newline.
//
// Scaling to N documents (deterministic, no seed): document i < P (P packages) is package i;
// document i >= P is a copy of package i mod P, key "<key>#<i / P>", whose value is that
// package's value, a newline, and the synopsis of package mix(i) mod P, so copies differ.
//
// The parsing functions are pure; load_packages() runs the two apt commands.

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace kv::bench {

struct document {
  std::string key;
  std::string value;
};

// One deb822 stanza: field names to values, continuation lines kept with their newlines and
// leading space ("Synopsis\n line two\n .\n line four").
using stanza = std::unordered_map<std::string, std::string>;

// Calls `on_stanza` for each stanza of `text`; `text` may end in the middle of one (streaming:
// the unfinished tail is returned, to be prefixed to the next chunk).
template <typename OnStanza>
std::string parse_stanzas(std::string_view text, bool at_end, OnStanza&& on_stanza) {
  stanza current;
  std::string last_field;
  std::size_t stanza_start = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto eol = text.find('\n', pos);
    if (eol == std::string_view::npos) {
      if (!at_end) break;
      eol = text.size();
    }
    auto line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) {
      if (!current.empty()) on_stanza(current);
      current.clear();
      last_field.clear();
      stanza_start = std::min(pos, text.size());
    } else if ((line[0] == ' ' || line[0] == '\t') && !last_field.empty()) {
      auto& v = current[last_field];
      v += '\n';
      v += line;
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
      last_field = std::string(line.substr(0, colon));
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      current[last_field] = std::string(value);
    }
  }
  if (at_end) {
    if (!current.empty()) on_stanza(current);
    return {};
  }
  return std::string(text.substr(stanza_start));
}

// A Description field as a document value: the synopsis, a newline, the long description's
// lines joined by spaces with " ." lines as newlines.
inline std::string description_value(std::string_view field) {
  auto eol = field.find('\n');
  std::string out(field.substr(0, eol));
  if (eol == std::string_view::npos) return out;
  out += '\n';
  bool paragraph_start = true;
  for (auto pos = eol + 1; pos <= field.size();) {
    auto next = field.find('\n', pos);
    if (next == std::string_view::npos) next = field.size();
    auto line = field.substr(pos, next - pos);
    pos = next + 1;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) line.remove_prefix(1);
    if (line == ".") {
      out += '\n';
      paragraph_start = true;
      continue;
    }
    if (!paragraph_start) out += ' ';
    out += line;
    paragraph_start = false;
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// The first line of a value (its synopsis).
inline std::string_view synopsis(std::string_view value) { return value.substr(0, value.find('\n')); }

// Runs `command` and streams its standard output, parsed as stanzas, to `on_stanza`.
template <typename OnStanza>
void read_command_stanzas(const std::string& command, OnStanza&& on_stanza) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string pending;
  std::vector<char> buffer(1 << 20);
  for (;;) {
    auto n = std::fread(buffer.data(), 1, buffer.size(), pipe.get());
    if (n == 0) break;
    pending.append(buffer.data(), n);
    pending = parse_stanzas(pending, false, on_stanza);
  }
  parse_stanzas(pending, true, on_stanza);
  if (::pclose(pipe.release()) != 0) throw std::runtime_error(command + " failed");
}

// Where the packages came from, for the report.
struct corpus_source {
  std::size_t packages = 0;
  std::size_t long_descriptions = 0;  // packages whose long description was found
  std::size_t translation_files = 0;
};

// apt's Translation-en files in `lists_dir`.
inline std::vector<std::filesystem::path> translation_files(const std::filesystem::path& lists_dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(lists_dir, ec)) {
    auto name = entry.path().filename().string();
    if (entry.is_regular_file() && name.find("_i18n_Translation-en") != std::string::npos) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Every package apt knows, in dumpavail's order, with its long description where apt has it.
inline std::vector<document> load_packages(corpus_source& source,
                                           const std::filesystem::path& lists_dir = "/var/lib/apt/lists") {
  std::unordered_map<std::string, std::string> long_by_md5;
  auto files = translation_files(lists_dir);
  source.translation_files = files.size();
  if (!files.empty()) {
    std::string command = "/usr/lib/apt/apt-helper cat-file";
    for (const auto& f : files) command += " '" + f.string() + "'";
    read_command_stanzas(command, [&](const stanza& s) {
      auto md5 = s.find("Description-md5");
      auto text = s.find("Description-en");
      if (md5 != s.end() && text != s.end()) long_by_md5.emplace(md5->second, text->second);
    });
  }
  struct raw {
    std::string name, version, arch, value;
  };
  std::vector<raw> packages;
  std::unordered_map<std::string, int> name_count;
  read_command_stanzas("apt-cache dumpavail", [&](const stanza& s) {
    auto get = [&](const char* field) {
      auto it = s.find(field);
      return it == s.end() ? std::string() : it->second;
    };
    auto name = get("Package");
    if (name.empty()) return;
    auto found = long_by_md5.find(get("Description-md5"));
    bool has_long = found != long_by_md5.end();
    source.long_descriptions += has_long;
    packages.push_back({name, get("Version"), get("Architecture"),
                        description_value(has_long ? found->second : get("Description"))});
    ++name_count[name];
  });
  std::vector<document> out;
  out.reserve(packages.size());
  std::unordered_set<std::string> keys;
  for (auto& p : packages) {
    auto key = name_count[p.name] > 1 ? fmt::format("{}={}:{}", p.name, p.version, p.arch) : p.name;
    if (!keys.insert(key).second) continue;  // the same package listed twice
    out.push_back({std::move(key), std::move(p.value)});
  }
  source.packages = out.size();
  return out;
}

// splitmix64: a fixed, well-mixed function of a document number.
inline std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Document i of a corpus built from `packages` (see the header comment).
inline document scaled_document(const std::vector<document>& packages, std::uint64_t i) {
  auto p = packages.size();
  const auto& base = packages[i % p];
  if (i < p) return base;
  auto copy = i / p;
  return {fmt::format("{}#{}", base.key, copy),
          fmt::format("{}\n{}", base.value, synopsis(packages[mix(i) % p].value))};
}

// The first `n` documents of the scaled corpus.
inline std::vector<document> scaled_corpus(const std::vector<document>& packages, std::uint64_t n) {
  if (packages.empty()) throw std::runtime_error("apt knows no packages: run apt-get update");
  std::vector<document> out;
  out.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) out.push_back(scaled_document(packages, i));
  return out;
}

}  // namespace kv::bench
