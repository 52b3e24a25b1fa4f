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
//
// Failover: a stage may have several targets, its endpoint then the endpoint's
// fallbacks (ENDPOINT.fallback). Once a target is lost (nothing heard from it
// for its lost_after), every stream moves to the next target for the rest of
// the run, where the same replay rebuilds its state; a target without an
// address runs the function in this process. Once the last target is lost
// (silent for its ENDPOINT.lost_after), the stage gives up on it: that item
// and every later one fail at once with Unavailable, naming the endpoint.
#ifndef OVERLAY_CORE_REMOTE_FUNCTION_H_
#define OVERLAY_CORE_REMOTE_FUNCTION_H_

#include <atomic>
#include <chrono>
#include <functional>
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

// Called with a one-line notice when a stage moves to its next target.
using FailoverNotice = std::function<void(const std::string&)>;

// The stage function factory for ExecutorOptions::make_stage_function: a
// RemoteFunction for every stage whose ENDPOINT has an address, nullptr (the
// local function) otherwise. `spec`, `manager` and `store` are borrowed and
// must outlive the run; the store must be the manager's. Errors: InvalidArgument
// when `store` is null (remote stages exchange objects through it), or when a
// local fallback's function cannot be made.
StageFunctionFactory RemoteStageFactory(const PipelineSpec& spec, FunctionManager* manager,
                                        ObjectStore* store, FailoverNotice notice = {});

// True when some stage of `spec` runs on an endpoint with an address.
bool HasRemoteStages(const PipelineSpec& spec);

// One place a stage's items can run.
struct RemoteTarget {
  std::string name;                // the ENDPOINT's name, for notices
  std::string address;             // empty: run `local` in this process
  std::shared_ptr<Function> local{};  // set iff address is empty
  // Give up on this target after this long without a word from it
  // (TaskSpec::lost_after): ENDPOINT.fallback_after when a later target
  // exists, else ENDPOINT.lost_after. Zero: never.
  std::chrono::milliseconds lost_after{0};
};

// Thread-safety: as Function requires (calls for different streams may run
// concurrently; the manager is thread-safe). Ownership: borrows manager and store.
class RemoteFunction : public Function {
 public:
  // `targets`: at least one; the first has an address.
  RemoteFunction(FunctionManager* manager, ObjectStore* store, std::vector<RemoteTarget> targets,
                 std::string function, std::string stage, FailoverNotice notice = {});
  // One endpoint, no fallback.
  RemoteFunction(FunctionManager* manager, ObjectStore* store, std::string endpoint,
                 std::string function, std::string stage);
  Status Process(Task& task) const override;
  Status EndStream(Task& task) const override;

 private:
  // One item as sent: its input keys and names.
  struct Sent {
    std::vector<std::string> inputs, names;
    // The inputs themselves, held until the stream ends so a replay finds
    // them (the store may drop an intermediate nobody holds).
    std::vector<Blob> objects;
  };

  Status Run(Task& task, bool end_of_stream) const;
  // The item on one target. Unavailable means the target is lost; the item's
  // history entry is then not recorded, so it can run on the next target.
  // `lost`: set when the manager gave up on the target (TaskOutcome::lost).
  Status RunRemote(const RemoteTarget& target, TaskSpec spec, std::vector<Sent>& history,
                   Task& task, bool* lost) const;
  // The failure of an item once every target is lost.
  Status GivenUp() const;
  Status RunLocal(const RemoteTarget& target, const TaskSpec& spec, std::vector<Sent>& history,
                  Task& task) const;
  // Replays items [from, to) of the stream to the item's endpoint.
  Status Replay(const TaskSpec& item, const std::vector<Sent>& history, uint64_t from,
                uint64_t to) const;

  FunctionManager* manager_;
  ObjectStore* store_;
  std::vector<RemoteTarget> targets_;
  std::string function_, stage_;
  FailoverNotice notice_;
  // Index into targets_; only grows; targets_.size(): the last one was lost.
  mutable std::atomic<size_t> current_{0};
  mutable std::mutex mu_;  // guards the maps below
  mutable std::map<std::string, std::vector<Sent>> history_;  // by stream
  // A local target's state, by stream (null for stateless functions).
  mutable std::map<std::string, std::unique_ptr<StreamState>> local_states_;
};

}  // namespace overlay

#endif  // OVERLAY_CORE_REMOTE_FUNCTION_H_
