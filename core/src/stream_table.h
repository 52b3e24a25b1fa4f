// SPDX-License-Identifier: Apache-2.0
// The endpoint's stream state: one entry per stream of a stateful function,
// kept in the daemon's memory between items.
#ifndef OVERLAY_CORE_SRC_STREAM_TABLE_H_
#define OVERLAY_CORE_SRC_STREAM_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "overlay/function.h"

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
  // The entry under `key`, made with fn.NewStream(stream) when there is none.
  std::shared_ptr<StreamEntry> Get(const std::string& key, const Function& fn,
                                   const std::string& stream);
  void Erase(const std::string& key);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<StreamEntry>> streams_;
};

}  // namespace overlay::endpoint

#endif  // OVERLAY_CORE_SRC_STREAM_TABLE_H_
