// SPDX-License-Identifier: Apache-2.0
// ShmCache::Impl: one process's view of the L1 segment (internal to storage/).
// Layout and word encodings: shm_layout.h. The members are defined by area:
//   shm_segment.cc   creating and mapping the segment
//   shm_allocator.cc descriptors and data blocks
//   shm_index.cc     the open-addressing index: find, publish, remove
//   shm_recovery.cc  the writer lock, dead loans, dead readers' pins
//   shm_eviction.cc  choosing victims and demoting them
// and the read path, which must inline into ShmCache::Acquire, below.
//
// Crash safety (a process may die at any instruction):
// - Readers take no lock. A reader pins with a CAS on the descriptor's control
//   word and unpins with a CAS; a reader that dies while pinned leaks that pin
//   until its pins are reclaimed (see Opener) but blocks nobody.
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
#ifndef OVERLAY_STORAGE_SRC_SHM_IMPL_H_
#define OVERLAY_STORAGE_SRC_SHM_IMPL_H_

#include <unistd.h>
#include <atomic>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "overlay/storage/shm_cache.h"
#include "shm_layout.h"

namespace overlay::storage {

namespace shm {

// LRU's clock. Every get records one, so it must cost less than the TSC
// (12 ns in a VM here, a third of a hot get): the count of objects published
// so far (Header::next_seq) in the high bits, and in the low bits how many
// gets the calling thread has made since that count last changed. An object
// ranks below every get made after its publish and above every get made
// before it; gets between two publishes rank in each thread's order (threads
// interleave roughly, as with TSCs that drift apart).
constexpr int kTickBits = 24;
constexpr uint64_t kTickReads = (1ull << kTickBits) - 1;
// The tick of the object published as number `seq`.
inline uint64_t PublishTick(uint64_t seq) { return (seq + 1) << kTickBits; }

inline uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

// Whether `pid` names a process that has exited (kill(2) with signal 0).
bool ProcessDead(int32_t pid);

}  // namespace shm

struct ShmCache::Impl {
  boost::interprocess::shared_memory_object shm;
  boost::interprocess::mapped_region region;
  char* base = nullptr;
  shm::Header* hdr = nullptr;
  shm::Desc* descs = nullptr;
  shm::Slot* index = nullptr;
  char* arena = nullptr;
  shm::Opener* openers = nullptr;
  shm::Opener* opener = nullptr;  // this instance's pin table; null: pins untracked
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

  // Maps (creating and formatting when absent) the segment `options` name.
  static Result<std::unique_ptr<Impl>> Map(const ShmCacheOptions& options);
  ~Impl();

  shm::Desc& D(uint32_t i) const { return descs[i]; }
  shm::Block* B(uint64_t unit) const {
    return reinterpret_cast<shm::Block*>(arena + unit * shm::kUnit);
  }
  EvictionPolicy policy() const { return static_cast<EvictionPolicy>(hdr->policy); }
  void Hook(std::string_view point) const {
    if (hook) hook(point);
  }

  // RAII holder of the writer mutex, recovering from a dead holder.
  class Lock {
   public:
    explicit Lock(Impl* impl);
    ~Lock();
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

   private:
    Impl* impl_;
  };

  // ---- lock-free read path (defined below) ----

  // Pins the kLive object `key` (record or not) and returns its descriptor.
  bool Pin(const ObjectKey& key, bool record, uint32_t* out) const;
  void Unpin(uint32_t di) const;
  std::string_view ViewOf(uint32_t di) const;
  ObjectKey KeyOf(uint32_t di) const;
  ObjectMeta MetaOf(uint32_t di) const;
  // Records an access for the eviction policy.
  void Touch(uint32_t di) const;
  // Records the pin of descriptor `di`; returns its entry, or kPinsPerOpener
  // when it goes untracked (a bounded search, so a process holding thousands
  // of handles does not slow every get down).
  uint32_t RecordPin(uint32_t di) const;
  // Forgets the recorded pin (first: see Opener), then drops it; the last
  // pin of a transient object drops the object (DropTransient).
  void ReleaseRecordedPin(uint32_t di, uint32_t entry);

  // ---- recovery (shm_recovery.cc; REQUIRES: mu held) ----

  void RecoverLocked();
  // Drops the recorded pins of openers whose process is gone and frees their
  // tables. Returns the pins dropped.
  uint64_t ReclaimDeadOpenersLocked();
  // Takes a free pin table for this instance (none left: pins go untracked).
  void ClaimOpenerLocked();
  // Frees the loans of writers whose process is gone; returns how many.
  int ReclaimDeadLoansLocked();

  // ---- allocation (shm_allocator.cc) ----

  // This process's allocation state for a group of its threads: a
  // reservation (see Block) that small loans are carved from without the
  // writer mutex, and where the next descriptor search starts.
  static constexpr uint32_t kNoDesc = UINT32_MAX;
  struct alignas(64) Lane {
    std::mutex mu;
    uint32_t res = kNoDesc;  // the reservation's descriptor (kLoaned)
    uint64_t res_owner = 0;  // its Block::owner word
    uint64_t res_unit = 0;   // its block: first unit and length, in kUnit
    uint64_t res_units = 0;
    std::atomic<uint32_t> desc_rover{0};  // a hint, read without mu
  };
  static constexpr uint32_t kLanes = 8;
  Lane lanes[kLanes];
  // Units of a reservation, 0 when the budget is too small to spare them.
  uint64_t chunk_units = 0;

  Lane& MyLane();
  // One past the highest descriptor in use (lock-free).
  uint32_t High() const;
  bool BlockFree(const shm::Block* b) const;
  // Next-fit over the walkable heap from the rover, which stays at the first
  // free block too small for this loan, merging free neighbours on the way, giving
  // up after `max_blocks` blocks (the caller then evicts rather than walk a full
  // cache on every put). REQUIRES: mu held.
  bool AllocBlockLocked(uint64_t units, uint32_t di, uint32_t gen, uint64_t max_blocks,
                        uint64_t* off);
  // Takes descriptor `i` if free (lock-free).
  bool TakeDesc(uint32_t i);
  // A free descriptor below desc_high, else the next never-used one (lock-free).
  bool AllocDesc(Lane& lane, uint32_t* out);
  // REQUIRES: mu held (a walker must not see a block turn free; see Block).
  void FreeLoanLocked(uint32_t di);
  // A loaned descriptor and `units` of data for it: carved from the calling
  // thread's reservation when small, else from the heap, evicting as needed.
  // `patient`: when L1 is full, wait a little for readers to let go.
  Status LoanUnits(uint64_t units, uint32_t* di, uint64_t* off);
  // `held`: the lane whose mutex the caller holds, if any.
  Status LoanFromHeap(uint64_t units, bool patient, const Lane* held, uint32_t* di,
                      uint64_t* off);
  bool LoanFromLane(uint64_t units, uint32_t* di, uint64_t* off);
  // Returns a lane's reservation to the heap. REQUIRES: mu held.
  void DropReservationLocked(Lane& lane);
  // Drops the reservations of this instance's lanes other than `held` that
  // no thread is using; returns whether it dropped any. REQUIRES: mu held.
  bool DropIdleReservationsLocked(const Lane* held);

  // ---- index (shm_index.cc; REQUIRES: mu held unless noted) ----

  // Finds the kLive descriptor of `key` without pinning (writers hold mu, so it
  // cannot be removed under them; readers only add pins).
  bool FindLocked(const ObjectKey& key, bool record, uint32_t* out) const;
  bool WordLive(uint64_t w) const;
  bool InsertIndexLocked(const ObjectKey& key, uint64_t word, uint64_t block_off);
  void ClearSlotLocked(uint64_t pos);
  // Takes a kLive descriptor out of the index; its bytes stay valid for pins.
  void RemoveLocked(uint32_t di);
  // Fills in a loan's descriptor before PublishLocked; needs no lock.
  void PrepareLoan(uint32_t di, const ObjectKey& key, uint64_t expiry_ms, uint32_t flags);
  // Publishes a loan filled and prepared under `key` with `refs` pins taken.
  Status PublishLocked(uint32_t di, const ObjectKey& key, uint64_t refs = 0);

  // ---- eviction (shm_eviction.cc) ----

  // An eviction candidate: `order` ranks it (smaller goes first), `tie` breaks ties.
  struct Cand {
    uint64_t order, tie;
    uint32_t di, units;
    bool operator<(const Cand& o) const { return order != o.order ? order < o.order : tie < o.tie; }
  };
  // Scratch for PickVictimsLocked, guarded by mu; kept so a batch does not
  // allocate (and fault in) a fresh table-sized array each time.
  std::vector<Cand> cands;

  // Sorts about the `want` first of `cands` to the front (mu held).
  size_t PartitionOldest(size_t want);
  // Chooses and pins objects to evict until `units` are covered (mu held).
  std::vector<uint32_t> PickVictimsLocked(uint64_t units);
  // Demotes (listener) and removes pinned victims, then drops the pins; takes
  // mu itself. Returns how many were evicted.
  size_t EvictPinned(const std::vector<uint32_t>& victims);
  // Drops our pin on transient object `di`, the last one: it is dead, so it
  // leaves the index and its block is reused first (see the rover). A reader
  // that pins it meanwhile keeps it readable until its own unpin. Takes mu.
  void DropTransient(uint32_t di);
};

// ---- the read path ----

// What a reading thread keeps for itself: its slice of the pin table (see
// Opener), whether it has the slice to itself, and its LRU clock (ReadTick).
struct ReaderThread {
  uint32_t first;
  bool own;
  uint32_t next = 0;        // where the next pin search starts, within the slice
  uint64_t published = 0;   // Header::next_seq when last seen
  uint64_t reads = 0;       // gets since then
};
// Numbers the threads of this process 0, 1, 2, ... in the order they ask.
inline uint32_t ThreadOrdinal() {
  static std::atomic<uint32_t> threads{0};
  thread_local const uint32_t n = threads.fetch_add(1, std::memory_order_relaxed);
  return n;
}
inline ReaderThread& MyReaderThread() {
  thread_local ReaderThread t = [] {
    const uint32_t n = ThreadOrdinal();
    return ReaderThread{n % shm::kPinSlices * shm::kPinsPerSlice, n < shm::kPinSlices};
  }();
  return t;
}

// The LRU tick of a get made when `published` objects have been published.
inline uint64_t ReadTick(uint64_t published) {
  ReaderThread& t = MyReaderThread();
  if (t.published != published) {
    t.published = published;
    t.reads = 0;
  }
  if (t.reads < shm::kTickReads) ++t.reads;
  return (published << shm::kTickBits) | t.reads;
}

inline bool ShmCache::Impl::Pin(const ObjectKey& key, bool record, uint32_t* out) const {
  using namespace shm;  // NOLINT: the layout vocabulary
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

inline void ShmCache::Impl::Unpin(uint32_t di) const {
  using namespace shm;  // NOLINT
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

inline std::string_view ShmCache::Impl::ViewOf(uint32_t di) const {
  const shm::Desc& d = D(di);
  const char* p = arena + d.block.load(std::memory_order_relaxed) + shm::kUnit;
  return std::string_view(p, d.size.load(std::memory_order_relaxed));
}

inline ObjectKey ShmCache::Impl::KeyOf(uint32_t di) const {
  return ObjectKey{D(di).key_hi.load(std::memory_order_relaxed),
                   D(di).key_lo.load(std::memory_order_relaxed)};
}

inline ObjectMeta ShmCache::Impl::MetaOf(uint32_t di) const {
  const shm::Desc& d = D(di);
  return ObjectMeta{d.size.load(std::memory_order_relaxed),
                    d.ctime_ms.load(std::memory_order_relaxed),
                    d.expiry_ms.load(std::memory_order_relaxed)};
}

inline void ShmCache::Impl::Touch(uint32_t di) const {
  shm::Desc& d = D(di);
  switch (policy()) {
    case EvictionPolicy::kLru:
      d.access.store(ReadTick(hdr->next_seq.load(std::memory_order_relaxed)),
                     std::memory_order_relaxed);
      break;
    case EvictionPolicy::kLfu:
      d.access.fetch_add(1, std::memory_order_relaxed);
      break;
    case EvictionPolicy::kSieve:
      if (d.access.load(std::memory_order_relaxed) == 0) d.access.store(1, std::memory_order_relaxed);
      break;
  }
}

inline uint32_t ShmCache::Impl::RecordPin(uint32_t di) const {
  using shm::kPinsPerSlice;
  if (opener == nullptr) return shm::kPinsPerOpener;
  ReaderThread& slice = MyReaderThread();
  for (uint32_t n = 0; n < kPinsPerSlice; ++n) {
    const uint32_t i = slice.first + (slice.next + n) % kPinsPerSlice;
    std::atomic<uint32_t>& pin = opener->pins[i];
    if (pin.load(std::memory_order_relaxed) != 0) continue;
    uint32_t expected = 0;
    if (slice.own) {
      pin.store(di + 1, std::memory_order_release);
    } else if (!pin.compare_exchange_strong(expected, di + 1, std::memory_order_acq_rel)) {
      continue;
    }
    slice.next = (slice.next + n + 1) % kPinsPerSlice;
    return i;
  }
  return shm::kPinsPerOpener;
}

inline void ShmCache::Impl::ReleaseRecordedPin(uint32_t di, uint32_t entry) {
  using namespace shm;  // NOLINT
  if (entry < kPinsPerOpener) opener->pins[entry].store(0, std::memory_order_release);
  const Desc& d = D(di);
  const uint64_t c = d.ctl.load(std::memory_order_acquire);
  if (StateOf(c) == kLive && RefsOf(c) == 1 &&
      (d.flags.load(std::memory_order_relaxed) & (kTransient | kPinned | kRecord)) == kTransient) {
    DropTransient(di);
    return;
  }
  Unpin(di);
}

}  // namespace overlay::storage

#endif  // OVERLAY_STORAGE_SRC_SHM_IMPL_H_
