#include "apps/kvnode/log_file_sink.hpp"

#include "apps/kvnode/log_formatter.hpp"
#include "harness/process.hpp"
#include "harness/temp_dir.hpp"

#include <spdlog/logger.h>

#include <boost/test/unit_test.hpp>

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct file_logger {
  explicit file_logger(const std::filesystem::path& path)
      : sink(std::make_shared<kv::logging::log_file_sink>(path)), logger("test", sink) {
    logger.set_formatter(std::make_unique<kv::logging::log_formatter>(kv::log_format::text, 1));
    logger.flush_on(spdlog::level::trace);
  }
  std::shared_ptr<kv::logging::log_file_sink> sink;
  spdlog::logger logger;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(log_file_sink)

BOOST_AUTO_TEST_CASE(creates_the_directory_and_appends) {
  kv::harness::temp_dir dir;
  auto path = dir / "logs/sub/kv.log";
  {
    file_logger log(path);
    log.logger.info("first");
  }
  file_logger log(path);
  log.logger.info("second");
  auto text = kv::harness::slurp(path);
  BOOST_TEST(has(text, "info  first\n"));
  BOOST_TEST(has(text, "info  second\n"));
}

BOOST_AUTO_TEST_CASE(reopen_writes_to_a_new_file_at_the_path) {
  kv::harness::temp_dir dir;
  auto path = dir / "kv.log";
  file_logger log(path);
  log.logger.info("before rotation");
  std::filesystem::rename(path, dir / "kv.log.1");
  log.logger.info("after rename");  // still the open file, now kv.log.1
  BOOST_TEST(!log.sink->reopen());
  log.logger.info("after reopen");
  auto rotated = kv::harness::slurp(dir / "kv.log.1");
  auto fresh = kv::harness::slurp(path);
  BOOST_TEST(has(rotated, "before rotation"));
  BOOST_TEST(has(rotated, "after rename"));
  BOOST_TEST(!has(rotated, "after reopen"));
  BOOST_TEST(fresh.ends_with("info  after reopen\n"), fresh);
  BOOST_TEST(!has(fresh, "after rename"));
}

BOOST_AUTO_TEST_CASE(a_failed_reopen_keeps_the_open_file) {
  kv::harness::temp_dir dir;
  auto path = dir / "logs/kv.log";
  file_logger log(path);
  std::filesystem::rename(dir / "logs", dir / "old-logs");
  std::ofstream(dir / "logs") << "a file where the directory was";
  auto ec = log.sink->reopen();
  BOOST_TEST(static_cast<bool>(ec));
  log.logger.info("still logged");
  BOOST_TEST(has(kv::harness::slurp(dir / "old-logs/kv.log"), "info  still logged\n"));
}

BOOST_AUTO_TEST_CASE(an_unopenable_path_is_an_error) {
  kv::harness::temp_dir dir;
  std::ofstream(dir / "file") << "x";
  BOOST_CHECK_THROW(kv::logging::log_file_sink(dir / "file/kv.log"), std::system_error);
}

BOOST_AUTO_TEST_SUITE_END()
