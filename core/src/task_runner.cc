// SPDX-License-Identifier: Apache-2.0
#include "task_runner.h"

#include <optional>
#include <utility>

#include "overlay/executor.h"
#include "overlay/object_key.h"

namespace overlay::endpoint {

Status TaskRunner::AddFunctions(const PipelineSpec& spec) {
  for (const FunctionDecl& f : spec.functions) {
    auto fn = MakeDeclaredFunction(f);
    if (!fn.ok()) return fn.status();
    functions_[f.name] = std::move(*fn);
    if (!f.builtin.empty()) native_.insert(f.name);
  }
  return Status::OK();
}

Status TaskRunner::Execute(const transport::Invoke& inv, const std::string& client,
                           const InputFn& input, transport::InvokeResult* result) {
  auto fit = functions_.find(inv.function);
  if (fit == functions_.end())
    return Status::NotFound("endpoint '" + name_ + "' has no FUNCTION '" + inv.function + "'");
  const Function& fn = *fit->second;
  Task task;
  task.stream = inv.stream;
  task.allocator = store_;
  task.seq = inv.seq;
  for (size_t i = 0; i < inv.inputs.size(); ++i) {
    auto bytes = input(i);
    if (!bytes.ok()) return bytes.status();
    std::string name = i < inv.input_names.size() ? inv.input_names[i] : inv.inputs[i];
    task.inputs.push_back(NamedBlob{std::move(name), std::move(*bytes)});
  }
  Status s;
  if (inv.stream.empty()) {
    std::unique_ptr<StreamState> state = fn.NewStream("");
    task.state = state.get();
    s = inv.end_of_stream ? fn.EndStream(task) : fn.Process(task);
  } else {
    std::string key = inv.origin + '\0' + inv.stage + '\0' + inv.function + '\0' + inv.stream;
    auto got = streams_.Get(client, key, fn, inv.stream);
    if (!got.ok()) return got.status();
    std::shared_ptr<StreamEntry> entry = std::move(*got);
    std::lock_guard lock(entry->mu);
    if (entry->state != nullptr && inv.position != entry->position) {
      if (inv.position != 0 || inv.end_of_stream) {
        result->stream_mismatch = true;
        result->stream_position = entry->position;
        return Status::Failed("stream '" + inv.stream + "' of stage '" + inv.stage +
                              "': endpoint state has seen " + std::to_string(entry->position) +
                              " items, the task expects " + std::to_string(inv.position));
      }
      entry->state = fn.NewStream(inv.stream);  // the sender starts the stream afresh
      entry->position = 0;
    }
    task.state = entry->state.get();
    s = inv.end_of_stream ? fn.EndStream(task) : fn.Process(task);
    ++entry->position;  // a failed item has been seen too: the sender counts it
    if (inv.end_of_stream) streams_.Erase(key);
  }
  if (!s.ok() || inv.replay) return s;
  result->counters = std::move(task.counters);
  for (const NamedBlob& out : task.outputs) {
    // Space from Task::NewOutput is stored already.
    std::optional<ObjectKey> key = out.data.key();
    if (!key) {
      auto stored = container_->Put(out.data.view());
      if (!stored.ok()) return stored.status();
      key = stored->key();
    }
    result->outputs.push_back(key->ToHex());
    result->output_names.push_back(out.name);
  }
  return Status::OK();
}

}  // namespace overlay::endpoint
