// SPDX-License-Identifier: Apache-2.0
// Internal: a lock-free single-producer single-consumer ring of ShmDescriptors
// that lives in shared memory, with a futex word for sleeping consumers.
//
// head and tail are free-running counters on their own cache lines; slot i is
// slots[i & mask]. The producer writes the slot, then publishes tail (release);
// the consumer reads tail (acquire), the slot, then publishes head (release).
// Each side keeps its last look at the other's counter on its own line and
// reads the other's line again only when that look says full (or empty): a
// cache line crossing cores is most of a hand-off's cost.
// Wake-up protocol (an eventcount): a consumer about to sleep sets `waiters`,
// reads `futex`, re-checks for data, then FUTEX_WAITs on that value; a producer
// publishes, fences, and if `waiters` is set bumps `futex` and FUTEX_WAKEs. The
// two seq_cst orderings guarantee one of them sees the other, so no lost wake-up.
#ifndef OVERLAY_TRANSPORT_SRC_SPSC_RING_H_
#define OVERLAY_TRANSPORT_SRC_SPSC_RING_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

#include "overlay/transport/shm_channel.h"

namespace overlay::transport::detail {

struct alignas(64) SpscRing {
  alignas(64) std::atomic<uint64_t> head;  // next slot the consumer reads
  uint64_t tail_seen;                      // consumer only: tail when last read
  alignas(64) std::atomic<uint64_t> tail;  // next slot the producer writes
  uint64_t head_seen;                      // producer only: head when last read
  alignas(64) std::atomic<uint32_t> futex;
  std::atomic<uint32_t> waiters;
  std::atomic<uint64_t> sleeps;
  uint64_t mask;  // capacity - 1; capacity is a power of two
  // ShmDescriptor slots[capacity] follow the struct.

  static size_t BytesFor(uint64_t capacity) {
    return sizeof(SpscRing) + capacity * sizeof(ShmDescriptor);
  }
  // REQUIRES: `memory` is zeroed shared memory of BytesFor(capacity) bytes.
  static SpscRing* Construct(void* memory, uint64_t capacity);

  ShmDescriptor* slots() { return reinterpret_cast<ShmDescriptor*>(this + 1); }

  // Producer. False when full.
  bool TryPush(const ShmDescriptor& d);
  // Consumer. nullopt when empty.
  std::optional<ShmDescriptor> TryPop();
  // Consumer: waits until non-empty (true) or the deadline passes (false).
  bool WaitNonEmpty(std::chrono::microseconds spin, std::chrono::steady_clock::time_point deadline);
};

}  // namespace overlay::transport::detail

#endif  // OVERLAY_TRANSPORT_SRC_SPSC_RING_H_
