// SPDX-License-Identifier: Apache-2.0
#include "overlay/transport/poller.h"

#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace overlay::transport {

Result<std::unique_ptr<Poller>> Poller::Create() {
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return Status::IOError(std::string("eventfd: ") + std::strerror(errno));
  return std::unique_ptr<Poller>(new Poller(fd));
}

Poller::~Poller() { ::close(fd_); }

void Poller::Notify() {
  const uint64_t one = 1;
  // EAGAIN (counter saturated) still leaves the eventfd readable.
  (void)!::write(fd_, &one, sizeof one);
}

void Poller::Wait(std::span<ClientChannel* const> clients, std::span<ServerChannel* const> servers,
                  std::chrono::microseconds timeout, std::chrono::microseconds nap) {
  std::vector<PollHandle> handles;
  handles.reserve(clients.size() + servers.size());
  for (ClientChannel* c : clients) handles.push_back(c->poll_handle());
  for (ServerChannel* s : servers) handles.push_back(s->poll_handle());
  std::vector<zmq_pollitem_t> items;
  items.reserve(1 + handles.size());
  items.push_back(zmq_pollitem_t{nullptr, fd_, ZMQ_POLLIN, 0});
  bool all_waitable = true;
  for (const PollHandle& h : handles) {
    if (h.socket != nullptr) {
      items.push_back(zmq_pollitem_t{h.socket, 0, ZMQ_POLLIN, 0});
    } else if (h.fd >= 0) {
      items.push_back(zmq_pollitem_t{nullptr, h.fd, ZMQ_POLLIN, 0});
    } else {
      all_waitable = false;
    }
  }
  if (!all_waitable) timeout = std::min(timeout, nap);
  // zmq_poll counts milliseconds; a shorter wait is a sleep, rounded up.
  const long ms = static_cast<long>((timeout.count() + 999) / 1000);
  if (ms == 0) return;
  // Last, so nothing that arrives after these checks can be missed: it turns
  // its descriptor readable.
  for (const PollHandle& h : handles) {
    if (h.socket == nullptr && h.fd >= 0 && h.ready_to_sleep && !h.ready_to_sleep()) return;
  }
  if (timeout < std::chrono::milliseconds(1) && !all_waitable) {
    ::usleep(static_cast<useconds_t>(timeout.count()));
    return;
  }
  if (zmq_poll(items.data(), static_cast<int>(items.size()), ms) > 0 && items[0].revents != 0) {
    uint64_t count = 0;
    (void)!::read(fd_, &count, sizeof count);
  }
}

}  // namespace overlay::transport
