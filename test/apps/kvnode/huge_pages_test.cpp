// The process's huge-page switch (apps/kvnode/huge_pages.hpp). Turning huge pages off is for the
// rest of a process's life, so each case does it in a child process and reports back through its
// exit status.

#include "apps/kvnode/huge_pages.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace {

// Whether this process's /proc/self/status says "THP_enabled:\t<digit>"; reads with system calls
// only, as a forked child of a threaded process must.
bool status_says(char digit) {
  char buf[8192];
  int fd = ::open("/proc/self/status", O_RDONLY);
  if (fd < 0) return false;
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* at = std::strstr(buf, "THP_enabled:");
  if (at == nullptr) return false;
  at += std::strlen("THP_enabled:");
  while (*at == ' ' || *at == '\t') ++at;
  return *at == digit;
}

// Runs `body` in a child process and returns its exit code (-1 if it did not exit).
template <typename F>
int in_child(F body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(huge_pages)

BOOST_AUTO_TEST_CASE(disabling_holds_for_the_process_and_its_children) {
  BOOST_REQUIRE(kv::heap::huge_pages_allowed());
  BOOST_REQUIRE(status_says('1'));
  int code = in_child([] {
    if (!kv::heap::huge_pages_allowed()) return 10;
    if (auto ec = kv::heap::disable_huge_pages()) return 11;
    if (kv::heap::huge_pages_allowed()) return 12;
    if (!status_says('0')) return 13;
    // A second call is harmless, and a grandchild inherits the setting (a snapshot taken by fork).
    if (kv::heap::disable_huge_pages()) return 14;
    return in_child([] { return kv::heap::huge_pages_allowed() || !status_says('0') ? 15 : 0; });
  });
  BOOST_TEST(code == 0);
  BOOST_TEST(kv::heap::huge_pages_allowed());  // the test process itself is untouched
}

BOOST_AUTO_TEST_SUITE_END()
