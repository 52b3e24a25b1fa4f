// SPDX-License-Identifier: Apache-2.0
// DataContainerImpl, write-back to L3: puts and deletions are journaled in L2
// and pushed by a worker thread, with backoff while the CDN fails.
#include <algorithm>
#include <thread>

#include "data_container_impl.h"

namespace overlay::storage {

Result<uint64_t> DataContainerImpl::JournalBacklog() {
  if (!l2_) return uint64_t{0};
  return l2_->JournalSize();
}

Status DataContainerImpl::DrainJournal(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  {
    std::lock_guard<std::mutex> g(mu_);
    failures_ = 0;
  }
  Kick();
  for (;;) {
    Result<uint64_t> n = JournalBacklog();
    if (!n.ok()) return n.status();
    if (*n == 0) return Status::OK();
    if (!Pushing()) return Status::InvalidArgument("journal entries but no CDN write-back");
    if (std::chrono::steady_clock::now() >= deadline)
      return Status::Timeout(std::to_string(*n) + " CDN operations still journaled" + ": " +
                             LastPushError());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void DataContainerImpl::Kick() {
  {
    std::lock_guard<std::mutex> g(mu_);
    kick_ = true;
  }
  cv_.notify_all();
}

std::string DataContainerImpl::LastPushError() {
  std::lock_guard<std::mutex> g(mu_);
  return last_push_error_;
}

bool DataContainerImpl::PushBatch(bool* more) {
  Result<std::vector<std::pair<ObjectKey, JournalOp>>> batch = l2_->JournalList(64);
  if (!batch.ok()) return false;
  *more = batch->size() == 64;
  for (const auto& [key, op] : *batch) {
    Status s;
    if (op == JournalOp::kDelete) {
      s = l3_->Erase(key);
    } else {
      Result<Blob> b = l2_->Get(key);
      if (!b.ok() && l1_) b = l1_->Get(key);
      if (!b.ok()) {
        // Expired or gone everywhere: nothing left to push.
        (void)l2_->JournalRemove(key);
        continue;
      }
      s = l3_->Put(key, b->view(), ObjectMeta{b->size(), 0, 0});
    }
    if (!s.ok()) {
      std::lock_guard<std::mutex> g(mu_);
      last_push_error_ = std::string(s.message());
      return false;
    }
    (void)l2_->JournalRemove(key);
  }
  return true;
}

void DataContainerImpl::WorkerLoop() {
  using std::chrono::milliseconds;
  const uint64_t sweep_every =
      opt_.ttl_ms == 0 ? 0 : std::clamp<uint64_t>(opt_.ttl_ms / 4, 50, 1000);
  auto next_sweep = std::chrono::steady_clock::now();
  milliseconds delay(0);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      // While the CDN fails, new puts do not cut the backoff short; only
      // DrainJournal does, by resetting failures_ before its kick.
      cv_.wait_for(lock, delay, [this] { return stop_ || (kick_ && failures_ == 0); });
      if (stop_) return;
      kick_ = false;
    }
    delay = milliseconds(1000);
    if (sweep_every != 0 && std::chrono::steady_clock::now() >= next_sweep) {
      (void)ExpireNow();
      next_sweep = std::chrono::steady_clock::now() + milliseconds(sweep_every);
    }
    if (sweep_every != 0) delay = std::min(delay, milliseconds(sweep_every));
    if (!Pushing()) continue;
    bool more = false;
    bool ok = PushBatch(&more);
    std::lock_guard<std::mutex> g(mu_);
    if (ok) {
      failures_ = 0;
      if (more) delay = milliseconds(0);
    } else {
      ++failures_;
      uint64_t backoff = opt_.retry_min_ms << std::min<uint64_t>(failures_ - 1, 20);
      delay = milliseconds(std::min(backoff, std::max(opt_.retry_min_ms, opt_.retry_max_ms)));
    }
  }
}

}  // namespace overlay::storage
