// SPDX-License-Identifier: Apache-2.0
// Per-client bounds of an endpoint daemon: tasks accepted and not finished,
// and the bytes they hold (their requests and pulled inputs). A client is
// whoever the transport can tell apart: a CURVE key, else a network address.
#ifndef OVERLAY_CORE_SRC_CLIENT_LIMITS_H_
#define OVERLAY_CORE_SRC_CLIENT_LIMITS_H_

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "overlay/status.h"
#include "overlay/transport/channel.h"

namespace overlay::endpoint {

// The client a request comes from, for bounds and logs.
std::string ClientOf(const transport::ServerChannel::Request& req);

// Thread-safe. Clients with nothing in flight are forgotten.
class ClientLimits {
 public:
  ClientLimits(size_t max_tasks, uint64_t max_bytes) : max_tasks_(max_tasks), max_bytes_(max_bytes) {}

  // Admits one more task of `client` holding `bytes`; Busy, naming the
  // bound, when that would pass one.
  Status Admit(const std::string& client, uint64_t bytes);
  // An admitted task holds `bytes` more (e.g. pulled inputs); Busy when that
  // would pass the memory bound (nothing is charged then).
  Status Charge(const std::string& client, uint64_t bytes);
  // A task of `client` is done; `bytes`: all it was admitted and charged with.
  void Release(const std::string& client, uint64_t bytes);

 private:
  struct Use {
    size_t tasks = 0;
    uint64_t bytes = 0;
  };
  const size_t max_tasks_;
  const uint64_t max_bytes_;
  std::mutex mu_;
  std::unordered_map<std::string, Use> use_;
};

}  // namespace overlay::endpoint

#endif  // OVERLAY_CORE_SRC_CLIENT_LIMITS_H_
