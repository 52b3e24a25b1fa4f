// SPDX-License-Identifier: Apache-2.0
// Task counters and latency histograms per stage and function, shared by the
// endpoint daemon and `overlay run --live`, plus the samples both expose from
// lower layers: tier reads of a data container and bytes per transport.
#ifndef OVERLAY_CORE_TASK_METRICS_H_
#define OVERLAY_CORE_TASK_METRICS_H_

#include <map>
#include <mutex>
#include <string>

#include "overlay/metrics.h"
#include "overlay/status.h"

namespace overlay {
namespace storage {
class DataContainer;
}  // namespace storage

// Thread-safe. Ownership: borrows the registry, which must outlive it.
class TaskMetrics {
 public:
  explicit TaskMetrics(metrics::Registry* registry) : registry_(registry) {}

  // overlay_tasks_started_total{stage,function}.
  void Started(const std::string& stage, const std::string& function);
  // overlay_tasks_finished_total{stage,function,outcome="done"|"failed"} and
  // overlay_task_duration_seconds{stage,function}.
  void Finished(const std::string& stage, const std::string& function, const Status& status,
                double seconds);

 private:
  struct Series {
    metrics::Counter* started;
    metrics::Counter* done;
    metrics::Counter* failed;
    metrics::Histogram* latency;
  };
  Series& Of(const std::string& stage, const std::string& function);

  metrics::Registry* const registry_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Series> series_;  // guarded by mu_
};

// overlay_tier_reads_total{tier,result} and overlay_tier_read_bytes_total{tier}
// of `container` (may be null: nothing), overlay_transport_bytes_total{transport,
// direction} of this process.
void CollectStorageAndTransport(storage::DataContainer* container, metrics::Samples& out);

}  // namespace overlay

#endif  // OVERLAY_CORE_TASK_METRICS_H_
