#include "core/base/crc32c.hpp"

#include <boost/test/unit_test.hpp>

#include <random>
#include <string>

BOOST_AUTO_TEST_SUITE(crc32c)

// Check values from RFC 3720, appendix B.4, and the common "123456789" check.
BOOST_AUTO_TEST_CASE(known_vectors) {
  BOOST_TEST(kv::crc32c("123456789") == 0xE3069283u);
  BOOST_TEST(kv::crc32c(std::string(32, '\0')) == 0x8A9136AAu);
  BOOST_TEST(kv::crc32c(std::string(32, '\xff')) == 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  BOOST_TEST(kv::crc32c(ascending) == 0x46DD794Eu);
  BOOST_TEST(kv::crc32c("") == 0u);
}

BOOST_AUTO_TEST_CASE(hardware_and_portable_agree) {
  std::mt19937 rng(7);
  for (std::size_t len = 0; len < 300; ++len) {
    std::string data(len, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    BOOST_TEST(kv::crc32c(data) == kv::crc32c_portable(data));
  }
}

BOOST_AUTO_TEST_CASE(extension_equals_whole) {
  std::string data = "the quick brown fox jumps over the lazy dog, twice over";
  for (std::size_t cut = 0; cut <= data.size(); ++cut) {
    auto first = kv::crc32c(std::string_view(data).substr(0, cut));
    BOOST_TEST(kv::crc32c(std::string_view(data).substr(cut), first) == kv::crc32c(data));
    BOOST_TEST(kv::crc32c_portable(std::string_view(data).substr(cut), first) == kv::crc32c(data));
  }
}

BOOST_AUTO_TEST_CASE(detects_every_single_bit_flip) {
  std::string data(64, 'x');
  auto good = kv::crc32c(data);
  for (std::size_t i = 0; i < data.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      data[i] = static_cast<char>(data[i] ^ (1 << bit));
      BOOST_TEST(kv::crc32c(data) != good);
      data[i] = static_cast<char>(data[i] ^ (1 << bit));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
