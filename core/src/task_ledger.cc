// SPDX-License-Identifier: Apache-2.0
#include "task_ledger.h"

namespace overlay::endpoint {

TaskLedger::TaskLedger() {
  tasks_.reserve(2 * kRememberedResults);  // no rehash while results come and go
}

TaskLedger::Accepted TaskLedger::Accept(const std::string& requester, uint64_t task_id,
                                        const std::string& peer, uint64_t request_id) {
  Accepted a;
  std::lock_guard lock(mu_);
  auto origin = origins_.try_emplace(requester, 0).first;
  a.key = TaskKey{&origin->first, task_id};
  auto it = tasks_.find(a.key);
  if (it != tasks_.end()) {
    if (it->second.done) {
      a.seen = Seen::kDone;
      a.reply =
          transport::MakeMessage(transport::EncodeResult(request_id, it->second.result));
    } else {
      a.seen = Seen::kRunning;
      it->second.peer = peer;
      it->second.request_id = request_id;
    }
    return a;
  }
  ++origin->second;
  tasks_.emplace(a.key, Entry{false, {}, peer, request_id});
  return a;
}

std::pair<std::string, transport::Message> TaskLedger::Finish(const TaskKey& key,
                                                              transport::InvokeResult result) {
  std::lock_guard lock(mu_);
  Entry& e = tasks_.find(key)->second;
  e.done = true;
  e.result = std::move(result);
  std::pair<std::string, transport::Message> out{
      e.peer, transport::MakeMessage(transport::EncodeResult(e.request_id, e.result))};
  done_order_.push_back(key);
  if (done_order_.size() > kRememberedResults) ForgetOldest();
  return out;
}

void TaskLedger::ForgetOldest() {
  TaskKey key = done_order_.front();
  tasks_.erase(key);
  done_order_.pop_front();
  auto origin = origins_.find(*key.origin);
  if (--origin->second == 0) origins_.erase(origin);
}

}  // namespace overlay::endpoint
