// SPDX-License-Identifier: Apache-2.0
// What the function manager keeps per task and per endpoint, and the messages
// that carry a task: shared by the calling threads (FunctionManager::Call) and
// the manager's I/O thread (ManagerIo).
#ifndef OVERLAY_CORE_SRC_MANAGER_TASK_H_
#define OVERLAY_CORE_SRC_MANAGER_TASK_H_

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "overlay/function_manager.h"
#include "overlay/transport/channel.h"
#include "overlay/transport/wire.h"

namespace overlay::manager {

using Clock = std::chrono::steady_clock;

// Wait before resending after a failed connect or an Unavailable result.
inline constexpr std::chrono::milliseconds kBackoff{100};

// The channel options for one endpoint: CURVE, with the manager's own pair,
// when it has a key.
transport::ChannelOptions ChannelFor(const FunctionManagerOptions& o, const std::string& endpoint);
// The endpoint's CURVE public key; empty when it has none.
std::string PeerKey(const FunctionManagerOptions& o, const std::string& endpoint);

// The Invoke that carries task `id`, naming `origin` as where inputs come from.
transport::Invoke InvokeOf(uint64_t id, const TaskSpec& t, const std::string& origin);

// The task id and outcome a Result or Error envelope carries; nullopt for
// other messages and for a Result that does not decode.
std::optional<std::pair<uint64_t, TaskOutcome>> DecodeOutcome(const wire::Envelope& env);

// One task in the I/O thread's hands.
struct Pending {
  TaskSpec spec;
  std::promise<TaskOutcome> promise;
  int attempts = 0;        // counted against options.retries
  int sent = 0;            // Invokes sent, resends of an attempt included
  bool in_flight = false;  // else waiting to be (re)sent at `deadline`
  Clock::time_point deadline;
  Clock::time_point sent_at;                                 // of the last Invoke
  Clock::time_point first_sent = Clock::time_point::max();  // of the first Invoke
  Status last_error;
};

// Idle channels to endpoints, for Call and FetchOutput: a channel is used by one
// thread at a time and pooled again only once every reply on it is in.
// Thread-safe.
class ChannelPool {
 public:
  // An idle channel to `endpoint`, or null when there is none.
  std::unique_ptr<transport::ClientChannel> Take(const std::string& endpoint);
  void Return(const std::string& endpoint, std::unique_ptr<transport::ClientChannel> ch);

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<transport::ClientChannel>>> idle_;
};

}  // namespace overlay::manager

#endif  // OVERLAY_CORE_SRC_MANAGER_TASK_H_
