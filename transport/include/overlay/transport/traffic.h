// SPDX-License-Identifier: Apache-2.0
// Bytes moved by this process's request/reply channels (envelopes and
// attachments, sent and received), per transport, since the process started:
// for metrics (overlay_transport_bytes_total) and status reports.
#ifndef OVERLAY_TRANSPORT_TRAFFIC_H_
#define OVERLAY_TRANSPORT_TRAFFIC_H_

#include <cstdint>
#include <string>
#include <vector>

namespace overlay::transport {

enum class TransportKind { kZeroMq, kFabric };

struct Traffic {
  std::string transport;  // "zeromq" or "libfabric"
  uint64_t sent_bytes = 0;
  uint64_t received_bytes = 0;
};

// Every transport, moved bytes or not. Thread-safe.
std::vector<Traffic> TrafficByTransport();

// Counted by the channels: one relaxed atomic add per message. Thread-safe.
void CountSent(TransportKind kind, uint64_t bytes);
void CountReceived(TransportKind kind, uint64_t bytes);

}  // namespace overlay::transport

#endif  // OVERLAY_TRANSPORT_TRAFFIC_H_
