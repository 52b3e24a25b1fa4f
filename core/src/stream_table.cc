// SPDX-License-Identifier: Apache-2.0
#include "stream_table.h"

namespace overlay::endpoint {

std::shared_ptr<StreamEntry> StreamTable::Get(const std::string& key, const Function& fn,
                                              const std::string& stream) {
  std::lock_guard lock(mu_);
  auto& e = streams_[key];
  if (!e) {
    e = std::make_shared<StreamEntry>();
    e->state = fn.NewStream(stream);
  }
  return e;
}

void StreamTable::Erase(const std::string& key) {
  std::lock_guard lock(mu_);
  streams_.erase(key);
}

}  // namespace overlay::endpoint
