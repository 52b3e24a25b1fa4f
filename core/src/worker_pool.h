// SPDX-License-Identifier: Apache-2.0
// The endpoint daemon's workers: they run accepted Invokes. A job whose
// inputs are not all in the container goes to the OriginPuller first and
// comes back to the queue once they are in hand (or is finished with the
// reason they are not), so a task waiting for an origin holds no worker.
#ifndef OVERLAY_CORE_SRC_WORKER_POOL_H_
#define OVERLAY_CORE_SRC_WORKER_POOL_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client_limits.h"
#include "origin_puller.h"
#include "overlay/storage/data_container.h"
#include "overlay/transport/wire.h"
#include "task_ledger.h"
#include "task_runner.h"

namespace overlay::endpoint {

// One accepted Invoke.
struct Job {
  transport::Invoke invoke;
  TaskKey task_key;
  std::string client;      // ClientOf its request
  std::string origin_key;  // the origin's CURVE key: the sender's own; empty: plain text
  uint64_t charged = 0;    // bytes counted against the client's max_memory
  // The inputs in hand, by index; the others are looked up when the task runs.
  std::vector<std::optional<Blob>> inputs{};
  bool looked_up = false;  // inputs in the container found, missing ones pulled
  // When it was accepted: made with the Job (for latency metrics).
  std::chrono::steady_clock::time_point accepted = std::chrono::steady_clock::now();
};


// Thread-safety: every method from any thread. Ownership: owns the worker
// threads; borrows the rest, which must outlive it.
class WorkerPool {
 public:
  // Answers a job (releasing what it holds); called once per job, on a worker
  // or puller thread.
  using FinishFn = std::function<void(const Job&, transport::InvokeResult)>;

  WorkerPool(int workers, storage::DataContainer* container, TaskRunner* runner,
             OriginPuller* puller, ClientLimits* limits, FinishFn finish);
  // Close, then join the workers.
  ~WorkerPool();

  // Counts a job accepted (on its way to Push or run inline) until Finished.
  void Started();
  void Finished();
  // Waits until every job Started has Finished.
  void WaitIdle();

  // Queues the jobs (one lock and one wake-up for all) and clears `jobs`.
  void Push(std::vector<Job>& jobs);
  // True when jobs wait in the queue.
  bool backlog() const;
  // Jobs Started and not Finished; jobs waiting in the queue (for status).
  size_t outstanding() const;
  size_t queued() const;
  // Workers leave once the queue is empty; joins them.
  void Close();

 private:
  void Loop();
  // Looks the job's inputs up in the container; when some are missing and
  // its origin can be asked, hands the job to the puller and returns true.
  bool HandToPuller(Job& job);
  // Back to the workers, after its pulls.
  void Requeue(Job job);

  storage::DataContainer* const container_;
  TaskRunner* const runner_;
  OriginPuller* const puller_;
  ClientLimits* const limits_;
  const FinishFn finish_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool closed_ = false;
  size_t outstanding_ = 0;           // jobs Started and not Finished
  std::condition_variable idle_cv_;  // outstanding_ fell to 0
  std::vector<std::thread> threads_;
};

}  // namespace overlay::endpoint

#endif  // OVERLAY_CORE_SRC_WORKER_POOL_H_
