// SPDX-License-Identifier: Apache-2.0
// An endpoint's handling of received Invokes, end to end: each frame of the
// input (endpoint_fixture.h) is verified as the channel does, admitted
// (decode, per-client bounds, repeated-task ledger), and the admitted ones are
// run on the endpoint's TaskRunner (stream state, positions, outputs put in
// L1) and answered. Frames come as a burst does: all admitted, then run in
// order. Any input must give replies that verify, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "client_limits.h"
#include "endpoint_fixture.h"
#include "invoke_handler.h"
#include "overlay/transport/channel.h"
#include "overlay/transport/wire.h"
#include "task_ledger.h"
#include "task_runner.h"

namespace {

namespace t = overlay::transport;
using overlay::Blob;

// Our own replies must pass the checks a receiver makes.
void CheckReply(const t::Message& reply) {
  auto bytes =
      std::span(reinterpret_cast<const std::byte*>(reply.envelope.data()), reply.envelope.size());
  if (!t::VerifyEnvelope(bytes, t::WireLimits{}).ok()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace ep = overlay::endpoint;
  auto& fixture = overlay::fuzz::EndpointFixture::Get();
  fixture.Restock();
  // Small bounds, so that refusals and idle-stream drops are reached.
  ep::TaskRunner runner("fuzz", &fixture.container(), &fixture.store(), /*max_streams=*/3,
                        std::chrono::milliseconds(0));
  if (!runner.AddFunctions(fixture.spec()).ok()) std::abort();
  ep::ClientLimits limits(/*max_tasks=*/6, /*max_bytes=*/4096);
  ep::TaskLedger ledger;

  std::vector<ep::Job> jobs;
  int n = 0;
  for (std::string& frame : overlay::fuzz::SplitFrames(data, size)) {
    Blob envelope = Blob::FromString(std::move(frame));
    auto env = t::VerifyEnvelope(
        std::span(reinterpret_cast<const std::byte*>(envelope.data()), envelope.size()),
        t::WireLimits{});
    // The channel answers what fails verification; the endpoint never sees it.
    if (!env.ok() || (*env)->message_type() != overlay::wire::Message::Invoke) continue;
    // Two connections, one of them CURVE-authenticated: two clients.
    const bool second = n++ % 2 == 1;
    t::ServerChannel::Request req{second ? "peer-b" : "peer-a", t::Message{envelope, {}},
                                  second ? std::string(40, 'K') : ""};
    ep::Admission admission = ep::AdmitInvoke(req, limits, ledger);
    if (admission.reply) CheckReply(*admission.reply);
    if (admission.job) jobs.push_back(std::move(*admission.job));
  }
  for (ep::Job& job : jobs) {
    t::InvokeResult result = ep::RunJob(job, runner, fixture.container());
    auto [peer, reply] = ep::FinishJob(job, std::move(result), limits, ledger);
    CheckReply(reply);
  }
  return 0;
}
