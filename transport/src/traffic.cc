// SPDX-License-Identifier: Apache-2.0
#include "overlay/transport/traffic.h"

#include <atomic>

namespace overlay::transport {
namespace {

struct Counts {
  std::atomic<uint64_t> sent{0}, received{0};
};

// Indexed by TransportKind; each on a cache line of its own.
alignas(64) Counts zeromq;
alignas(64) Counts fabric;

Counts& Of(TransportKind kind) { return kind == TransportKind::kZeroMq ? zeromq : fabric; }

}  // namespace

std::vector<Traffic> TrafficByTransport() {
  return {{"zeromq", zeromq.sent.load(std::memory_order_relaxed),
           zeromq.received.load(std::memory_order_relaxed)},
          {"libfabric", fabric.sent.load(std::memory_order_relaxed),
           fabric.received.load(std::memory_order_relaxed)}};
}

void CountSent(TransportKind kind, uint64_t bytes) {
  Of(kind).sent.fetch_add(bytes, std::memory_order_relaxed);
}

void CountReceived(TransportKind kind, uint64_t bytes) {
  Of(kind).received.fetch_add(bytes, std::memory_order_relaxed);
}

}  // namespace overlay::transport
