// SPDX-License-Identifier: Apache-2.0
#include "worker_pool.h"

#include <memory>
#include <utility>

#include "invoke_handler.h"
#include "overlay/object_key.h"

namespace overlay::endpoint {

WorkerPool::WorkerPool(int workers, storage::DataContainer* container, TaskRunner* runner,
                       OriginPuller* puller, ClientLimits* limits, FinishFn finish)
    : container_(container),
      runner_(runner),
      puller_(puller),
      limits_(limits),
      finish_(std::move(finish)) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Loop(); });
}

WorkerPool::~WorkerPool() { Close(); }

void WorkerPool::Started() {
  std::lock_guard lock(mu_);
  ++outstanding_;
}

void WorkerPool::Finished() {
  std::lock_guard lock(mu_);
  if (--outstanding_ == 0) idle_cv_.notify_all();
}

void WorkerPool::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return outstanding_ == 0; });
}

void WorkerPool::Push(std::vector<Job>& jobs) {
  if (jobs.empty()) return;
  const size_t n = jobs.size();
  {
    std::lock_guard lock(mu_);
    for (Job& job : jobs) queue_.push_back(std::move(job));
  }
  jobs.clear();
  if (n == 1)
    cv_.notify_one();
  else
    cv_.notify_all();
}

size_t WorkerPool::outstanding() const {
  std::lock_guard lock(mu_);
  return outstanding_;
}

size_t WorkerPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool WorkerPool::backlog() const {
  std::lock_guard lock(mu_);
  return !queue_.empty();
}

void WorkerPool::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void WorkerPool::Loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    if (!job.looked_up && HandToPuller(job)) continue;
    transport::InvokeResult result = RunJob(job, *runner_, *container_);
    finish_(job, std::move(result));
  }
}

bool WorkerPool::HandToPuller(Job& job) {
  job.looked_up = true;
  const transport::Invoke& inv = job.invoke;
  job.inputs.resize(inv.inputs.size());
  std::vector<size_t> missing;
  for (size_t i = 0; i < inv.inputs.size(); ++i) {
    auto key = ObjectKey::FromHex(inv.inputs[i]);
    if (!key) return false;  // the run reports it
    auto local = container_->Get(*key);
    // An unreachable CDN (Unavailable) is a miss too: the origin has the object.
    if (local.ok())
      job.inputs[i] = std::move(*local);
    else if (local.status().IsNotFound() || local.status().IsUnavailable())
      missing.push_back(i);
    else
      return false;
  }
  if (missing.empty() || inv.origin.empty() || !runner_->Has(inv.function)) return false;
  std::vector<std::string> keys;
  for (size_t i : missing) keys.push_back(inv.inputs[i]);
  auto held = std::make_shared<Job>(std::move(job));
  puller_->Pull(held->invoke.origin, held->origin_key, std::move(keys),
                [this, held, missing](Result<std::vector<Blob>> got) {
                  Status s = got.status();
                  if (s.ok()) {
                    uint64_t bytes = 0;
                    for (const Blob& b : *got) bytes += b.size();
                    s = limits_->Charge(held->client, bytes);
                    if (s.ok()) held->charged += bytes;
                  }
                  if (!s.ok()) {
                    transport::InvokeResult result;
                    result.task_id = held->invoke.task_id;
                    result.status = s;
                    return finish_(*held, std::move(result));
                  }
                  for (size_t k = 0; k < missing.size(); ++k)
                    held->inputs[missing[k]] = std::move((*got)[k]);
                  Requeue(std::move(*held));
                });
  return true;
}

void WorkerPool::Requeue(Job job) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

}  // namespace overlay::endpoint
