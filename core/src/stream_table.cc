// SPDX-License-Identifier: Apache-2.0
#include "stream_table.h"

namespace overlay::endpoint {

Result<std::shared_ptr<StreamEntry>> StreamTable::Get(const std::string& client,
                                                      const std::string& key, const Function& fn,
                                                      const std::string& stream) {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  if (auto it = streams_.find(key); it != streams_.end()) {
    it->second.used = now;
    return it->second.entry;
  }
  auto count = per_client_.find(client);
  if (count != per_client_.end() && count->second >= max_per_client_) {
    DropIdleLocked(now);
    count = per_client_.find(client);
    if (count != per_client_.end() && count->second >= max_per_client_)
      return Status::Busy("client " + client + " has " + std::to_string(count->second) +
                          " live streams, the endpoint's max_streams: stream '" + stream +
                          "' refused until some end or go idle");
  }
  auto entry = std::make_shared<StreamEntry>();
  entry->state = fn.NewStream(stream);
  streams_.emplace(key, Slot{entry, client, now});
  ++per_client_[client];
  return entry;
}

void StreamTable::Erase(const std::string& key) {
  std::lock_guard lock(mu_);
  if (auto it = streams_.find(key); it != streams_.end()) EraseLocked(it);
}

void StreamTable::DropIdle() {
  std::lock_guard lock(mu_);
  DropIdleLocked(Clock::now());
}

size_t StreamTable::size() const {
  std::lock_guard lock(mu_);
  return streams_.size();
}

void StreamTable::EraseLocked(std::map<std::string, Slot>::iterator it) {
  auto count = per_client_.find(it->second.client);
  if (--count->second == 0) per_client_.erase(count);
  streams_.erase(it);
}

void StreamTable::DropIdleLocked(Clock::time_point now) {
  for (auto it = streams_.begin(); it != streams_.end();) {
    auto next = std::next(it);
    // use_count 1: no item holds the entry now.
    if (now - it->second.used > idle_ && it->second.entry.use_count() == 1) EraseLocked(it);
    it = next;
  }
}

}  // namespace overlay::endpoint
