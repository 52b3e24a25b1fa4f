// SPDX-License-Identifier: Apache-2.0
// Internal: turning received frames into verified Messages, shared by transports.
#ifndef OVERLAY_TRANSPORT_SRC_RECEIVED_H_
#define OVERLAY_TRANSPORT_SRC_RECEIVED_H_

#include "overlay/transport/channel.h"

namespace overlay::transport::detail {

// Verifies `envelope` (copying it first if misaligned) and checks that
// `attachment` has the announced size. The result owns both buffers.
Result<Message> CheckReceived(Blob envelope, Blob attachment, const WireLimits& limits);

// "tcp://h:0" -> "tcp://h:*" (ZeroMQ's way to ask for a free port).
std::string WildcardPort(std::string_view address);

}  // namespace overlay::transport::detail

#endif  // OVERLAY_TRANSPORT_SRC_RECEIVED_H_
