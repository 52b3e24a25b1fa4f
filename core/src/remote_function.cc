// SPDX-License-Identifier: Apache-2.0
#include "overlay/remote_function.h"

#include <fmt/format.h>

#include <chrono>
#include <utility>

namespace overlay {
namespace {

// A replayed item whose function failed (bad data, a failing command) failed
// the first time too and still counts; anything else (a lost endpoint, an
// input no longer in the store) means the state cannot be rebuilt.
Status ReplayedItem(const Status& s, const std::string& stream, const std::string& where,
                    uint64_t pos) {
  if (s.ok() || s.IsFailed() || s.IsInvalidArgument()) return Status::OK();
  return Status::Unavailable("cannot rebuild stream '" + stream + "' on " + where +
                             ": replaying item " + std::to_string(pos) + ": " + s.ToString());
}

}  // namespace

RemoteFunction::RemoteFunction(FunctionManager* manager, ObjectStore* store,
                               std::vector<RemoteTarget> targets, std::string function,
                               std::string stage, FailoverNotice notice)
    : manager_(manager),
      store_(store),
      targets_(std::move(targets)),
      function_(std::move(function)),
      stage_(std::move(stage)),
      notice_(std::move(notice)) {}

RemoteFunction::RemoteFunction(FunctionManager* manager, ObjectStore* store, std::string endpoint,
                               std::string function, std::string stage)
    : RemoteFunction(manager, store, {RemoteTarget{endpoint, endpoint}}, std::move(function),
                     std::move(stage)) {}

Status RemoteFunction::Process(Task& task) const { return Run(task, false); }
Status RemoteFunction::EndStream(Task& task) const { return Run(task, true); }

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
    TaskOutcome outcome = manager_->Call(std::move(spec));
    if (outcome.stream_mismatch) {
      if (++restarts > 3)
        return Status::Unavailable("endpoint " + item.endpoint + " keeps losing stream '" +
                                   item.stream + "' while it is being replayed");
      pos = outcome.stream_position <= pos ? outcome.stream_position : 0;
      continue;
    }
    OVERLAY_RETURN_IF_ERROR(ReplayedItem(outcome.status, item.stream, item.endpoint, pos));
    ++pos;
  }
  return Status::OK();
}

Status RemoteFunction::Run(Task& task, bool end_of_stream) const {
  TaskSpec spec;
  spec.function = function_;
  spec.stage = stage_;
  spec.stream = task.stream;
  spec.seq = task.seq;
  spec.end_of_stream = end_of_stream;
  // Inputs the executor passed without storing them are stored here, and held
  // (pinned) until the endpoint has pulled them.
  std::vector<Blob> objects;
  for (const NamedBlob& in : task.inputs) {
    if (in.data.key()) {
      objects.push_back(in.data);
    } else {
      auto stored = store_->Put(in.data.view());
      if (!stored.ok()) return stored.status();
      objects.push_back(std::move(*stored));
    }
    spec.inputs.push_back(objects.back().key()->ToHex());
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
  Status s;
  for (size_t t = current_.load();;) {
    if (t == targets_.size()) {
      s = GivenUp();
      break;
    }
    const RemoteTarget& target = targets_[t];
    bool lost = false;
    s = target.address.empty() ? RunLocal(target, spec, *history, task)
                               : RunRemote(target, spec, *history, task, &lost);
    if (t + 1 == targets_.size()) {
      size_t expected = t;
      if (lost && current_.compare_exchange_strong(expected, t + 1) && notice_)
        notice_("stage '" + stage_ + "': giving up on " + std::string(GivenUp().message()) +
                "; its items fail");
      if (lost) s = GivenUp();
      break;
    }
    if (!s.IsUnavailable()) break;
    // Lost: this and every later item of every stream go to the next target.
    size_t expected = t;
    if (current_.compare_exchange_strong(expected, t + 1) && notice_) {
      notice_("stage '" + stage_ + "': endpoint '" + target.name + "' lost (" +
              std::string(s.message()) + "); its items go to '" + targets_[t + 1].name + "'");
    }
    t = current_.load();
  }
  if (history->size() > spec.position) history->back().objects = std::move(objects);
  if (end_of_stream) {
    std::lock_guard lock(mu_);
    history_.erase(task.stream);
    local_states_.erase(task.stream);
  }
  return s;
}

Status RemoteFunction::GivenUp() const {
  const RemoteTarget& last = targets_.back();
  return Status::Unavailable(fmt::format(
      "endpoint '{}' at {} unreachable: nothing heard from it for {:g} s (lost_after)", last.name,
      last.address, std::chrono::duration<double>(last.lost_after).count()));
}

Status RemoteFunction::RunRemote(const RemoteTarget& target, TaskSpec spec,
                                 std::vector<Sent>& history, Task& task, bool* lost) const {
  spec.endpoint = target.address;
  spec.lost_after = target.lost_after;
  // The manager bounds the wait: per-attempt timeout times (retries + 1).
  TaskOutcome outcome = manager_->Call(spec);
  *lost = outcome.lost;
  // A restart between the replay and the resend loses the stream again.
  for (int round = 0; outcome.stream_mismatch && round < 3; ++round) {
    uint64_t from = outcome.stream_position <= spec.position ? outcome.stream_position : 0;
    OVERLAY_RETURN_IF_ERROR(Replay(spec, history, from, spec.position));
    outcome = manager_->Call(spec);
  }
  // The endpoint's state has seen the item unless it was lost on the way.
  const bool seen =
      !spec.end_of_stream && !outcome.stream_mismatch && !outcome.status.IsUnavailable();
  if (seen) history.push_back(Sent{spec.inputs, spec.input_names, {}});
  if (!outcome.status.ok()) return outcome.status;
  std::vector<NamedBlob> outputs;
  for (size_t i = 0; i < outcome.outputs.size(); ++i) {
    auto bytes = manager_->FetchOutput(target.address, outcome.outputs[i]);
    if (!bytes.ok()) {
      const Status& e = bytes.status();
      if (!e.IsUnavailable() && !e.IsTimeout()) return e;
      // Its outputs are gone with the endpoint: the item runs again elsewhere.
      if (seen) history.pop_back();
      return Status::Unavailable("cannot fetch the outputs of stage '" + stage_ + "' from " +
                                 target.address + ": " + e.ToString());
    }
    std::string name =
        i < outcome.output_names.size() ? outcome.output_names[i] : outcome.outputs[i];
    outputs.push_back(NamedBlob{std::move(name), std::move(*bytes)});
  }
  for (const auto& [name, value] : outcome.counters) task.counters[name] += value;
  for (NamedBlob& out : outputs) task.outputs.push_back(std::move(out));
  return Status::OK();
}

Status RemoteFunction::RunLocal(const RemoteTarget& target, const TaskSpec& spec,
                                std::vector<Sent>& history, Task& task) const {
  StreamState* state = nullptr;
  bool fresh = false;
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = local_states_.try_emplace(task.stream);
    if (inserted) it->second = target.local->NewStream(task.stream);
    state = it->second.get();
    fresh = inserted;
  }
  // The stream's earlier items ran elsewhere: rebuild its state from their
  // inputs, still in the store.
  for (uint64_t pos = 0; fresh && state != nullptr && pos < spec.position; ++pos) {
    Task replay;
    replay.stream = task.stream;
    replay.seq = pos;
    replay.state = state;
    for (size_t i = 0; i < history[pos].inputs.size(); ++i) {
      const std::optional<ObjectKey> key = ObjectKey::FromHex(history[pos].inputs[i]);
      auto bytes = key ? store_->Get(*key)
                       : Result<Blob>(Status::Corruption("malformed key in a stream's history"));
      if (!bytes.ok()) return ReplayedItem(bytes.status(), task.stream, target.name, pos);
      replay.inputs.push_back(NamedBlob{history[pos].names[i], std::move(*bytes)});
    }
    OVERLAY_RETURN_IF_ERROR(
        ReplayedItem(target.local->Process(replay), task.stream, target.name, pos));
  }
  StreamState* given = std::exchange(task.state, state);
  Status s = spec.end_of_stream ? target.local->EndStream(task) : target.local->Process(task);
  task.state = given;
  if (!spec.end_of_stream) history.push_back(Sent{spec.inputs, spec.input_names, {}});
  return s;
}

bool HasRemoteStages(const PipelineSpec& spec) {
  for (const StageDecl& s : spec.stages) {
    const EndpointDecl* ep = s.endpoint.empty() ? nullptr : spec.FindEndpoint(s.endpoint);
    if (ep != nullptr && !ep->address.empty()) return true;
  }
  return false;
}

StageFunctionFactory RemoteStageFactory(const PipelineSpec& spec, FunctionManager* manager,
                                        ObjectStore* store, FailoverNotice notice) {
  return [&spec, manager, store, notice](
             const StageDecl& stage, const FunctionDecl& fn) -> Result<std::unique_ptr<Function>> {
    const EndpointDecl* ep = stage.endpoint.empty() ? nullptr : spec.FindEndpoint(stage.endpoint);
    if (ep == nullptr || ep->address.empty()) return std::unique_ptr<Function>();
    if (store == nullptr)
      return Status::InvalidArgument("stage '" + stage.name + "' runs on endpoint '" + ep->name +
                                     "', which needs the data container (drop --no-store)");
    // The endpoint, then its fallbacks (ValidateSpec rules out cycles).
    std::vector<RemoteTarget> targets;
    for (; ep != nullptr; ep = ep->fallback.empty() ? nullptr : spec.FindEndpoint(ep->fallback)) {
      RemoteTarget t{ep->name, ep->address};
      t.lost_after = std::chrono::milliseconds(ep->fallback.empty() ? ep->lost_after_ms
                                                                    : ep->fallback_after_ms);
      if (ep->address.empty()) {
        auto local = MakeDeclaredFunction(fn);
        if (!local.ok()) return local.status();
        t.local = std::move(*local);
      }
      targets.push_back(std::move(t));
    }
    return std::unique_ptr<Function>(std::make_unique<RemoteFunction>(
        manager, store, std::move(targets), fn.name, stage.name, notice));
  };
}

}  // namespace overlay
