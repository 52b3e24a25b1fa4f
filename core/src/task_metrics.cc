// SPDX-License-Identifier: Apache-2.0
#include "overlay/task_metrics.h"

#include "overlay/storage/data_container.h"
#include "overlay/transport/traffic.h"

namespace overlay {

TaskMetrics::Series& TaskMetrics::Of(const std::string& stage, const std::string& function) {
  std::lock_guard lock(mu_);
  auto [it, fresh] = series_.try_emplace({stage, function});
  if (fresh) {
    const metrics::Labels labels = {{"stage", stage}, {"function", function}};
    metrics::Labels done = labels, failed = labels;
    done.emplace_back("outcome", "done");
    failed.emplace_back("outcome", "failed");
    const char* finished = "Tasks answered, by outcome";
    it->second = Series{
        &registry_->GetCounter("overlay_tasks_started_total", "Tasks accepted to run", labels),
        &registry_->GetCounter("overlay_tasks_finished_total", finished, done),
        &registry_->GetCounter("overlay_tasks_finished_total", finished, failed),
        &registry_->GetHistogram("overlay_task_duration_seconds",
                                 "Time from accepting a task to its answer", labels)};
  }
  return it->second;
}

void TaskMetrics::Started(const std::string& stage, const std::string& function) {
  Of(stage, function).started->Add();
}

void TaskMetrics::Finished(const std::string& stage, const std::string& function,
                           const Status& status, double seconds) {
  Series& s = Of(stage, function);
  (status.ok() ? s.done : s.failed)->Add();
  s.latency->Observe(seconds);
}

void CollectStorageAndTransport(storage::DataContainer* container, metrics::Samples& out) {
  if (container != nullptr) {
    const storage::TierReads reads = container->reads();
    static constexpr const char* kTiers[] = {"L1", "L2", "L3"};
    for (size_t i = 0; i < 3; ++i) {
      const char* reads_help = "Data container reads, by tier and whether the tier had the object";
      out.Counter("overlay_tier_reads_total", reads_help, {{"tier", kTiers[i]}, {"result", "hit"}},
                  static_cast<double>(reads.hits[i]));
      out.Counter("overlay_tier_reads_total", reads_help, {{"tier", kTiers[i]}, {"result", "miss"}},
                  static_cast<double>(reads.misses[i]));
      out.Counter("overlay_tier_read_bytes_total", "Bytes each tier served to reads",
                  {{"tier", kTiers[i]}}, static_cast<double>(reads.bytes[i]));
    }
  }
  for (const transport::Traffic& t : transport::TrafficByTransport()) {
    const char* help = "Bytes of messages moved by this process's channels";
    out.Counter("overlay_transport_bytes_total", help,
                {{"transport", t.transport}, {"direction", "sent"}},
                static_cast<double>(t.sent_bytes));
    out.Counter("overlay_transport_bytes_total", help,
                {{"transport", t.transport}, {"direction", "received"}},
                static_cast<double>(t.received_bytes));
  }
}

}  // namespace overlay
