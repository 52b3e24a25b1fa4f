// SPDX-License-Identifier: Apache-2.0
// The L1 index (Slot in shm_layout.h): writers find, publish and remove under
// the writer mutex; readers probe it lock-free (ShmCache::Impl::Pin).
#include "shm_impl.h"

namespace overlay::storage {

using namespace shm;  // NOLINT: the layout vocabulary is used throughout

bool ShmCache::Impl::FindLocked(const ObjectKey& key, bool record, uint32_t* out) const {
  const uint32_t mask = hdr->index_mask;
  const uint32_t fp = Fingerprint(key.hi);
  uint64_t pos = key.lo & mask;
  for (uint32_t n = 0; n <= mask; ++n, pos = (pos + 1) & mask) {
    uint64_t w = index[pos].word.load(std::memory_order_acquire);
    if (w == kEmptyWord) return false;
    if (w == kTombWord) continue;
    if (HintFingerprint(index[pos].hint.load(std::memory_order_relaxed)) != fp) continue;
    uint32_t di = WordDesc(w);
    if (di >= hdr->max_objects) continue;
    const Desc& d = D(di);
    uint64_t c = d.ctl.load(std::memory_order_acquire);
    if (GenOf(c) != WordGen(w) || StateOf(c) != kLive) continue;
    if (KeyOf(di) == key && ((d.flags.load(std::memory_order_relaxed) & kRecord) != 0) == record) {
      *out = di;
      return true;
    }
  }
  return false;
}

bool ShmCache::Impl::WordLive(uint64_t w) const {
  if (w == kEmptyWord || w == kTombWord) return false;
  uint32_t di = WordDesc(w);
  if (di >= hdr->max_objects) return false;
  uint64_t c = D(di).ctl.load(std::memory_order_acquire);
  return GenOf(c) == WordGen(w) && StateOf(c) == kLive;
}

// Takes the first empty or tombstone slot. Occupied slots are passed without
// asking their descriptor whether the word is stale: that was a cache miss
// under the writer mutex on most puts, and stale words (left by writers that
// died publishing) are rare and emptied by ClearSlotLocked.
bool ShmCache::Impl::InsertIndexLocked(const ObjectKey& key, uint64_t word, uint64_t block_off) {
  const uint32_t mask = hdr->index_mask;
  uint64_t pos = key.lo & mask;
  for (uint32_t n = 0; n <= mask; ++n, pos = (pos + 1) & mask) {
    const uint64_t w = index[pos].word.load(std::memory_order_acquire);
    if (w == kEmptyWord || w == kTombWord) {
      index[pos].hint.store(MakeHint(key.hi, block_off), std::memory_order_relaxed);
      index[pos].word.store(word, std::memory_order_release);
      return true;
    }
  }
  return false;
}

// Vacates index slot `pos`. Tombstones only ever accumulated before, so after
// enough churn no slot was empty and every miss (each Commit's duplicate check,
// each reader's miss) probed the whole index. A slot followed by an empty one
// ends no probe that could still find a key, so it becomes empty, and so do
// the tombstones (and stale words) before it, back to the first live word.
// Going backwards keeps that true after every single store, so readers and a
// crash at any point see a consistent index: no probe for a present key ever
// meets an empty slot before reaching it.
void ShmCache::Impl::ClearSlotLocked(uint64_t pos) {
  const uint32_t mask = hdr->index_mask;
  if (index[(pos + 1) & mask].word.load(std::memory_order_relaxed) != kEmptyWord) {
    index[pos].word.store(kTombWord, std::memory_order_release);
    return;
  }
  index[pos].word.store(kEmptyWord, std::memory_order_release);
  for (uint32_t n = 0; n < mask; ++n) {
    pos = (pos - 1) & mask;
    uint64_t w = index[pos].word.load(std::memory_order_relaxed);
    if (w == kEmptyWord || WordLive(w)) return;
    index[pos].word.store(kEmptyWord, std::memory_order_release);
  }
}

void ShmCache::Impl::RemoveLocked(uint32_t di) {
  Desc& d = D(di);
  uint64_t c = d.ctl.load(std::memory_order_acquire);
  if (StateOf(c) != kLive) return;
  const uint64_t word = MakeWord(GenOf(c), di);
  const ObjectKey key = KeyOf(di);
  const uint32_t mask = hdr->index_mask;
  uint64_t pos = key.lo & mask;
  for (uint32_t n = 0; n <= mask; ++n, pos = (pos + 1) & mask) {
    uint64_t w = index[pos].word.load(std::memory_order_acquire);
    if (w == kEmptyWord) break;
    if (w == word) {
      ClearSlotLocked(pos);
      break;
    }
  }
  for (;;) {
    uint64_t nc =
        RefsOf(c) == 0 ? MakeCtl(GenOf(c), 0, kFree) : MakeCtl(GenOf(c), RefsOf(c), kDead);
    if (d.ctl.compare_exchange_weak(c, nc, std::memory_order_acq_rel)) break;
    if (StateOf(c) != kLive) return;
  }
  if (RefsOf(c) == 0) hdr->used_descs.fetch_sub(1, std::memory_order_relaxed);
  if (!(d.flags.load(std::memory_order_relaxed) & kRecord)) {
    hdr->live_bytes.fetch_sub(d.size.load(std::memory_order_relaxed));
    hdr->live_objects.fetch_sub(1);
  }
}

// No lock needed: nothing but its owner touches these fields of a kLoaned
// descriptor (readers and scans look only at kLive ones), so this work stays
// off the writer mutex.
void ShmCache::Impl::PrepareLoan(uint32_t di, const ObjectKey& key, uint64_t expiry_ms,
                                 uint32_t flags) {
  Desc& d = D(di);
  d.key_hi.store(key.hi, std::memory_order_relaxed);
  d.key_lo.store(key.lo, std::memory_order_relaxed);
  d.expiry_ms.store(expiry_ms, std::memory_order_relaxed);
  d.ctime_ms.store(NowUnixMs(), std::memory_order_relaxed);
  d.flags.store(flags, std::memory_order_relaxed);
  d.access.store(0, std::memory_order_relaxed);
}

// The order (index word, then kLive) is the one the crash-safety notes in
// shm_impl.h rely on.
Status ShmCache::Impl::PublishLocked(uint32_t di, const ObjectKey& key, uint64_t refs) {
  Desc& d = D(di);
  uint64_t c = d.ctl.load(std::memory_order_acquire);
  if (StateOf(c) != kLoaned) return Status::InvalidArgument("L1 loan is no longer valid");
  const uint32_t flags = d.flags.load(std::memory_order_relaxed);
  const uint64_t seq = hdr->next_seq.load(std::memory_order_relaxed);
  d.seq.store(seq, std::memory_order_relaxed);
  if (policy() == EvictionPolicy::kLru) d.access.store(PublishTick(seq), std::memory_order_relaxed);
  if (!InsertIndexLocked(key, MakeWord(GenOf(c), di), d.block.load(std::memory_order_relaxed)))
    return Status::Busy("L1 index is full (raise STORAGE.objects)");
  Hook("commit_locked");
  d.ctl.store(MakeCtl(GenOf(c), refs, kLive), std::memory_order_release);
  hdr->next_seq.store(seq + 1, std::memory_order_relaxed);
  if (!(flags & kRecord)) {
    hdr->live_bytes.fetch_add(d.size.load(std::memory_order_relaxed));
    hdr->live_objects.fetch_add(1);
  }
  return Status::OK();
}

}  // namespace overlay::storage
