// SPDX-License-Identifier: Apache-2.0
// L1 crash recovery: the robust writer mutex, loans of dead writers, and the
// pins of dead readers (see the crash-safety notes in shm_impl.h).
#include <signal.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <cerrno>

#include "shm_impl.h"

namespace overlay::storage {

using namespace shm;  // NOLINT: the layout vocabulary is used throughout

bool shm::ProcessDead(int32_t pid) { return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH; }

// Tries a while before sleeping: writers hold the mutex for short metadata
// steps, and a futex sleep and wake-up cost more than such a step.
ShmCache::Impl::Lock::Lock(Impl* impl) : impl_(impl) {
  constexpr int kSpins = 100;
  int rc = pthread_mutex_trylock(&impl_->hdr->mu);
  for (int i = 0; rc == EBUSY && i < kSpins; ++i) {
#if defined(__x86_64__)
    _mm_pause();
#endif
    rc = pthread_mutex_trylock(&impl_->hdr->mu);
  }
  if (rc == EBUSY) rc = pthread_mutex_lock(&impl_->hdr->mu);
  if (rc == EOWNERDEAD) {
    impl_->RecoverLocked();
    pthread_mutex_consistent(&impl_->hdr->mu);
  }
}

ShmCache::Impl::Lock::~Lock() { pthread_mutex_unlock(&impl_->hdr->mu); }

void ShmCache::Impl::RecoverLocked() {
  hdr->rover = 0;
  ReclaimDeadLoansLocked();
  ReclaimDeadOpenersLocked();
  hdr->recoveries.fetch_add(1, std::memory_order_relaxed);
}

ShmCache::Impl::~Impl() {
  // A forked child that inherited this instance must not free the
  // parent's reservations.
  if (hdr != nullptr && getpid() == pid) {
    Lock lock(this);
    for (Lane& lane : lanes) DropReservationLocked(lane);
  }
  // The pin table is freed only when empty: handles that outlive this
  // instance (against ReadHandle's contract) keep it until the process dies.
  if (opener == nullptr) return;
  for (const auto& pin : opener->pins)
    if (pin.load(std::memory_order_relaxed) != 0) return;
  opener->pid.store(0, std::memory_order_release);
}

uint64_t ShmCache::Impl::ReclaimDeadOpenersLocked() {
  uint64_t n = 0;
  for (uint32_t o = 0; o < kMaxOpeners; ++o) {
    Opener& op = openers[o];
    if (!ProcessDead(op.pid.load(std::memory_order_acquire))) continue;
    for (auto& pin : op.pins) {
      if (uint32_t v = pin.exchange(0, std::memory_order_acq_rel); v != 0) {
        Unpin(v - 1);
        ++n;
      }
    }
    op.pid.store(0, std::memory_order_release);
  }
  hdr->reclaimed_pins.fetch_add(n, std::memory_order_relaxed);
  return n;
}

void ShmCache::Impl::ClaimOpenerLocked() {
  for (uint32_t o = 0; o < kMaxOpeners && opener == nullptr; ++o) {
    int32_t free = 0;
    if (openers[o].pid.compare_exchange_strong(free, pid, std::memory_order_acq_rel))
      opener = &openers[o];
  }
}

int ShmCache::Impl::ReclaimDeadLoansLocked() {
  int n = 0;
  const uint32_t high = High();
  for (uint32_t i = 0; i < high; ++i) {
    Desc& d = D(i);
    uint64_t c = d.ctl.load(std::memory_order_acquire);
    if (StateOf(c) != kLoaned || !ProcessDead(LoanerOf(c))) continue;
    if (d.ctl.compare_exchange_strong(c, MakeCtl(GenOf(c), 0, kFree))) {
      hdr->used_descs.fetch_sub(1, std::memory_order_relaxed);
      ++n;
    }
  }
  return n;
}

}  // namespace overlay::storage
