// SPDX-License-Identifier: Apache-2.0
// `overlay run --live`: the run's metrics (tasks per stage and function with
// their latencies, tier reads of the run's data container, bytes per
// transport, heartbeat age of each endpoint) served in the Prometheus text
// format while the run lasts.
#ifndef OVERLAY_CORE_CLI_RUN_METRICS_H_
#define OVERLAY_CORE_CLI_RUN_METRICS_H_

#include <memory>
#include <string>

#include "overlay/config.h"
#include "overlay/executor.h"
#include "overlay/function_manager.h"
#include "overlay/metrics.h"
#include "overlay/metrics_server.h"

namespace overlay {
namespace storage {
class DataContainer;
}  // namespace storage

class TaskMetrics;

// Thread-safety: Timed's functions may run on any thread. Ownership: borrows
// spec, container and manager (either may be null), which must outlive it.
class RunMetrics {
 public:
  // Serves at `address` (HOST:PORT). Errors: those of MetricsServer::Start.
  static Result<std::unique_ptr<RunMetrics>> Start(const std::string& address,
                                                   const PipelineSpec& spec,
                                                   storage::DataContainer* container,
                                                   const FunctionManager* manager);
  ~RunMetrics();

  // `inner` (may be empty), with every stage's function timed and counted.
  StageFunctionFactory Timed(StageFunctionFactory inner);
  // "http://HOST:PORT/metrics".
  std::string url() const { return server_->url(); }

 private:
  RunMetrics() = default;
  metrics::Registry registry_;
  std::unique_ptr<TaskMetrics> tasks_;
  std::unique_ptr<MetricsServer> server_;  // last: it reads the members above
};

}  // namespace overlay

#endif  // OVERLAY_CORE_CLI_RUN_METRICS_H_
