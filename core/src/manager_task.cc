// SPDX-License-Identifier: Apache-2.0
#include "manager_task.h"

namespace overlay::manager {

transport::ChannelOptions ChannelFor(const FunctionManagerOptions& o, const std::string& endpoint) {
  transport::ChannelOptions c = o.channel;
  if (auto it = o.curve_server_keys.find(endpoint); it != o.curve_server_keys.end()) {
    c.curve_server_key = it->second;
    c.curve_public_key = o.curve_public_key;
    c.curve_secret_key = o.curve_secret_key;
  }
  return c;
}

std::string PeerKey(const FunctionManagerOptions& o, const std::string& endpoint) {
  auto it = o.curve_server_keys.find(endpoint);
  return it == o.curve_server_keys.end() ? std::string() : it->second;
}

transport::Invoke InvokeOf(uint64_t id, const TaskSpec& t, const std::string& origin) {
  return transport::Invoke{id,       t.stage, t.function,      t.inputs,      {},         origin,
                           t.stream, t.seq,   t.end_of_stream, t.input_names, t.position, t.replay};
}

std::optional<std::pair<uint64_t, TaskOutcome>> DecodeOutcome(const wire::Envelope& env) {
  TaskOutcome outcome;
  if (env.message_type() == wire::Message::Error) {
    outcome.status = transport::DecodeError(env);
    return std::pair{env.request_id(), std::move(outcome)};
  }
  if (env.message_type() != wire::Message::Result) return std::nullopt;
  auto r = transport::DecodeResult(env);
  if (!r.ok()) return std::nullopt;
  outcome.status = r->status;
  outcome.outputs = std::move(r->outputs);
  outcome.output_names = std::move(r->output_names);
  outcome.counters = std::move(r->counters);
  outcome.stream_mismatch = r->stream_mismatch;
  outcome.stream_position = r->stream_position;
  return std::pair{r->task_id, std::move(outcome)};
}

std::unique_ptr<transport::ClientChannel> ChannelPool::Take(const std::string& endpoint) {
  std::lock_guard lock(mu_);
  auto& idle = idle_[endpoint];
  if (idle.empty()) return nullptr;
  std::unique_ptr<transport::ClientChannel> ch = std::move(idle.back());
  idle.pop_back();
  return ch;
}

void ChannelPool::Return(const std::string& endpoint,
                         std::unique_ptr<transport::ClientChannel> ch) {
  std::lock_guard lock(mu_);
  idle_[endpoint].push_back(std::move(ch));
}

}  // namespace overlay::manager
