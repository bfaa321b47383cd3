// Every program answers --help (usage and its options, exit 0) and --version ("NAME VERSION"
// from core/base/version.hpp, exit 0).

#include "core/base/version.hpp"
#include "harness/process.hpp"

#include <boost/test/unit_test.hpp>

#include <cctype>

using namespace kv::harness;

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Every program built, with one option each documents in its --help.
const std::vector<std::pair<std::string, std::string>> programs{
    {"kvnode", "--config"},          {"kvctl", "--endpoints"},        {"client_example", "--version"},
    {"kvbench", "--connections"},    {"storage_bench", "--writers"},  {"recovery_bench", "--load-seconds"},
    {"failover_bench", "--rounds"},  {"search_bench", "--docs"},      {"index_bench", "--docs"},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(help_and_version)

BOOST_AUTO_TEST_CASE(every_program_answers_help) {
  for (const auto& [name, option] : programs) {
    auto r = run_command({binary(name).string(), "--help"});
    BOOST_TEST(r.exit_code == 0, name << ": " << r.err);
    BOOST_TEST(has(lower(r.out), "usage: " + name), name << ": " << r.out);
    BOOST_TEST(has(r.out, option), name << " does not document " << option);
    BOOST_TEST(has(r.out, "--version"), name);
    BOOST_TEST(r.err.empty(), name << ": " << r.err);
  }
}

BOOST_AUTO_TEST_CASE(every_program_answers_version) {
  for (const auto& [name, option] : programs) {
    auto r = run_command({binary(name).string(), "--version"});
    BOOST_TEST(r.exit_code == 0, name << ": " << r.err);
    BOOST_TEST(r.out == name + " " + std::string(kv::version) + "\n", name << ": " << r.out);
  }
}

// The benches' defaults in --help come from the values the flags start with.
BOOST_AUTO_TEST_CASE(bench_help_shows_defaults_and_bad_flags_are_one_line_usage_errors) {
  auto help = run_command({binary("kvbench").string(), "--help"});
  BOOST_TEST(has(help.out, "--connections N"), help.out);
  BOOST_TEST(has(help.out, "(default 50)"), help.out);
  auto bad = run_command({binary("kvbench").string(), "--connections", "lots"});
  BOOST_TEST(bad.exit_code == 2);
  BOOST_TEST(bad.err == "kvbench: --connections: \"lots\" is not a non-negative whole number (see kvbench --help)\n");
  auto unknown = run_command({binary("storage_bench").string(), "--frobnicate"});
  BOOST_TEST(unknown.exit_code == 2);
  BOOST_TEST(unknown.err == "storage_bench: unknown option \"--frobnicate\" (see storage_bench --help)\n");
}

BOOST_AUTO_TEST_SUITE_END()
