// SPDX-License-Identifier: Apache-2.0
// Runs one Invoke on an endpoint: the FUNCTION, its stream's state, its
// outputs put in the data container.
//
// Stream state lives in the daemon's memory (StreamTable): items of a stream
// arrive one at a time in order. Each Invoke of a stateful stream carries its
// position; when the state here has seen a different number of items, nothing
// runs and the result carries this state's position, so the sender replays.
#ifndef OVERLAY_CORE_SRC_TASK_RUNNER_H_
#define OVERLAY_CORE_SRC_TASK_RUNNER_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "overlay/config.h"
#include "overlay/function.h"
#include "overlay/status.h"
#include "overlay/storage/container_store.h"
#include "overlay/storage/data_container.h"
#include "overlay/transport/wire.h"
#include "stream_table.h"

namespace overlay::endpoint {

// Thread-safety: Execute from any thread. Ownership: owns the functions and
// the stream state; borrows the container and the store.
class TaskRunner {
 public:
  // `max_streams` per client, dropped after `stream_idle` unused (StreamTable).
  TaskRunner(std::string endpoint, storage::DataContainer* container,
             storage::ContainerStore* store, size_t max_streams,
             std::chrono::milliseconds stream_idle)
      : name_(std::move(endpoint)),
        container_(container),
        store_(store),
        streams_(max_streams, stream_idle) {}

  // Builds the config's FUNCTIONs. Errors: those of MakeDeclaredFunction.
  Status AddFunctions(const PipelineSpec& spec);
  // A FUNCTION with a builtin (runs in process, never waits on a command).
  bool IsNative(const std::string& function) const { return native_.contains(function); }
  bool Has(const std::string& function) const { return functions_.contains(function); }

  // The i-th input's bytes.
  using InputFn = std::function<Result<Blob>(size_t i)>;
  // Runs `inv` for `client` (ClientOf), filling `result` (outputs, counters,
  // stream position); the returned Status is the task's.
  Status Execute(const transport::Invoke& inv, const std::string& client, const InputFn& input,
                 transport::InvokeResult* result);

  void DropIdleStreams() { streams_.DropIdle(); }
  size_t stream_states() const { return streams_.size(); }

 private:
  const std::string name_;
  storage::DataContainer* const container_;
  storage::ContainerStore* const store_;  // native outputs are built in place
  std::map<std::string, std::unique_ptr<Function>> functions_;
  std::set<std::string> native_;  // FUNCTIONs with a builtin
  StreamTable streams_;
};

}  // namespace overlay::endpoint

#endif  // OVERLAY_CORE_SRC_TASK_RUNNER_H_
