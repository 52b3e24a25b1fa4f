// SPDX-License-Identifier: Apache-2.0
// L1 allocation: descriptors from the table, data blocks from the walkable
// heap (Block in shm_layout.h).
#include <algorithm>

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
  for (uint64_t scanned = 0, blocks = 0; scanned < 2 * total && blocks < max_blocks; ++blocks) {
    Block* b = B(pos);
    uint64_t u = b->units.load(std::memory_order_relaxed);
    if (u == 0 || pos + u > total) break;  // cannot happen: the heap is always walkable
    if (BlockFree(b)) {
      while (pos + u < total) {
        Block* next = B(pos + u);
        if (!BlockFree(next)) break;
        u += next->units.load(std::memory_order_relaxed);
        b->units.store(u, std::memory_order_release);
      }
      if (u >= units) {
        if (u > units) {
          Block* tail = B(pos + units);
          tail->owner.store(0, std::memory_order_relaxed);
          tail->units.store(u - units, std::memory_order_release);
          b->units.store(units, std::memory_order_release);
        }
        b->owner.store((static_cast<uint64_t>(gen) << 32) | (di + 1), std::memory_order_release);
        uint64_t next = pos + units;
        hdr->rover = (next >= total ? 0 : next) * kUnit;
        *off = pos * kUnit;
        return true;
      }
    }
    scanned += u;
    pos += u;
    if (pos >= total) pos = 0;
  }
  hdr->rover = pos * kUnit;
  return false;
}

bool ShmCache::Impl::TakeDescLocked(uint32_t i) {
  Desc& d = D(i);
  uint64_t c = d.ctl.load(std::memory_order_acquire);
  if (StateOf(c) != kFree) return false;
  if (!d.ctl.compare_exchange_strong(c, MakeCtl(GenOf(c) + 1, 0, kLoaned))) return false;
  d.owner_pid.store(pid, std::memory_order_relaxed);
  hdr->used_descs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// While most descriptors below desc_high are in use, extending first keeps
// this O(1).
bool ShmCache::Impl::AllocDescLocked(uint32_t* out) {
  const uint32_t high = High();
  if (high < hdr->max_objects &&
      hdr->used_descs.load(std::memory_order_relaxed) >= high / 2 + high / 4) {
    hdr->desc_high.store(high + 1, std::memory_order_release);
    if (TakeDescLocked(high)) {
      *out = high;
      return true;
    }
  }
  for (uint32_t k = 0; k < high; ++k) {
    uint32_t i = (hdr->desc_rover + k) % high;
    if (!TakeDescLocked(i)) continue;
    hdr->desc_rover = (i + 1) % high;
    *out = i;
    return true;
  }
  if (high >= hdr->max_objects) return false;
  hdr->desc_high.store(high + 1, std::memory_order_release);
  if (!TakeDescLocked(high)) return false;
  *out = high;
  return true;
}

void ShmCache::Impl::FreeLoanLocked(uint32_t di) {
  Desc& d = D(di);
  uint64_t c = d.ctl.load(std::memory_order_acquire);
  if (StateOf(c) != kLoaned) return;
  d.ctl.store(MakeCtl(GenOf(c), 0, kFree), std::memory_order_release);
  hdr->used_descs.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace overlay::storage
