// SPDX-License-Identifier: Apache-2.0
#include "spsc_ring.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <new>

namespace overlay::transport::detail {
namespace {

static_assert(std::atomic<uint64_t>::is_always_lock_free &&
                  std::atomic<uint32_t>::is_always_lock_free,
              "shared-memory atomics must be lock-free (address-free)");

inline void CpuRelax() { __builtin_ia32_pause(); }

// Shared (not FUTEX_PRIVATE) because the word is mapped by several processes.
void FutexWait(std::atomic<uint32_t>* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  timespec ts{static_cast<time_t>(timeout.count() / 1000000000),
              static_cast<long>(timeout.count() % 1000000000)};
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void FutexWake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

}  // namespace

SpscRing* SpscRing::Construct(void* memory, uint64_t capacity) {
  auto* r = new (memory) SpscRing;
  r->head.store(0, std::memory_order_relaxed);
  r->tail.store(0, std::memory_order_relaxed);
  r->tail_seen = 0;
  r->head_seen = 0;
  r->futex.store(0, std::memory_order_relaxed);
  r->waiters.store(0, std::memory_order_relaxed);
  r->sleeps.store(0, std::memory_order_relaxed);
  r->mask = capacity - 1;
  return r;
}

bool SpscRing::TryPush(const ShmDescriptor& d) {
  const uint64_t t = tail.load(std::memory_order_relaxed);
  if (t - head_seen > mask) {
    head_seen = head.load(std::memory_order_acquire);
    if (t - head_seen > mask) return false;
  }
  slots()[t & mask] = d;
  // seq_cst store then load (no fence, which ThreadSanitizer cannot model):
  // either WaitNonEmpty's seq_cst tail load sees this item, or this load sees
  // its waiters flag.
  tail.store(t + 1, std::memory_order_seq_cst);
  if (waiters.load(std::memory_order_seq_cst) != 0) {
    futex.fetch_add(1, std::memory_order_seq_cst);
    FutexWake(&futex);
  }
  return true;
}

std::optional<ShmDescriptor> SpscRing::TryPop() {
  const uint64_t h = head.load(std::memory_order_relaxed);
  // Slots below tail_seen are visible: the acquire load that saw it ordered them.
  if (tail_seen == h) {
    tail_seen = tail.load(std::memory_order_acquire);
    if (tail_seen == h) return std::nullopt;
  }
  ShmDescriptor d = slots()[h & mask];
  head.store(h + 1, std::memory_order_release);
  return d;
}

bool SpscRing::WaitNonEmpty(std::chrono::microseconds spin,
                            std::chrono::steady_clock::time_point deadline) {
  using Clock = std::chrono::steady_clock;
  const uint64_t h = head.load(std::memory_order_relaxed);
  const auto spin_until = std::min(deadline, Clock::now() + spin);
  for (uint32_t i = 0;; ++i) {
    if (tail.load(std::memory_order_acquire) != h) return true;
    CpuRelax();
    if ((i & 255) == 255) {
      if (Clock::now() >= spin_until) break;
      // When the peer shares our core (a loaded machine), let it run.
      sched_yield();
    }
  }
  for (;;) {
    waiters.store(1, std::memory_order_seq_cst);
    const uint32_t seen = futex.load(std::memory_order_seq_cst);
    if (tail.load(std::memory_order_seq_cst) != h) break;
    const auto now = Clock::now();
    if (now >= deadline) {
      waiters.store(0, std::memory_order_relaxed);
      return false;
    }
    sleeps.fetch_add(1, std::memory_order_relaxed);
    FutexWait(&futex, seen, deadline - now);
  }
  waiters.store(0, std::memory_order_relaxed);
  return true;
}

}  // namespace overlay::transport::detail
