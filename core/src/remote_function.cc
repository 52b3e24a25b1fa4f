// SPDX-License-Identifier: Apache-2.0
#include "overlay/remote_function.h"

#include <utility>

namespace overlay {

RemoteFunction::RemoteFunction(FunctionManager* manager, ObjectStore* store, std::string endpoint,
                               std::string function, std::string stage)
    : manager_(manager),
      store_(store),
      endpoint_(std::move(endpoint)),
      function_(std::move(function)),
      stage_(std::move(stage)) {}

Status RemoteFunction::Process(Task& task) const { return Run(task, false); }
Status RemoteFunction::EndStream(Task& task) const { return Run(task, true); }

TaskOutcome RemoteFunction::Call(TaskSpec spec) const {
  // The manager bounds the wait: per-attempt timeout times (retries + 1).
  return manager_->Call(std::move(spec));
}

Status RemoteFunction::Replay(const TaskSpec& item, const std::vector<Sent>& history,
                              uint64_t from, uint64_t to) const {
  int restarts = 0;  // the endpoint lost the stream again during the replay
  for (uint64_t pos = from; pos < to;) {
    TaskSpec spec = item;
    spec.inputs = history[pos].inputs;
    spec.input_names = history[pos].names;
    spec.position = pos;
    spec.replay = true;
    spec.end_of_stream = false;
    TaskOutcome outcome = Call(std::move(spec));
    if (outcome.stream_mismatch) {
      if (++restarts > 3)
        return Status::Unavailable("endpoint " + endpoint_ + " keeps losing stream '" +
                                   item.stream + "' while it is being replayed");
      pos = outcome.stream_position <= pos ? outcome.stream_position : 0;
      continue;
    }
    // An item whose function failed (bad data, a failing command) failed the
    // first time too and still counts; anything else (a lost endpoint, an
    // input no longer in the store) means the state cannot be rebuilt.
    const Status& s = outcome.status;
    if (!s.ok() && !s.IsFailed() && !s.IsInvalidArgument())
      return Status::Unavailable("cannot rebuild stream '" + item.stream + "' on " + endpoint_ +
                                 ": replaying item " + std::to_string(pos) + ": " + s.ToString());
    ++pos;
  }
  return Status::OK();
}

Status RemoteFunction::Run(Task& task, bool end_of_stream) const {
  TaskSpec spec;
  spec.endpoint = endpoint_;
  spec.function = function_;
  spec.stage = stage_;
  spec.stream = task.stream;
  spec.seq = task.seq;
  spec.end_of_stream = end_of_stream;
  for (const NamedBlob& in : task.inputs) {
    // Content-addressed: an input already in the store is not stored twice.
    auto key = store_->Put("", in.data.view());
    if (!key.ok()) return key.status();
    spec.inputs.push_back(*key);
    spec.input_names.push_back(in.name);
  }
  // The executor calls a stream's items one at a time, so its history is
  // stable while this call runs.
  std::vector<Sent>* history;
  {
    std::lock_guard lock(mu_);
    history = &history_[task.stream];
  }
  spec.position = history->size();
  TaskOutcome outcome = Call(spec);
  // A restart between the replay and the resend loses the stream again.
  for (int round = 0; outcome.stream_mismatch && round < 3; ++round) {
    uint64_t from = outcome.stream_position <= spec.position ? outcome.stream_position : 0;
    OVERLAY_RETURN_IF_ERROR(Replay(spec, *history, from, spec.position));
    outcome = Call(spec);
  }
  if (end_of_stream) {
    std::lock_guard lock(mu_);
    history_.erase(task.stream);
  } else if (!outcome.stream_mismatch) {
    history->push_back(Sent{spec.inputs, spec.input_names});
  }
  if (!outcome.status.ok()) return outcome.status;
  for (const auto& [name, value] : outcome.counters) task.counters[name] += value;
  for (size_t i = 0; i < outcome.outputs.size(); ++i) {
    auto bytes = manager_->FetchOutput(endpoint_, outcome.outputs[i]);
    if (!bytes.ok()) return bytes.status();
    std::string name =
        i < outcome.output_names.size() ? outcome.output_names[i] : outcome.outputs[i];
    task.outputs.push_back(NamedBlob{std::move(name), std::move(*bytes)});
  }
  return Status::OK();
}

bool HasRemoteStages(const PipelineSpec& spec) {
  for (const StageDecl& s : spec.stages) {
    const EndpointDecl* ep = s.endpoint.empty() ? nullptr : spec.FindEndpoint(s.endpoint);
    if (ep != nullptr && !ep->address.empty()) return true;
  }
  return false;
}

StageFunctionFactory RemoteStageFactory(const PipelineSpec& spec, FunctionManager* manager,
                                        ObjectStore* store) {
  return [&spec, manager, store](const StageDecl& stage,
                                 const FunctionDecl& fn) -> Result<std::unique_ptr<Function>> {
    const EndpointDecl* ep = stage.endpoint.empty() ? nullptr : spec.FindEndpoint(stage.endpoint);
    if (ep == nullptr || ep->address.empty()) return std::unique_ptr<Function>();
    if (store == nullptr)
      return Status::InvalidArgument("stage '" + stage.name + "' runs on endpoint '" + ep->name +
                                     "', which needs the data container (drop --no-store)");
    return std::unique_ptr<Function>(
        std::make_unique<RemoteFunction>(manager, store, ep->address, fn.name, stage.name));
  };
}

}  // namespace overlay
