// SPDX-License-Identifier: Apache-2.0
// The endpoint's memory of Invokes: a repeated Invoke (same requester and task
// id, e.g. a function manager's retry) is not run twice. It is answered with
// the first run's result, or when that run ends. The last kRememberedResults
// results are remembered for this.
#ifndef OVERLAY_CORE_SRC_TASK_LEDGER_H_
#define OVERLAY_CORE_SRC_TASK_LEDGER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "overlay/transport/channel.h"
#include "overlay/transport/wire.h"

namespace overlay::endpoint {

// Results remembered for answering repeated Invokes.
inline constexpr size_t kRememberedResults = 4096;

// A task across resends: its requester (an interned name, compared by
// address) and the requester's task id.
struct TaskKey {
  const std::string* origin = nullptr;
  uint64_t id = 0;
  bool operator==(const TaskKey&) const = default;
};

// Thread-safe.
class TaskLedger {
 public:
  TaskLedger();

  enum class Seen {
    kNew,      // recorded as running: run it, then Finish
    kRunning,  // its run will answer this asker instead
    kDone,     // answer with `reply`
  };
  struct Accepted {
    Seen seen = Seen::kNew;
    TaskKey key;
    transport::Message reply;  // kDone only
  };
  // Records an Invoke of `requester` (the client's name for its tasks) asked
  // by `peer` under `request_id`.
  Accepted Accept(const std::string& requester, uint64_t task_id, const std::string& peer,
                  uint64_t request_id);

  // Marks the task done with `result`; returns whom to answer and the reply.
  // Running entries are never dropped: only done ones leave, oldest first.
  // REQUIRES: `key` came from Accept with kNew and is not finished yet.
  std::pair<std::string, transport::Message> Finish(const TaskKey& key,
                                                    transport::InvokeResult result);

 private:
  struct Hash {
    size_t operator()(const TaskKey& k) const noexcept {
      return std::hash<uint64_t>{}(k.id ^
                                   reinterpret_cast<uintptr_t>(k.origin) * 0x9e3779b97f4a7c15);
    }
  };
  // An Invoke seen before: running (reply to the latest asker when done) or done.
  struct Entry {
    bool done = false;
    transport::InvokeResult result;
    std::string peer;
    uint64_t request_id = 0;
  };

  // Drops the oldest remembered result, and its requester once no task names it.
  // REQUIRES: mu_ held; done_order_ not empty.
  void ForgetOldest();

  std::mutex mu_;
  std::unordered_map<TaskKey, Entry, Hash> tasks_;
  std::deque<TaskKey> done_order_;
  // Requesters named by tasks_, with how many entries name each.
  std::unordered_map<std::string, size_t> origins_;
};

}  // namespace overlay::endpoint

#endif  // OVERLAY_CORE_SRC_TASK_LEDGER_H_
