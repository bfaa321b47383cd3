#include "io/sys/file.hpp"
#include "support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>

BOOST_AUTO_TEST_SUITE(io_file)

BOOST_AUTO_TEST_CASE(directory_lock_is_exclusive_and_released) {
  kv::test::temp_dir dir;
  {
    kv::io::directory_lock lock(dir.path());
    BOOST_CHECK_THROW(kv::io::directory_lock second(dir.path()), std::runtime_error);
  }
  kv::io::directory_lock again(dir.path());  // released with the first
}

BOOST_AUTO_TEST_CASE(list_files_filters_and_sorts) {
  kv::test::temp_dir dir;
  for (const char* name : {"b.wal", "a.wal", "c.snap", "x.wal.tmp"}) std::ofstream(dir / name) << "x";
  auto names = kv::io::list_files(dir.path(), "", ".wal");
  BOOST_REQUIRE(names.size() == 2u);
  BOOST_TEST(names[0] == "a.wal");
  BOOST_TEST(names[1] == "b.wal");
}

BOOST_AUTO_TEST_CASE(mapped_file_reads_contents) {
  kv::test::temp_dir dir;
  std::ofstream(dir / "f") << "hello";
  kv::io::mapped_file m(dir / "f");
  BOOST_TEST(std::string(m.data().data(), m.size()) == "hello");
  std::ofstream(dir / "empty");
  kv::io::mapped_file e(dir / "empty");
  BOOST_TEST(e.size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
