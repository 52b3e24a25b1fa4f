// SPDX-License-Identifier: Apache-2.0
// RemoteFunction: runs a stage's function on an endpoint daemon through a
// FunctionManager. Process/EndStream put the inputs in the local store, submit
// one task (carrying the item's stream, seq and position, so the endpoint keeps
// the stream's state), wait for its outcome, and fetch the outputs back.
//
// Recovery: it remembers the input keys of every item of a stream until the
// stream ends. When an endpoint answers that its state for the stream is
// elsewhere (it restarted), the missing items are replayed to it, one at a
// time and without outputs, and the item is sent again: deterministic
// functions rebuild exactly the state they had, and each item's result is
// delivered once.
#ifndef OVERLAY_CORE_REMOTE_FUNCTION_H_
#define OVERLAY_CORE_REMOTE_FUNCTION_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "overlay/executor.h"
#include "overlay/function.h"
#include "overlay/function_manager.h"
#include "overlay/object_store.h"

namespace overlay {

// The stage function factory for ExecutorOptions::make_stage_function: a
// RemoteFunction for every stage whose ENDPOINT has an address, nullptr (the
// local function) otherwise. `spec`, `manager` and `store` are borrowed and
// must outlive the run; the store must be the manager's. Errors: InvalidArgument
// when `store` is null (remote stages exchange objects through it).
StageFunctionFactory RemoteStageFactory(const PipelineSpec& spec, FunctionManager* manager,
                                        ObjectStore* store);

// True when some stage of `spec` runs on an endpoint with an address.
bool HasRemoteStages(const PipelineSpec& spec);

// Thread-safety: as Function requires (calls for different streams may run
// concurrently; the manager is thread-safe). Ownership: borrows manager and store.
class RemoteFunction : public Function {
 public:
  RemoteFunction(FunctionManager* manager, ObjectStore* store, std::string endpoint,
                 std::string function, std::string stage);
  Status Process(Task& task) const override;
  Status EndStream(Task& task) const override;

 private:
  // One item as sent: its input keys and names.
  struct Sent {
    std::vector<std::string> inputs, names;
  };

  Status Run(Task& task, bool end_of_stream) const;
  // Submits `spec` and waits for its outcome.
  TaskOutcome Call(TaskSpec spec) const;
  // Replays items [from, to) of the stream to the endpoint.
  Status Replay(const TaskSpec& item, const std::vector<Sent>& history, uint64_t from,
                uint64_t to) const;

  FunctionManager* manager_;
  ObjectStore* store_;
  std::string endpoint_, function_, stage_;
  mutable std::mutex mu_;  // guards history_
  mutable std::map<std::string, std::vector<Sent>> history_;  // by stream
};

}  // namespace overlay

#endif  // OVERLAY_CORE_REMOTE_FUNCTION_H_
