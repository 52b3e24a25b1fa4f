// SPDX-License-Identifier: Apache-2.0
// Poller: one thread waits on several channels and on wake-ups from other
// threads at once, so a loop that serves channels sleeps until there is work
// instead of napping (a nap adds its length to every round trip).
#ifndef OVERLAY_TRANSPORT_POLLER_H_
#define OVERLAY_TRANSPORT_POLLER_H_

#include <chrono>
#include <memory>
#include <span>

#include "overlay/status.h"
#include "overlay/transport/channel.h"

namespace overlay::transport {

// Thread-safety: Notify from any thread; Wait from one thread at a time.
// Ownership: owns an eventfd; the channels passed to Wait are borrowed.
class Poller {
 public:
  // Errors: IOError when no eventfd can be made.
  static Result<std::unique_ptr<Poller>> Create();
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Wakes the current or next Wait.
  void Notify();

  // Returns when a message may be waiting on one of the channels, after a
  // Notify, or after `timeout`; at once when a channel's ready_to_sleep says
  // news is waiting (see PollHandle). Channels that cannot be waited on (a
  // fabric:// channel whose provider has no wait descriptor, or with sends in
  // flight) cut the wait to `nap`, after which the caller polls them itself.
  void Wait(std::span<ClientChannel* const> clients, std::span<ServerChannel* const> servers,
            std::chrono::microseconds timeout, std::chrono::microseconds nap);

 private:
  explicit Poller(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace overlay::transport

#endif  // OVERLAY_TRANSPORT_POLLER_H_
