// SPDX-License-Identifier: Apache-2.0
// L1 shared-memory cache. Layout and word encodings: shm_layout.h.
//
// Why a plain Boost.Interprocess shared_memory_object and not a
// managed_shared_memory: the managed segment's allocator serializes on a
// non-robust interprocess_mutex inside the segment, so a process killed while
// allocating would leave every other process blocked forever. Here the segment is
// mapped raw and laid out by us; the only lock is a robust pthread mutex.
//
// Crash safety (a process may die at any instruction):
// - Readers take no lock. A reader pins with a CAS on the descriptor's control
//   word and unpins with a CAS; a reader that dies while pinned leaks that pin
//   (the object stays readable and is evicted but its bytes are not reused until
//   the segment is recreated) but blocks nobody.
// - Writers hold the robust mutex only for short metadata steps, never while
//   filling a loan or demoting. If a holder dies, the next locker gets
//   EOWNERDEAD, makes the mutex consistent and runs RecoverLocked(). Every step
//   under the mutex is a sequence of single-word stores that leaves the heap
//   walkable and the index readable at every point (see Block and index word in
//   shm_layout.h), so recovery only has to reclaim loans of dead processes and
//   reset the next-fit hint.
// - A loan is published by (1) the index word, then (2) kLoaned -> kLive on the
//   descriptor. A writer dying between them leaves a stale word (ignored) and a
//   kLoaned descriptor whose owner is dead (reclaimed); readers never see it.
#include "overlay/storage/shm_cache.h"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <algorithm>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <thread>

#include "overlay/private_file.h"
#include "shm_layout.h"

namespace overlay::storage {

namespace bip = boost::interprocess;
using namespace shm;  // NOLINT: the layout vocabulary is used throughout

namespace {

// LRU's clock: only compared with itself, never converted to time. The TSC is
// read in a few ns where clock_gettime costs a quarter of an L1 hit here; cores
// whose TSCs drift apart would only blur the LRU order, not break anything.
uint64_t AccessTick() {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

bool ProcessDead(int32_t pid) { return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH; }

uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace

uint64_t NowUnixMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

struct ShmCache::Impl {
  bip::shared_memory_object shm;
  bip::mapped_region region;
  char* base = nullptr;
  Header* hdr = nullptr;
  Desc* descs = nullptr;
  Slot* index = nullptr;
  char* arena = nullptr;
  Opener* openers = nullptr;
  Opener* opener = nullptr;  // this instance's pin table; null: pins untracked
  std::function<void(std::string_view)> hook;
  // getpid() is a system call; loans record the owner on every put. A process
  // that forks must open the segment again in the child (as it must anyway for
  // its own ShmCache), so caching is safe.
  const int32_t pid = getpid();
  std::mutex listener_mu;
  EvictListener listener;
  // Whether evicted objects can be demoted: without, an object somebody still
  // reads is never evicted, since its L1 copy is the only one.
  std::atomic<bool> can_demote{false};

  Desc& D(uint32_t i) const { return descs[i]; }
  Block* B(uint64_t unit) const { return reinterpret_cast<Block*>(arena + unit * kUnit); }
  EvictionPolicy policy() const { return static_cast<EvictionPolicy>(hdr->policy); }

  // RAII holder of the writer mutex, recovering from a dead holder.
  class Lock {
   public:
    explicit Lock(Impl* impl) : impl_(impl) {
      int rc = pthread_mutex_lock(&impl_->hdr->mu);
      if (rc == EOWNERDEAD) {
        impl_->RecoverLocked();
        pthread_mutex_consistent(&impl_->hdr->mu);
      }
    }
    ~Lock() { pthread_mutex_unlock(&impl_->hdr->mu); }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

   private:
    Impl* impl_;
  };

  void Hook(std::string_view point) const {
    if (hook) hook(point);
  }

  // ---- lock-free read side ----

  // Pins the kLive object `key` (record or not) and returns its descriptor.
  bool Pin(const ObjectKey& key, bool record, uint32_t* out) const {
    const uint32_t mask = hdr->index_mask;
    const uint32_t fp = Fingerprint(key.hi);
    uint64_t pos = key.lo & mask;
    for (uint32_t n = 0; n <= mask; ++n, pos = (pos + 1) & mask) {
      uint64_t w = index[pos].word.load(std::memory_order_acquire);
      if (w == kEmptyWord) return false;
      if (w == kTombWord) continue;
      uint64_t hint = index[pos].hint.load(std::memory_order_relaxed);
      if (HintFingerprint(hint) != fp) continue;
      // The data's first line loads while the descriptor's does.
      __builtin_prefetch(arena + HintBlock(hint) + kUnit);
      uint32_t di = WordDesc(w);
      if (di >= hdr->max_objects) continue;
      Desc& d = D(di);
      if (d.key_lo.load(std::memory_order_relaxed) != key.lo) continue;
      uint64_t c = d.ctl.load(std::memory_order_acquire);
      bool pinned = false;
      while (GenOf(c) == WordGen(w) && StateOf(c) == kLive) {
        if (d.ctl.compare_exchange_weak(c, c + kRefOne, std::memory_order_acq_rel)) {
          pinned = true;
          break;
        }
      }
      if (!pinned) continue;
      // Pinned at the word's generation: the descriptor cannot be recycled now,
      // and its key was written before it became kLive.
      bool is_record = (d.flags.load(std::memory_order_relaxed) & kRecord) != 0;
      if (d.key_hi.load(std::memory_order_relaxed) == key.hi &&
          d.key_lo.load(std::memory_order_relaxed) == key.lo && is_record == record) {
        *out = di;
        return true;
      }
      Unpin(di);
    }
    return false;
  }

  void Unpin(uint32_t di) const {
    Desc& d = D(di);
    uint64_t c = d.ctl.load(std::memory_order_relaxed);
    for (;;) {
      uint64_t nc = c - kRefOne;
      if (StateOf(c) == kDead && RefsOf(nc) == 0) nc = MakeCtl(GenOf(c), 0, kFree);
      if (d.ctl.compare_exchange_weak(c, nc, std::memory_order_acq_rel)) {
        if (StateOf(nc) == kFree) hdr->used_descs.fetch_sub(1, std::memory_order_relaxed);
        return;
      }
    }
  }

  std::string_view ViewOf(uint32_t di) const {
    const Desc& d = D(di);
    const char* p = arena + d.block.load(std::memory_order_relaxed) + kUnit;
    return std::string_view(p, d.size.load(std::memory_order_relaxed));
  }

  ObjectKey KeyOf(uint32_t di) const {
    return ObjectKey{D(di).key_hi.load(std::memory_order_relaxed),
                     D(di).key_lo.load(std::memory_order_relaxed)};
  }

  ObjectMeta MetaOf(uint32_t di) const {
    const Desc& d = D(di);
    return ObjectMeta{d.size.load(std::memory_order_relaxed),
                      d.ctime_ms.load(std::memory_order_relaxed),
                      d.expiry_ms.load(std::memory_order_relaxed)};
  }

  void Touch(uint32_t di) const {
    Desc& d = D(di);
    switch (policy()) {
      case EvictionPolicy::kLru:
        d.access.store(AccessTick(), std::memory_order_relaxed);
        break;
      case EvictionPolicy::kLfu:
        d.access.fetch_add(1, std::memory_order_relaxed);
        break;
      case EvictionPolicy::kSieve:
        if (d.access.load(std::memory_order_relaxed) == 0)
          d.access.store(1, std::memory_order_relaxed);
        break;
    }
  }

  // ---- writer side (REQUIRES: mu held unless noted) ----

  void RecoverLocked() {
    hdr->rover = 0;
    ReclaimDeadLoansLocked();
    ReclaimDeadOpenersLocked();
    hdr->recoveries.fetch_add(1, std::memory_order_relaxed);
  }

  ~Impl() {
    // The pin table is freed only when empty: handles that outlive this
    // instance (against ReadHandle's contract) keep it until the process dies.
    if (opener == nullptr) return;
    for (const auto& pin : opener->pins)
      if (pin.load(std::memory_order_relaxed) != 0) return;
    opener->pid.store(0, std::memory_order_release);
  }

  // Drops the recorded pins of openers whose process is gone and frees their
  // tables. Returns the pins dropped.
  uint64_t ReclaimDeadOpenersLocked() {
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

  // Takes a free pin table for this instance (none left: pins go untracked).
  void ClaimOpenerLocked() {
    for (uint32_t o = 0; o < kMaxOpeners && opener == nullptr; ++o) {
      int32_t free = 0;
      if (openers[o].pid.compare_exchange_strong(free, pid, std::memory_order_acq_rel))
        opener = &openers[o];
    }
  }

  // Records the pin of descriptor `di`; returns its entry, or kPinsPerOpener
  // when it goes untracked (a bounded search, so a process holding thousands
  // of handles does not slow every get down).
  uint32_t RecordPin(uint32_t di) const {
    constexpr uint32_t kProbes = 64;
    if (opener == nullptr) return kPinsPerOpener;
    // Each thread continues after its last entry, so threads rarely meet.
    thread_local uint32_t next = static_cast<uint32_t>(
        std::hash<std::thread::id>()(std::this_thread::get_id()) % kPinsPerOpener);
    for (uint32_t n = 0; n < kProbes; ++n) {
      const uint32_t i = (next + n) % kPinsPerOpener;
      uint32_t expected = 0;
      if (opener->pins[i].load(std::memory_order_relaxed) == 0 &&
          opener->pins[i].compare_exchange_strong(expected, di + 1, std::memory_order_acq_rel)) {
        next = i + 1;
        return i;
      }
    }
    return kPinsPerOpener;
  }

  // Forgets the recorded pin (first: see Opener), then drops it.
  void ReleaseRecordedPin(uint32_t di, uint32_t entry) const {
    if (entry < kPinsPerOpener) opener->pins[entry].store(0, std::memory_order_release);
    Unpin(di);
  }

  int ReclaimDeadLoansLocked() {
    int n = 0;
    const uint32_t high = High();
    for (uint32_t i = 0; i < high; ++i) {
      Desc& d = D(i);
      uint64_t c = d.ctl.load(std::memory_order_acquire);
      if (StateOf(c) != kLoaned || !ProcessDead(d.owner_pid.load(std::memory_order_relaxed)))
        continue;
      if (d.ctl.compare_exchange_strong(c, MakeCtl(GenOf(c), 0, kFree))) {
        hdr->used_descs.fetch_sub(1, std::memory_order_relaxed);
        ++n;
      }
    }
    return n;
  }

  bool BlockFree(const Block* b) const {
    uint64_t o = b->owner.load(std::memory_order_acquire);
    if (o == 0) return true;
    uint32_t di = static_cast<uint32_t>(o & 0xffffffffu) - 1;
    if (di >= hdr->max_objects) return true;
    uint64_t c = D(di).ctl.load(std::memory_order_acquire);
    return GenOf(c) != static_cast<uint32_t>(o >> 32) || StateOf(c) == kFree;
  }

  // Next-fit over the walkable heap, merging free neighbours on the way, giving
  // up after `max_blocks` blocks (the caller then evicts rather than walk a full
  // cache on every put).
  bool AllocBlockLocked(uint64_t units, uint32_t di, uint32_t gen, uint64_t max_blocks,
                        uint64_t* off) {
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

  uint32_t High() const {
    return std::min(hdr->desc_high.load(std::memory_order_acquire), hdr->max_objects);
  }

  bool TakeDescLocked(uint32_t i) {
    Desc& d = D(i);
    uint64_t c = d.ctl.load(std::memory_order_acquire);
    if (StateOf(c) != kFree) return false;
    if (!d.ctl.compare_exchange_strong(c, MakeCtl(GenOf(c) + 1, 0, kLoaned))) return false;
    d.owner_pid.store(pid, std::memory_order_relaxed);
    hdr->used_descs.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  // A free descriptor below desc_high, else the next never-used one. While most
  // descriptors below desc_high are in use, extending first keeps this O(1).
  bool AllocDescLocked(uint32_t* out) {
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

  void FreeLoanLocked(uint32_t di) {
    Desc& d = D(di);
    uint64_t c = d.ctl.load(std::memory_order_acquire);
    if (StateOf(c) != kLoaned) return;
    d.ctl.store(MakeCtl(GenOf(c), 0, kFree), std::memory_order_release);
    hdr->used_descs.fetch_sub(1, std::memory_order_relaxed);
  }

  // Finds the kLive descriptor of `key` without pinning (writers hold mu, so it
  // cannot be removed under them; readers only add pins).
  bool FindLocked(const ObjectKey& key, bool record, uint32_t* out) const {
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
      if (KeyOf(di) == key &&
          ((d.flags.load(std::memory_order_relaxed) & kRecord) != 0) == record) {
        *out = di;
        return true;
      }
    }
    return false;
  }

  bool WordLive(uint64_t w) const {
    if (w == kEmptyWord || w == kTombWord) return false;
    uint32_t di = WordDesc(w);
    if (di >= hdr->max_objects) return false;
    uint64_t c = D(di).ctl.load(std::memory_order_acquire);
    return GenOf(c) == WordGen(w) && StateOf(c) == kLive;
  }

  bool InsertIndexLocked(const ObjectKey& key, uint64_t word, uint64_t block_off) {
    const uint32_t mask = hdr->index_mask;
    uint64_t pos = key.lo & mask;
    for (uint32_t n = 0; n <= mask; ++n, pos = (pos + 1) & mask) {
      if (!WordLive(index[pos].word.load(std::memory_order_acquire))) {
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
  void ClearSlotLocked(uint64_t pos) {
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

  // Takes a kLive descriptor out of the index; its bytes stay valid for pins.
  void RemoveLocked(uint32_t di) {
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

  // Fills in a loan's descriptor before PublishLocked. No lock needed: nothing
  // but its owner touches these fields of a kLoaned descriptor (readers and
  // scans look only at kLive ones), so this work stays off the writer mutex.
  void PrepareLoan(uint32_t di, const ObjectKey& key, uint64_t expiry_ms, uint32_t flags) {
    Desc& d = D(di);
    d.key_hi.store(key.hi, std::memory_order_relaxed);
    d.key_lo.store(key.lo, std::memory_order_relaxed);
    d.expiry_ms.store(expiry_ms, std::memory_order_relaxed);
    d.ctime_ms.store(NowUnixMs(), std::memory_order_relaxed);
    d.flags.store(flags, std::memory_order_relaxed);
    d.access.store(policy() == EvictionPolicy::kLru ? AccessTick() : 0, std::memory_order_relaxed);
  }

  // Publishes a loan filled and prepared (PrepareLoan) under `key`; see the
  // file comment for the order.
  Status PublishLocked(uint32_t di, const ObjectKey& key, uint64_t refs = 0) {
    Desc& d = D(di);
    uint64_t c = d.ctl.load(std::memory_order_acquire);
    if (StateOf(c) != kLoaned) return Status::InvalidArgument("L1 loan is no longer valid");
    const uint32_t flags = d.flags.load(std::memory_order_relaxed);
    d.seq.store(hdr->next_seq++, std::memory_order_relaxed);
    if (!InsertIndexLocked(key, MakeWord(GenOf(c), di), d.block.load(std::memory_order_relaxed)))
      return Status::Busy("L1 index is full (raise STORAGE.objects)");
    Hook("commit_locked");
    d.ctl.store(MakeCtl(GenOf(c), refs, kLive), std::memory_order_release);
    if (!(flags & kRecord)) {
      hdr->live_bytes.fetch_add(d.size.load(std::memory_order_relaxed));
      hdr->live_objects.fetch_add(1);
    }
    return Status::OK();
  }

  // Whether an evicting writer's process is gone, asked of the kernel once per
  // pid per scan (kill(2) is a system call; evicting writers are few).
  class DeadEvictors {
   public:
    bool operator()(int32_t pid) {
      for (const auto& [p, dead] : seen_)
        if (p == pid) return dead;
      seen_.emplace_back(pid, ProcessDead(pid));
      return seen_.back().second;
    }

   private:
    std::vector<std::pair<int32_t, bool>> seen_;
  };

  // An eviction candidate: `order` ranks it (smaller goes first), `tie` breaks ties.
  struct Cand {
    uint64_t order, tie;
    uint32_t di, units;
    bool operator<(const Cand& o) const { return order != o.order ? order < o.order : tie < o.tie; }
  };
  // Scratch for PickVictimsLocked, guarded by mu; kept so a batch does not
  // allocate (and fault in) a fresh table-sized array each time.
  std::vector<Cand> cands;

  // Chooses and pins objects to evict until `units` are covered. Exact, not
  // sampled: Loan evicts a batch of 1/16 of the budget at a time, so this scan of
  // the descriptor table costs each put about 16 sequential descriptor reads,
  // fewer cache misses than sampling a few random descriptors per put would.
  std::vector<uint32_t> PickVictimsLocked(uint64_t units) {
    const EvictionPolicy pol = policy();
    const uint64_t hand = hdr->sieve_hand;
    cands.clear();
    uint64_t total_units = 0;
    const uint32_t high = High();
    DeadEvictors dead;
    const bool demote = can_demote.load(std::memory_order_relaxed);
    for (uint32_t i = 0; i < high; ++i) {
      // The table is too big for the cache; the hardware prefetcher stops at
      // each page, so request lines a few descriptors ahead.
      __builtin_prefetch(&D(std::min(i + 16, high - 1)));
      Desc& d = D(i);
      const uint64_t ctl = d.ctl.load(std::memory_order_acquire);
      const uint64_t state = StateOf(ctl);
      if (state != kLive && state != kDead) continue;
      const uint32_t flags = d.flags.load(std::memory_order_relaxed);
      if ((flags & kEvicting) && dead(d.evictor_pid.load(std::memory_order_relaxed))) {
        // Its evictor died demoting it: drop the flag and the pin for it.
        d.flags.fetch_and(~uint32_t{kEvicting}, std::memory_order_relaxed);
        Unpin(i);
        continue;
      }
      if (state != kLive || (flags & (kPinned | kRecord | kEvicting))) continue;
      if (!demote && RefsOf(ctl) > 0) continue;
      const auto u =
          static_cast<uint32_t>(1 + RoundUp(d.size.load(std::memory_order_relaxed), kUnit) / kUnit);
      total_units += u;
      // LRU: oldest access first (ties by slot: LRU needs only the descriptor's
      // first cache line, seq is on the second). LFU: fewest hits, then oldest
      // insertion. SIEVE: insertion order starting at the hand (seq - hand wraps
      // the older objects to the end of the queue).
      switch (pol) {
        case EvictionPolicy::kLru:
          cands.push_back({d.access.load(std::memory_order_relaxed), i, i, u});
          break;
        case EvictionPolicy::kLfu:
          cands.push_back({d.access.load(std::memory_order_relaxed),
                           d.seq.load(std::memory_order_relaxed), i, u});
          break;
        case EvictionPolicy::kSieve:
          cands.push_back({d.seq.load(std::memory_order_relaxed) - hand, 0, i, u});
          break;
      }
    }
    std::vector<uint32_t> out;
    if (cands.empty()) return out;
    // Only a prefix is ordered, grown on demand: first a guess of how many
    // candidates cover `units`, doubled while they do not.
    const size_t n = cands.size();
    size_t sorted = 0;
    size_t want = 16 + static_cast<size_t>(2 * units * n / std::max<uint64_t>(total_units, 1));
    auto order_up_to = [&](size_t i) {  // cands[0, i] in order
      if (i < sorted) return;
      size_t k = std::min(n, std::max(i + 1, want));
      if (k < n)
        std::nth_element(cands.begin() + static_cast<long>(sorted),
                         cands.begin() + static_cast<long>(k), cands.end());
      std::sort(cands.begin() + static_cast<long>(sorted), cands.begin() + static_cast<long>(k));
      sorted = k;
      want = 2 * k;
    };
    uint64_t covered = 0;
    auto take = [&](const Cand& c) {
      uint64_t ctl = D(c.di).ctl.load(std::memory_order_acquire);
      while (StateOf(ctl) == kLive) {
        if (D(c.di).ctl.compare_exchange_weak(ctl, ctl + kRefOne, std::memory_order_acq_rel)) {
          D(c.di).evictor_pid.store(pid, std::memory_order_relaxed);
          D(c.di).flags.fetch_or(kEvicting, std::memory_order_relaxed);
          out.push_back(c.di);
          covered += c.units;
          return;
        }
      }
    };
    if (pol != EvictionPolicy::kSieve) {
      for (size_t i = 0; i < n && covered < units; ++i) {
        order_up_to(i);
        take(cands[i]);
      }
      return out;
    }
    // SIEVE: the hand walks the queue, clearing visited bits and evicting the
    // first unvisited objects; a second lap finds the ones it cleared.
    std::vector<bool> chosen(n);
    size_t i = 0;
    for (size_t steps = 0; covered < units && steps < 2 * n + 1; ++steps, ++i) {
      if (i >= n) i = 0;
      order_up_to(i);
      if (chosen[i]) continue;
      Desc& d = D(cands[i].di);
      if (d.access.load(std::memory_order_relaxed) != 0) {
        d.access.store(0, std::memory_order_relaxed);
      } else {
        chosen[i] = true;
        take(cands[i]);
      }
    }
    if (i >= n) i = 0;
    order_up_to(i);
    hdr->sieve_hand = cands[i].order + hand;
    return out;
  }

  // Demotes (listener) and removes pinned victims, then drops the pins. A
  // victim that could not be demoted stays while anybody besides us reads it.
  // Returns how many were evicted.
  size_t EvictPinned(const std::vector<uint32_t>& victims) {
    Hook("evict_demoting");
    EvictListener l;
    {
      std::lock_guard<std::mutex> g(listener_mu);
      l = listener;
    }
    std::vector<bool> demoted(victims.size(), false);
    size_t evicted = 0;
    for (size_t i = 0; i < victims.size(); ++i) {
      const Desc& d = D(victims[i]);
      const bool unread = RefsOf(d.ctl.load(std::memory_order_acquire)) == 1;
      if (unread && (d.flags.load(std::memory_order_relaxed) & kTransient)) continue;
      if (l) demoted[i] = l(KeyOf(victims[i]), ViewOf(victims[i]), MetaOf(victims[i]));
    }
    {
      Lock lock(this);
      for (size_t i = 0; i < victims.size(); ++i) {
        const uint32_t di = victims[i];
        const bool held = RefsOf(D(di).ctl.load(std::memory_order_acquire)) > 1;
        if ((D(di).flags.load(std::memory_order_relaxed) & kPinned) ||  // pinned meanwhile
            (!demoted[i] && held)) {
          D(di).flags.fetch_and(~uint32_t{kEvicting}, std::memory_order_relaxed);
          continue;
        }
        RemoveLocked(di);
        // Before the unpin below: a set flag promises the pin is still held.
        D(di).flags.fetch_and(~uint32_t{kEvicting}, std::memory_order_relaxed);
        hdr->evictions.fetch_add(1, std::memory_order_relaxed);
        ++evicted;
      }
    }
    for (uint32_t di : victims) Unpin(di);
    return evicted;
  }
};

// ---- handles ----

ReadHandle& ReadHandle::operator=(ReadHandle&& o) noexcept {
  if (this != &o) {
    Release();
    cache_ = std::exchange(o.cache_, nullptr);
    desc_ = o.desc_;
    pin_ = o.pin_;
    view_ = std::exchange(o.view_, {});
  }
  return *this;
}

void ReadHandle::Release() {
  if (cache_ == nullptr) return;
  std::exchange(cache_, nullptr)->ReleasePin(desc_, pin_);
  view_ = {};
}

WriteLoan& WriteLoan::operator=(WriteLoan&& o) noexcept {
  if (this != &o) {
    Abort();
    cache_ = std::exchange(o.cache_, nullptr);
    desc_ = o.desc_;
    data_ = std::exchange(o.data_, {});
  }
  return *this;
}

void WriteLoan::Abort() {
  if (cache_ == nullptr) return;
  std::exchange(cache_, nullptr)->AbortLoan(desc_);
  data_ = {};
}

// ---- ShmCache ----

ShmCache::ShmCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ShmCache::~ShmCache() = default;

void ShmCache::ReleasePin(uint32_t desc, uint32_t pin) const {
  impl_->ReleaseRecordedPin(desc, pin);
}

void ShmCache::AbortLoan(uint32_t desc) const {
  Impl::Lock lock(impl_.get());
  impl_->FreeLoanLocked(desc);
}

Status ShmCache::Remove(std::string_view segment) {
  bip::shared_memory_object::remove(std::string(segment).c_str());
  return Status::OK();
}

namespace {

bool SegmentExists(const std::string& name) {
  try {
    bip::shared_memory_object probe(bip::open_only, name.c_str(), bip::read_only);
    return true;
  } catch (const bip::interprocess_exception& e) {
    // Any other error (e.g. permissions) is left for the real open to report.
    return e.get_error_code() != bip::not_found_error;
  }
}

}  // namespace

Result<std::shared_ptr<ShmCache>> ShmCache::Open(const ShmCacheOptions& options) {
  if (options.segment.empty() || options.segment.find('/') != std::string::npos)
    return Status::InvalidArgument("L1 segment name '" + options.segment + "' is not valid");
  if (options.memory > kMaxArenaBytes)
    return Status::InvalidArgument("L1 budget of " + std::to_string(options.memory) +
                                   " bytes exceeds the maximum of " +
                                   std::to_string(kMaxArenaBytes) + " bytes");
  auto impl = std::make_unique<Impl>();
  impl->hook = options.TEST_hook;
  const std::string name = options.segment;
  if (!options.create && !SegmentExists(name))
    return Status::NotFound("L1 segment '" + name + "' does not exist (/dev/shm/" + name + ")");
  try {
    bool created = false;
    try {
      bip::permissions perm(0600);
      impl->shm = bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write, perm);
      created = true;
    } catch (const bip::interprocess_exception& e) {
      if (e.get_error_code() != bip::already_exists_error) throw;
      impl->shm = bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_write);
      // Another local user may have created it first, to read or rewrite our objects.
      OVERLAY_RETURN_IF_ERROR(
          CheckPrivate(impl->shm.get_mapping_handle().handle, "L1 segment /dev/shm/" + name, 0600));
    }
    if (created) {
      const uint32_t max_objects = std::max<uint32_t>(options.max_objects, 64);
      uint32_t slots = 1;
      while (slots < 2 * max_objects) slots <<= 1;
      const uint64_t arena = RoundUp(std::max<uint64_t>(options.memory, 1 << 20), kUnit);
      const uint64_t desc_off = kHeaderBytes;
      const uint64_t index_off = desc_off + uint64_t{max_objects} * sizeof(Desc);
      const uint64_t openers_off = RoundUp(index_off + uint64_t{slots} * sizeof(Slot), 64);
      const uint64_t arena_off = RoundUp(openers_off + kMaxOpeners * sizeof(Opener), 4096);
      const uint64_t total = arena_off + arena;
      impl->shm.truncate(static_cast<bip::offset_t>(total));
      impl->region = bip::mapped_region(impl->shm, bip::read_write);
      impl->base = static_cast<char*>(impl->region.get_address());
      Header* h = new (impl->base) Header();
      h->version = kVersion;
      h->policy = static_cast<uint32_t>(options.policy);
      h->total_bytes = total;
      h->desc_off = desc_off;
      h->index_off = index_off;
      h->openers_off = openers_off;
      h->arena_off = arena_off;
      h->arena_bytes = arena;
      h->max_objects = max_objects;
      h->index_mask = slots - 1;
      h->creator_pid = getpid();
      pthread_mutexattr_t attr;
      pthread_mutexattr_init(&attr);
      pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
      pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
      pthread_mutex_init(&h->mu, &attr);
      pthread_mutexattr_destroy(&attr);
      // Fault the whole segment in now, so puts never stall on page faults; the
      // budget is memory the node has promised to L1 anyway. Best effort: older
      // kernels lack MADV_POPULATE_WRITE and fault lazily instead.
#ifdef MADV_POPULATE_WRITE
      (void)madvise(impl->base, total, MADV_POPULATE_WRITE);
#endif
      // Descriptors and index are zero from ftruncate: gen 0, kFree, empty words.
      auto* first = reinterpret_cast<Block*>(impl->base + arena_off);
      first->owner.store(0);
      first->units.store(arena / kUnit);
      h->magic.store(kMagic, std::memory_order_release);
    } else {
      impl->region = bip::mapped_region(impl->shm, bip::read_write);
      impl->base = static_cast<char*>(impl->region.get_address());
      auto* h = reinterpret_cast<Header*>(impl->base);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (impl->region.get_size() < kHeaderBytes ||
             h->magic.load(std::memory_order_acquire) != kMagic) {
        if (std::chrono::steady_clock::now() > deadline)
          return Status::Unavailable("L1 segment '" + name +
                                     "' exists but was never initialized (its creator died?); "
                                     "remove /dev/shm/" +
                                     name);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (impl->region.get_size() < kHeaderBytes) {
          impl->region = bip::mapped_region(impl->shm, bip::read_write);
          impl->base = static_cast<char*>(impl->region.get_address());
          h = reinterpret_cast<Header*>(impl->base);
        }
      }
      if (h->version != kVersion || impl->region.get_size() < h->total_bytes)
        return Status::InvalidArgument("L1 segment '" + name +
                                       "' has an incompatible layout (made by another Overlay "
                                       "version?); remove /dev/shm/" + name + " to start afresh");
    }
  } catch (const bip::interprocess_exception& e) {
    return Status::IOError("L1 segment '" + name + "': " + e.what());
  }
  impl->hdr = reinterpret_cast<Header*>(impl->base);
  impl->descs = reinterpret_cast<Desc*>(impl->base + impl->hdr->desc_off);
  impl->index = reinterpret_cast<Slot*>(impl->base + impl->hdr->index_off);
  impl->openers = reinterpret_cast<Opener*>(impl->base + impl->hdr->openers_off);
  impl->arena = impl->base + impl->hdr->arena_off;
  {
    // A process opening the segment (e.g. a restarted daemon) first drops
    // the pins that dead processes left.
    Impl::Lock lock(impl.get());
    impl->ReclaimDeadOpenersLocked();
    impl->ClaimOpenerLocked();
  }
  return std::shared_ptr<ShmCache>(new ShmCache(std::move(impl)));
}

Result<WriteLoan> ShmCache::Loan(size_t size) {
  // Blocks a first-fit attempt may walk before evicting instead.
  constexpr uint64_t kScanBound = 4096;
  Impl& m = *impl_;
  const uint64_t units = 1 + RoundUp(size, kUnit) / kUnit;
  if (units * kUnit > m.hdr->arena_bytes)
    return Status::InvalidArgument("object of " + std::to_string(size) +
                                   " bytes exceeds the L1 budget of " +
                                   std::to_string(m.hdr->arena_bytes) + " bytes");
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
      Impl::Lock lock(&m);
      uint32_t di = 0;
      const bool have_desc = m.AllocDescLocked(&di);
      if (have_desc) {
        uint32_t gen = GenOf(m.D(di).ctl.load(std::memory_order_relaxed));
        uint64_t off = 0;
        // Right after an eviction the rover points at the first victim, and the
        // walk may go as far as needed to reach the space just freed.
        if (m.AllocBlockLocked(units, di, gen, just_evicted ? UINT64_MAX : kScanBound, &off)) {
          m.D(di).block.store(off, std::memory_order_relaxed);
          m.D(di).size.store(size, std::memory_order_relaxed);
          WriteLoan loan;
          loan.cache_ = this;
          loan.desc_ = di;
          loan.data_ = std::span<char>(m.arena + off + kUnit, size);
          return loan;
        }
        m.FreeLoanLocked(di);
      }
      // Evict at least 1/16 of the budget per scan, so the O(objects) victim
      // search is amortized over many puts (measured: 1/32 made a 1 KiB put in
      // a full cache about 1.6x slower). The cost: up to 1/16 of the budget
      // stands empty right after a batch.
      victims = m.PickVictimsLocked(
          std::max<uint64_t>(have_desc ? units : 1, m.hdr->arena_bytes / kUnit / 16));
      if (victims.empty()) {
        // Only dead writers' loans or readers of evicted objects can hold space now.
        just_evicted = m.ReclaimDeadLoansLocked() > 0;
        just_evicted = m.ReclaimDeadOpenersLocked() > 0 || just_evicted;
        if (!just_evicted) m.hdr->rover = 0;
      } else {
        uint64_t first = UINT64_MAX;
        for (uint32_t v : victims)
          first = std::min(first, m.D(v).block.load(std::memory_order_relaxed));
        m.hdr->rover = first;
        just_evicted = true;
      }
    }
    if (victims.empty() && !just_evicted) {
      if (++waits > 20)
        return Status::Busy("L1 is full: " + std::to_string(m.hdr->arena_bytes) +
                            " bytes held by pinned objects, readers or open loans");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      just_evicted = true;  // readers may have let go: walk the whole heap once more
      continue;
    }
    m.EvictPinned(victims);
  }
}

Result<ObjectKey> ShmCache::Commit(WriteLoan&& loan, uint64_t expiry_ms) {
  if (loan.cache_ != this) return Status::InvalidArgument("loan is empty or from another cache");
  const std::span<char> bytes = loan.data_;
  const ObjectKey key = ObjectKey::Of(std::string_view(bytes.data(), bytes.size()));
  // The key's index slot is a cache miss; let it load while the lock is taken.
  __builtin_prefetch(&impl_->index[key.lo & impl_->hdr->index_mask]);
  impl_->PrepareLoan(loan.desc_, key, expiry_ms, 0);
  Impl::Lock lock(impl_.get());
  uint32_t existing = 0;
  if (impl_->FindLocked(key, false, &existing)) {
    impl_->FreeLoanLocked(loan.desc_);
  } else {
    OVERLAY_RETURN_IF_ERROR(impl_->PublishLocked(loan.desc_, key));
  }
  loan.cache_ = nullptr;
  return key;
}

Status ShmCache::Put(const ObjectKey& key, std::string_view bytes, const ObjectMeta& meta) {
  uint32_t di = 0;
  if (impl_->Pin(key, false, &di)) {
    impl_->Unpin(di);
    return Status::OK();
  }
  Result<WriteLoan> loan = Loan(bytes.size());
  if (!loan.ok()) return loan.status();
  if (!bytes.empty()) std::memcpy(loan->data().data(), bytes.data(), bytes.size());
  Result<ObjectKey> got = Commit(std::move(*loan), meta.expiry_ms);
  if (!got.ok()) return got.status();
  if (!(*got == key)) {
    (void)Erase(*got);
    return Status::InvalidArgument("bytes do not hash to key " + key.ToHex());
  }
  return Status::OK();
}

Result<ReadHandle> ShmCache::Acquire(const ObjectKey& key) const {
  uint32_t di = 0;
  if (!impl_->Pin(key, false, &di)) return Status::NotFound("L1 miss: " + key.ToHex());
  uint64_t expiry = impl_->D(di).expiry_ms.load(std::memory_order_relaxed);
  if (expiry != 0 && NowUnixMs() >= expiry) {
    impl_->Unpin(di);
    return Status::NotFound("L1: expired: " + key.ToHex());
  }
  impl_->Touch(di);
  ReadHandle h;
  h.cache_ = this;
  h.desc_ = di;
  h.pin_ = impl_->RecordPin(di);
  h.view_ = impl_->ViewOf(di);
  return h;
}

Result<Blob> ShmCache::Get(const ObjectKey& key) {
  Result<ReadHandle> h = Acquire(key);
  if (!h.ok()) return h.status();
  return BlobOf(std::move(*h), key);
}

Blob ShmCache::BlobOf(ReadHandle&& handle, const ObjectKey& key) const {
  struct Owner {
    std::shared_ptr<const ShmCache> cache;
    ReadHandle handle;  // destroyed before `cache`
  };
  std::string_view view = handle.view();
  auto owner = std::make_shared<Owner>(Owner{shared_from_this(), std::move(handle)});
  return Blob(std::move(owner), view, key);
}

Result<Blob> ShmCache::CommitBlob(WriteLoan&& loan, uint64_t expiry_ms, const ObjectKey* known,
                                  bool transient) {
  if (loan.cache_ != this) return Status::InvalidArgument("loan is empty or from another cache");
  const std::span<char> bytes = loan.data_;
  const ObjectKey key =
      known != nullptr ? *known : ObjectKey::Of(std::string_view(bytes.data(), bytes.size()));
  __builtin_prefetch(&impl_->index[key.lo & impl_->hdr->index_mask]);
  impl_->PrepareLoan(loan.desc_, key, expiry_ms, transient ? uint32_t{kTransient} : 0u);
  uint32_t di = loan.desc_;
  {
    Impl::Lock lock(impl_.get());
    uint32_t existing = 0;
    if (impl_->FindLocked(key, false, &existing)) {
      impl_->FreeLoanLocked(loan.desc_);
      // Under the writer mutex a kLive descriptor cannot be removed, so a plain
      // increment pins it.
      impl_->D(existing).ctl.fetch_add(kRefOne, std::memory_order_acq_rel);
      impl_->Touch(existing);
      di = existing;
    } else {
      // Published with our pin already taken, so no eviction can come between.
      OVERLAY_RETURN_IF_ERROR(impl_->PublishLocked(loan.desc_, key, 1));
    }
  }
  loan.cache_ = nullptr;
  ReadHandle h;
  h.cache_ = this;
  h.desc_ = di;
  h.pin_ = impl_->RecordPin(di);
  h.view_ = impl_->ViewOf(di);
  return BlobOf(std::move(h), key);
}

Result<ObjectMeta> ShmCache::Head(const ObjectKey& key) {
  uint32_t di = 0;
  if (!impl_->Pin(key, false, &di)) return Status::NotFound("L1 miss: " + key.ToHex());
  ObjectMeta meta = impl_->MetaOf(di);
  impl_->Unpin(di);
  return meta;
}

Status ShmCache::Erase(const ObjectKey& key) {
  Impl::Lock lock(impl_.get());
  uint32_t di = 0;
  if (impl_->FindLocked(key, false, &di)) impl_->RemoveLocked(di);
  return Status::OK();
}

Status ShmCache::Keep(const ObjectKey& key) {
  Impl::Lock lock(impl_.get());
  uint32_t di = 0;
  if (!impl_->FindLocked(key, false, &di)) return Status::NotFound("not in L1: " + key.ToHex());
  impl_->D(di).flags.fetch_and(~uint32_t{kTransient});
  return Status::OK();
}

Status ShmCache::SetPinned(const ObjectKey& key, bool pinned) {
  Impl::Lock lock(impl_.get());
  uint32_t di = 0;
  if (!impl_->FindLocked(key, false, &di)) return Status::NotFound("not in L1: " + key.ToHex());
  if (pinned)
    impl_->D(di).flags.fetch_or(kPinned);
  else
    impl_->D(di).flags.fetch_and(~uint32_t{kPinned});
  return Status::OK();
}

Status ShmCache::Evict(const ObjectKey& key) {
  uint32_t di = 0;
  if (!impl_->Pin(key, false, &di)) return Status::NotFound("not in L1: " + key.ToHex());
  if (impl_->D(di).flags.load() & kPinned) {
    impl_->Unpin(di);
    return Status::Busy("object is pinned: " + key.ToHex());
  }
  if (impl_->EvictPinned({di}) == 0)
    return Status::Busy("object is being read and no lower tier took it: " + key.ToHex());
  return Status::OK();
}

std::vector<ObjectKey> ShmCache::ExpireNow(uint64_t now_ms) {
  std::vector<ObjectKey> out;
  Impl::Lock lock(impl_.get());
  const uint32_t high = impl_->High();
  for (uint32_t i = 0; i < high; ++i) {
    const Desc& d = impl_->D(i);
    if (StateOf(d.ctl.load(std::memory_order_acquire)) != kLive) continue;
    uint64_t e = d.expiry_ms.load(std::memory_order_relaxed);
    if (e == 0 || e > now_ms) continue;
    if (!(d.flags.load(std::memory_order_relaxed) & kRecord)) out.push_back(impl_->KeyOf(i));
    impl_->RemoveLocked(i);
  }
  return out;
}

Status ShmCache::PutRecord(const ObjectKey& key, std::string_view bytes, uint64_t expiry_ms) {
  Result<WriteLoan> loan = Loan(bytes.size());
  if (!loan.ok()) return loan.status();
  if (!bytes.empty()) std::memcpy(loan->data().data(), bytes.data(), bytes.size());
  impl_->PrepareLoan(loan->desc_, key, expiry_ms, kRecord | kPinned);
  Impl::Lock lock(impl_.get());
  uint32_t old = 0;
  if (impl_->FindLocked(key, true, &old)) impl_->RemoveLocked(old);
  Status s = impl_->PublishLocked(loan->desc_, key);
  if (!s.ok()) {
    impl_->FreeLoanLocked(loan->desc_);
  }
  loan->cache_ = nullptr;
  return s;
}

Result<ReadHandle> ShmCache::AcquireRecord(const ObjectKey& key) const {
  uint32_t di = 0;
  if (!impl_->Pin(key, true, &di)) return Status::NotFound("no L1 record " + key.ToHex());
  uint64_t expiry = impl_->D(di).expiry_ms.load(std::memory_order_relaxed);
  if (expiry != 0 && NowUnixMs() >= expiry) {
    impl_->Unpin(di);
    return Status::NotFound("L1 record expired: " + key.ToHex());
  }
  ReadHandle h;
  h.cache_ = this;
  h.desc_ = di;
  h.pin_ = impl_->RecordPin(di);
  h.view_ = impl_->ViewOf(di);
  return h;
}

Status ShmCache::EraseRecord(const ObjectKey& key) {
  Impl::Lock lock(impl_.get());
  uint32_t di = 0;
  if (impl_->FindLocked(key, true, &di)) impl_->RemoveLocked(di);
  return Status::OK();
}

std::vector<ShmEntry> ShmCache::List() const {
  std::vector<ShmEntry> out;
  const uint32_t high = impl_->High();
  for (uint32_t i = 0; i < high; ++i) {
    const Desc& d = impl_->D(i);
    uint64_t c = d.ctl.load(std::memory_order_acquire);
    if (StateOf(c) != kLive) continue;
    uint32_t f = d.flags.load(std::memory_order_relaxed);
    out.push_back(ShmEntry{impl_->KeyOf(i), impl_->MetaOf(i), (f & kPinned) != 0,
                           (f & kRecord) != 0, static_cast<uint32_t>(RefsOf(c))});
  }
  return out;
}

ShmStats ShmCache::Stats() const {
  const Header& h = *impl_->hdr;
  return ShmStats{impl_->policy(),       h.arena_bytes,      h.live_bytes.load(),
                  h.live_objects.load(), h.evictions.load(), h.recoveries.load(),
                  h.reclaimed_pins.load()};
}

void ShmCache::SetEvictListener(EvictListener listener) {
  std::lock_guard<std::mutex> g(impl_->listener_mu);
  impl_->can_demote.store(static_cast<bool>(listener), std::memory_order_relaxed);
  impl_->listener = std::move(listener);
}

}  // namespace overlay::storage
