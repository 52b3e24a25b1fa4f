// SPDX-License-Identifier: Apache-2.0
// L1 allocation: descriptors from the table, data blocks from the walkable
// heap (Block in shm_layout.h).
#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "shm_impl.h"

namespace overlay::storage {

using namespace shm;  // NOLINT: the layout vocabulary is used throughout

uint32_t ShmCache::Impl::High() const {
  return std::min(hdr->desc_high.load(std::memory_order_acquire), hdr->max_objects);
}

bool ShmCache::Impl::BlockFree(const Block* b) const {
  uint64_t o = b->owner.load(std::memory_order_acquire);
  if (o == 0) return true;
  uint32_t di = static_cast<uint32_t>(o & 0xffffffffu) - 1;
  if (di >= hdr->max_objects) return true;
  uint64_t c = D(di).ctl.load(std::memory_order_acquire);
  return GenOf(c) != static_cast<uint32_t>(o >> 32) || StateOf(c) == kFree;
}

bool ShmCache::Impl::AllocBlockLocked(uint64_t units, uint32_t di, uint32_t gen,
                                      uint64_t max_blocks, uint64_t* off) {
  const uint64_t total = hdr->arena_bytes / kUnit;
  uint64_t pos = hdr->rover / kUnit;
  if (pos >= total) pos = 0;
  // The first free block this lap found too small: the rover stays there,
  // so freed space is reused, lowest first, before untouched space. Only
  // within a lap (a block passed before a wrap may be merged into another),
  // and only when the fit was near, so puts do not keep walking (and, at
  // max_blocks, evicting) from a hole far behind the free space.
  constexpr uint64_t kNear = 256;
  uint64_t skipped = total, skipped_at = 0;
  for (uint64_t scanned = 0, blocks = 0; scanned < 2 * total && blocks < max_blocks; ++blocks) {
    Block* b = B(pos);
    uint64_t u = b->units.load(std::memory_order_acquire);
    if (u == 0 || pos + u > total) break;  // cannot happen: the heap is always walkable
    if (BlockFree(b)) {
      while (pos + u < total) {
        Block* next = B(pos + u);
        if (!BlockFree(next)) break;
        u += next->units.load(std::memory_order_acquire);
        b->units.store(u, std::memory_order_release);
      }
      if (u >= units) {
        if (u > units) {
          Block* tail = B(pos + units);
          tail->owner.store(0, std::memory_order_relaxed);
          tail->units.store(u - units, std::memory_order_release);
          b->units.store(units, std::memory_order_release);
        }
        b->owner.store(MakeOwner(gen, di), std::memory_order_release);
        const bool stay = skipped < total && blocks - skipped_at <= kNear;
        const uint64_t next = stay ? skipped : pos + units;
        hdr->rover = (next >= total ? 0 : next) * kUnit;
        *off = pos * kUnit;
        return true;
      }
      if (skipped == total) {
        skipped = pos;
        skipped_at = blocks;
      }
    }
    scanned += u;
    pos += u;
    if (pos >= total) {
      pos = 0;
      skipped = total;
    }
  }
  hdr->rover = pos * kUnit;
  return false;
}

// By ordinal, not by a hash of the thread id: a process's first kLanes
// threads never share a lane.
ShmCache::Impl::Lane& ShmCache::Impl::MyLane() { return lanes[ThreadOrdinal() % kLanes]; }

// One CAS takes the descriptor and names its owner (see the ctl word), so a
// recovering writer never mistakes a fresh loan for a dead writer's.
bool ShmCache::Impl::TakeDesc(uint32_t i) {
  Desc& d = D(i);
  uint64_t c = d.ctl.load(std::memory_order_acquire);
  if (StateOf(c) != kFree) return false;
  if (!d.ctl.compare_exchange_strong(c, MakeCtl(GenOf(c) + 1, static_cast<uint64_t>(pid), kLoaned),
                                     std::memory_order_acq_rel))
    return false;
  hdr->used_descs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// While most descriptors below desc_high are in use, extending first keeps
// this O(1). Each lane searches from where it last found one, so concurrent
// writers rarely race for the same descriptor.
bool ShmCache::Impl::AllocDesc(Lane& lane, uint32_t* out) {
  auto extend = [&](uint32_t high) {
    return high < hdr->max_objects &&
           hdr->desc_high.compare_exchange_strong(high, high + 1, std::memory_order_acq_rel) &&
           TakeDesc(high) && (*out = high, true);
  };
  uint32_t high = High();
  if (hdr->used_descs.load(std::memory_order_relaxed) >= high / 2 + high / 4 && extend(high))
    return true;
  high = High();
  for (uint32_t k = 0; k < high; ++k) {
    const uint32_t i = (lane.desc_rover.load(std::memory_order_relaxed) + k) % high;
    if (!TakeDesc(i)) continue;
    lane.desc_rover.store((i + 1) % high, std::memory_order_relaxed);
    *out = i;
    return true;
  }
  for (int tries = 0; tries < 64; ++tries)
    if (extend(High())) return true;
  return false;
}

void ShmCache::Impl::FreeLoanLocked(uint32_t di) {
  Desc& d = D(di);
  uint64_t c = d.ctl.load(std::memory_order_acquire);
  if (StateOf(c) != kLoaned) return;
  d.ctl.store(MakeCtl(GenOf(c), 0, kFree), std::memory_order_release);
  hdr->used_descs.fetch_sub(1, std::memory_order_relaxed);
}

// The heap path: next-fit from the lowest space known free (the rover), under
// the writer mutex, evicting in batches.
Status ShmCache::Impl::LoanFromHeap(uint64_t units, bool patient, const Lane* held, uint32_t* di,
                                    uint64_t* off) {
  // Blocks a first-fit attempt may walk before evicting instead.
  constexpr uint64_t kScanBound = 4096;
  // Set on the first retry: a put that finds room at once reads no clock.
  std::chrono::steady_clock::time_point deadline;
  bool just_evicted = false;
  for (int waits = 0, attempt = 0;; ++attempt) {
    if (attempt == 1) {
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    } else if (attempt > 1 && std::chrono::steady_clock::now() >= deadline) {
      return Status::Timeout("L1 could not make room within 10 s");
    }
    std::vector<uint32_t> victims;
    {
      Lock lock(this);
      const bool have_desc = AllocDesc(MyLane(), di);
      if (have_desc) {
        const uint32_t gen = GenOf(D(*di).ctl.load(std::memory_order_relaxed));
        // Right after an eviction the rover points at the first victim, and the
        // walk may go as far as needed to reach the space just freed.
        if (AllocBlockLocked(units, *di, gen, just_evicted ? UINT64_MAX : kScanBound, off))
          return Status::OK();
        FreeLoanLocked(*di);
      }
      // Evict at least 1/16 of the budget per scan, so the O(objects) victim
      // search is amortized over many puts (measured: 1/32 made a 1 KiB put in
      // a full cache about 1.6x slower). The cost: up to 1/16 of the budget
      // stands empty right after a batch.
      victims = PickVictimsLocked(
          std::max<uint64_t>(have_desc ? units : 1, hdr->arena_bytes / kUnit / 16));
      if (victims.empty()) {
        // Only dead writers' loans, readers of evicted objects or idle
        // reservations can hold space now.
        just_evicted = ReclaimDeadLoansLocked() > 0;
        just_evicted = ReclaimDeadOpenersLocked() > 0 || just_evicted;
        just_evicted = DropIdleReservationsLocked(held) || just_evicted;
        if (!just_evicted) hdr->rover = 0;
      } else {
        uint64_t first = UINT64_MAX;
        for (uint32_t v : victims)
          first = std::min(first, D(v).block.load(std::memory_order_relaxed));
        hdr->rover = first;
        just_evicted = true;
      }
    }
    if (victims.empty() && !just_evicted) {
      if (!patient || ++waits > 20)
        return Status::Busy("L1 is full: " + std::to_string(hdr->arena_bytes) +
                            " bytes held by pinned objects, readers or open loans");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      just_evicted = true;  // readers may have let go: walk the whole heap once more
      continue;
    }
    EvictPinned(victims);
  }
}

// The carving path: a split of the lane's reservation (see Block), taking
// only the lane's process-local mutex. Returns false to send the caller to
// the heap path.
bool ShmCache::Impl::LoanFromLane(uint64_t units, uint32_t* di, uint64_t* off) {
  if (units * 8 > chunk_units) return false;
  Lane& lane = MyLane();
  std::lock_guard<std::mutex> guard(lane.mu);
  if (lane.res == kNoDesc || lane.res_units <= units) {
    if (lane.res != kNoDesc) {
      Lock lock(this);
      DropReservationLocked(lane);
    }
    uint32_t r = 0;
    uint64_t roff = 0;
    if (!LoanFromHeap(chunk_units, false, &lane, &r, &roff).ok()) return false;
    lane.res = r;
    lane.res_owner = MakeOwner(GenOf(D(r).ctl.load(std::memory_order_relaxed)), r);
    lane.res_unit = roff / kUnit;
    lane.res_units = chunk_units;
  }
  const uint64_t pos = lane.res_unit;
  if (!AllocDesc(lane, di)) return false;
  const uint32_t gen = GenOf(D(*di).ctl.load(std::memory_order_relaxed));
  Block* b = B(pos);
  Block* tail = B(pos + units);
  tail->owner.store(lane.res_owner, std::memory_order_relaxed);
  tail->units.store(lane.res_units - units, std::memory_order_release);
  b->units.store(units, std::memory_order_release);
  b->owner.store(MakeOwner(gen, *di), std::memory_order_release);
  lane.res_unit = pos + units;
  lane.res_units -= units;
  *off = pos * kUnit;
  return true;
}

Status ShmCache::Impl::LoanUnits(uint64_t units, uint32_t* di, uint64_t* off) {
  if (LoanFromLane(units, di, off)) return Status::OK();
  return LoanFromHeap(units, true, nullptr, di, off);
}

void ShmCache::Impl::DropReservationLocked(Lane& lane) {
  if (lane.res == kNoDesc) return;
  FreeLoanLocked(lane.res);
  lane.res = kNoDesc;
  lane.res_units = 0;
}

bool ShmCache::Impl::DropIdleReservationsLocked(const Lane* held) {
  bool dropped = false;
  for (Lane& lane : lanes) {
    if (&lane == held || !lane.mu.try_lock()) continue;
    dropped = dropped || lane.res != kNoDesc;
    DropReservationLocked(lane);
    lane.mu.unlock();
  }
  return dropped;
}

}  // namespace overlay::storage
