// SPDX-License-Identifier: Apache-2.0
#include "invoke_handler.h"

#include <utility>

#include "overlay/object_key.h"

namespace overlay::endpoint {

Admission AdmitInvoke(const transport::ServerChannel::Request& req, ClientLimits& limits,
                      TaskLedger& ledger) {
  const uint64_t id = req.message.envelope_view()->request_id();
  Admission out;
  auto inv = transport::DecodeInvoke(*req.message.envelope_view());
  if (!inv.ok()) {
    out.reply = transport::MakeMessage(transport::EncodeError(id, inv.status()));
    return out;
  }
  // Bounds first: a refused Invoke is not remembered, so a retry may pass.
  std::string client = ClientOf(req);
  const uint64_t bytes = req.message.envelope.size() + req.message.attachment.size();
  if (Status s = limits.Admit(client, bytes); !s.ok()) {
    out.reply = transport::MakeMessage(transport::EncodeError(id, s));
    out.refused = std::move(s);
    out.stage = inv->stage;
    return out;
  }
  // Task ids are unique per requester: its origin, else (no retries
  // possible) the connection it came on.
  const std::string requester = inv->origin.empty() ? "peer:" + req.peer : inv->origin;
  TaskLedger::Accepted seen = ledger.Accept(requester, inv->task_id, req.peer, id);
  if (seen.seen == TaskLedger::Seen::kDone) out.reply = std::move(seen.reply);
  if (seen.seen != TaskLedger::Seen::kNew) {
    limits.Release(client, bytes);
    return out;
  }
  out.job = Job{std::move(*inv), seen.key, std::move(client), req.client_key, bytes};
  return out;
}

transport::InvokeResult RunJob(Job& job, TaskRunner& runner, storage::DataContainer& container) {
  transport::InvokeResult result;
  result.task_id = job.invoke.task_id;
  const transport::Invoke& inv = job.invoke;
  result.status = runner.Execute(
      inv, job.client,
      [&](size_t i) -> Result<Blob> {
        if (i < job.inputs.size() && job.inputs[i]) return std::move(*job.inputs[i]);
        auto key = ObjectKey::FromHex(inv.inputs[i]);
        if (!key) return Status::InvalidArgument("malformed input key '" + inv.inputs[i] + "'");
        return container.Get(*key);
      },
      &result);
  return result;
}

std::pair<std::string, transport::Message> FinishJob(const Job& job, transport::InvokeResult result,
                                                     ClientLimits& limits, TaskLedger& ledger) {
  limits.Release(job.client, job.charged);
  return ledger.Finish(job.task_key, std::move(result));
}

}  // namespace overlay::endpoint
