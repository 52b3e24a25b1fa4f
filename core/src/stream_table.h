// SPDX-License-Identifier: Apache-2.0
// The endpoint's stream state: one entry per stream of a stateful function,
// kept in the daemon's memory between items. Bounded per client, and dropped
// once idle: a stream that returns after that is rebuilt by replay (its next
// item's position no longer matches, so the sender replays).
#ifndef OVERLAY_CORE_SRC_STREAM_TABLE_H_
#define OVERLAY_CORE_SRC_STREAM_TABLE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "overlay/function.h"
#include "overlay/status.h"

namespace overlay::endpoint {

// One stream of a function; its mutex keeps the stream's items one at a time.
// `position` counts the items the state has seen (stateful functions only).
struct StreamEntry {
  std::mutex mu;
  std::unique_ptr<StreamState> state;
  uint64_t position = 0;
};

// Thread-safe. Entries are shared: one erased while an item runs lives on
// until that item is done.
class StreamTable {
 public:
  StreamTable(size_t max_per_client, std::chrono::milliseconds idle)
      : max_per_client_(max_per_client), idle_(idle) {}

  // The entry under `key`, made with fn.NewStream(stream) for `client` when
  // there is none. Busy when the client already has max_per_client entries
  // (idle ones are dropped first).
  Result<std::shared_ptr<StreamEntry>> Get(const std::string& client, const std::string& key,
                                           const Function& fn, const std::string& stream);
  void Erase(const std::string& key);
  // Drops entries unused for longer than the idle time and not in use.
  void DropIdle();
  // Live entries.
  size_t size() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Slot {
    std::shared_ptr<StreamEntry> entry;
    std::string client;
    Clock::time_point used;
  };
  // REQUIRES: mu_ held.
  void EraseLocked(std::map<std::string, Slot>::iterator it);
  void DropIdleLocked(Clock::time_point now);

  const size_t max_per_client_;
  const std::chrono::milliseconds idle_;
  mutable std::mutex mu_;
  std::map<std::string, Slot> streams_;
  std::unordered_map<std::string, size_t> per_client_;
};

}  // namespace overlay::endpoint

#endif  // OVERLAY_CORE_SRC_STREAM_TABLE_H_
