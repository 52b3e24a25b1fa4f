// SPDX-License-Identifier: Apache-2.0
// What an endpoint does with a received Invoke, apart from its channel and
// threads: admit it (decode, per-client bounds, repeated-task ledger), then
// run it. The endpoint server and the worker pool call these; so does the
// fuzz target fuzz/invoke_fuzz.cc, which drives them on arbitrary bytes.
#ifndef OVERLAY_CORE_SRC_INVOKE_HANDLER_H_
#define OVERLAY_CORE_SRC_INVOKE_HANDLER_H_

#include <optional>
#include <string>
#include <utility>

#include "client_limits.h"
#include "overlay/storage/data_container.h"
#include "overlay/transport/channel.h"
#include "overlay/transport/wire.h"
#include "task_ledger.h"
#include "task_runner.h"
#include "worker_pool.h"

namespace overlay::endpoint {

struct Admission {
  std::optional<Job> job;                   // new: run it, then finish it (ledger, limits)
  std::optional<transport::Message> reply;  // to send to the request's peer now
  Status refused;     // the bound that refused it, for the event log; OK otherwise
  std::string stage;  // of the refused task
};

// Admits the Invoke in `req` (a verified envelope of type Invoke): a decode
// error or a refused bound is replied to and forgotten (a retry may pass); a
// repeated task is answered from the ledger or left to its running copy.
Admission AdmitInvoke(const transport::ServerChannel::Request& req, ClientLimits& limits,
                      TaskLedger& ledger);

// Runs `job`: its inputs in hand, the others looked up in `container`.
// Inputs in hand are moved out of the job.
transport::InvokeResult RunJob(Job& job, TaskRunner& runner, storage::DataContainer& container);

// Releases what `job` held and records its result; returns whom to answer
// and the reply.
std::pair<std::string, transport::Message> FinishJob(const Job& job, transport::InvokeResult result,
                                                     ClientLimits& limits, TaskLedger& ledger);

}  // namespace overlay::endpoint

#endif  // OVERLAY_CORE_SRC_INVOKE_HANDLER_H_
