// SPDX-License-Identifier: Apache-2.0
// The clients an endpoint daemon hears from (a client's function manager
// heartbeats it while it has tasks there): logs a client lost (tasks in
// flight, silent for ENDPOINT.lost_after) and regained, and exposes the
// heartbeat age of each (overlay_peer_heartbeat_age_seconds).
#ifndef OVERLAY_CORE_SRC_CLIENT_WATCH_H_
#define OVERLAY_CORE_SRC_CLIENT_WATCH_H_

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "overlay/metrics.h"

namespace overlay::endpoint {

// Thread-safe.
class ClientWatch {
 public:
  ClientWatch(std::string endpoint, std::chrono::milliseconds lost_after)
      : endpoint_(std::move(endpoint)), lost_after_(lost_after) {}

  // A message from `client`.
  void Heard(const std::string& client);
  // A task of `client` accepted; answered.
  void TaskStarted(const std::string& client);
  void TaskFinished(const std::string& client);
  // Logs clients newly lost; forgets idle ones silent for long. Call about
  // once a second.
  void Sweep();
  // Tasks accepted and not answered, all clients.
  size_t running() const;
  void Collect(metrics::Samples& out) const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Client {
    Clock::time_point heard{};
    size_t tasks = 0;
    bool lost = false;
  };
  const std::string endpoint_;
  const std::chrono::milliseconds lost_after_;
  mutable std::mutex mu_;
  std::map<std::string, Client> clients_;  // guarded by mu_
  size_t running_ = 0;                     // guarded by mu_
};

}  // namespace overlay::endpoint

#endif  // OVERLAY_CORE_SRC_CLIENT_WATCH_H_
