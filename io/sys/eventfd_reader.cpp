#include "io/sys/eventfd_reader.hpp"

#include <asio/execution/context.hpp>
#include <asio/query.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace kv::io {

eventfd_reader::eventfd_reader(asio::any_io_executor executor)
    : executor_(std::move(executor)),
      reactor_(asio::use_service<asio::detail::reactor>(asio::query(executor_, asio::execution::context))) {
  fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  // The scheduler runs the reactor (epoll_wait) only once some I/O object has asked it to.
  reactor_.init_task();
  if (int err = reactor_.register_descriptor(fd_, reactor_data_); err != 0) {
    reactor_.cleanup_descriptor_data(reactor_data_);
    ::close(fd_);
    throw std::system_error(err, std::generic_category(), "epoll registration of an eventfd");
  }
}

void eventfd_reader::close() noexcept {
  if (fd_ < 0) return;
  // Removed from the epoll set before the close (EPOLL_CTL_DEL), not by it: a close removes it
  // only with the file's last reference, and the reactor reuses the registration's state, which
  // epoll must never report for this eventfd again.
  reactor_.deregister_descriptor(fd_, reactor_data_, false);
  ::close(fd_);
  reactor_.cleanup_descriptor_data(reactor_data_);
  fd_ = -1;
}

}  // namespace kv::io
