// SPDX-License-Identifier: Apache-2.0
// Asking a running endpoint daemon whether it is up (a Heartbeat) and how it
// is doing (a Heartbeat with want_status), as `overlay up` and `status` do.
#ifndef OVERLAY_CORE_CLI_ENDPOINT_PROBE_H_
#define OVERLAY_CORE_CLI_ENDPOINT_PROBE_H_

#include <chrono>
#include <string>

#include "overlay/config.h"
#include "overlay/status.h"
#include "overlay/transport/wire.h"

namespace overlay {

// Sends one Heartbeat to `e.address` (with the CURVE keys the config gives:
// the endpoint's public key, the [CLIENT] pair) and returns the verified
// reply. Timeout when none came within `timeout`; the reply's error, or
// Corruption for a reply of another type, otherwise.
Result<transport::Heartbeat> ProbeEndpoint(const PipelineSpec& spec, const EndpointDecl& e,
                                           std::chrono::milliseconds timeout, bool want_status);

}  // namespace overlay

#endif  // OVERLAY_CORE_CLI_ENDPOINT_PROBE_H_
