// SPDX-License-Identifier: Apache-2.0
// Binary layout of the L1 shared-memory segment (internal to storage/).
//
//   offset 0          Header (4 KiB): magic, geometry, robust writer mutex, stats
//   desc_off          Desc[max_objects]      (128 B each)
//   index_off         Slot[2^k]              (open-addressing index, >= 2x objects)
//   openers_off       Opener[kMaxOpeners]    (each opener's pins, for crash recovery)
//   arena_off         data arena: a walkable heap of blocks, each a 64 B Block
//                     header followed by the object's bytes, in 64 B units
//
// Only offsets are stored in the segment, so processes may map it anywhere.
#ifndef OVERLAY_STORAGE_SRC_SHM_LAYOUT_H_
#define OVERLAY_STORAGE_SRC_SHM_LAYOUT_H_

#include <pthread.h>

#include <atomic>
#include <cstdint>

namespace overlay::storage::shm {

// "OVL1SHM1": written last by the creator, so openers never see a half-made header.
constexpr uint64_t kMagic = 0x4f564c3153484d31ull;
constexpr uint32_t kVersion = 6;
constexpr uint64_t kUnit = 64;           // arena allocation unit = block header size
constexpr uint64_t kHeaderBytes = 4096;  // room for Header, page-aligned

// Descriptor control word: [generation:32][readers:28][state:4]; while kLoaned
// the middle field holds the writer's pid instead (pids are below 2^22), so a
// descriptor is taken and its owner named in one CAS, with no lock.
// The generation increases each time a descriptor is loaned, so a reader holding
// a stale index word fails its pin CAS instead of pinning a recycled object.
enum DescState : uint64_t {
  kFree = 0,    // reusable; its old data block (if any) is garbage
  kLoaned = 1,  // owned by a writer (pid in the ctl word) between Loan and Commit
  kLive = 2,    // published in the index; readers may pin it
  kDead = 3,    // removed from the index but still pinned; the last reader frees it
};
constexpr uint64_t kStateMask = 0xf;
constexpr uint64_t kRefOne = 1ull << 4;
constexpr uint64_t kRefMask = 0x0fffffffull << 4;

inline uint64_t StateOf(uint64_t c) { return c & kStateMask; }
inline uint64_t RefsOf(uint64_t c) { return (c & kRefMask) >> 4; }
inline uint32_t GenOf(uint64_t c) { return static_cast<uint32_t>(c >> 32); }
inline uint64_t MakeCtl(uint32_t gen, uint64_t refs, uint64_t state) {
  return (static_cast<uint64_t>(gen) << 32) | (refs << 4) | state;
}
inline int32_t LoanerOf(uint64_t c) { return static_cast<int32_t>(RefsOf(c)); }

// kEvicting: chosen as a victim by a writer (Desc::evictor_pid) that pinned it
// and is demoting it outside the writer mutex, so no other writer picks it
// too. The writer clears it before dropping its pin; one killed in between
// leaves both, and the next eviction scan that finds the evictor dead drops
// them for it, so the object can be evicted again.
// kTransient: an object its writer will not ask for again once nobody reads
// it (a pipeline's intermediate): evicted unread, it is dropped, not demoted.
enum DescFlags : uint32_t { kPinned = 1, kRecord = 2, kEvicting = 4, kTransient = 8 };

// Index word: 0 empty (ends a probe), 1 tombstone, else (gen << 32) | (desc + 2).
// A word whose descriptor no longer has that generation in state kLive is stale
// and is treated like a tombstone.
constexpr uint64_t kEmptyWord = 0;
constexpr uint64_t kTombWord = 1;
inline uint64_t MakeWord(uint32_t gen, uint32_t desc) {
  return (static_cast<uint64_t>(gen) << 32) | (desc + 2);
}
inline uint32_t WordDesc(uint64_t w) { return static_cast<uint32_t>(w & 0xffffffffu) - 2; }
inline uint32_t WordGen(uint64_t w) { return static_cast<uint32_t>(w >> 32); }

// An index slot: the word above, plus a hint that lets a reader skip other keys'
// slots and start fetching the data while it pins the descriptor, so a hit
// waits for two cache misses (slot, then descriptor and data together) rather
// than three. hint = (fingerprint << 32) | data block offset in kUnit; it is
// stored before the word it describes (release on the word), so a reader that
// sees a word sees its hint or a later one. A later hint means the slot was
// reused, i.e. the word read was already stale. Readers trust the hint only to
// skip a slot or to prefetch; the descriptor stays authoritative.
struct alignas(16) Slot {
  std::atomic<uint64_t> word;
  std::atomic<uint64_t> hint;
};
static_assert(sizeof(Slot) == 16);
inline uint32_t Fingerprint(uint64_t key_hi) { return static_cast<uint32_t>(key_hi >> 32); }
inline uint64_t MakeHint(uint64_t key_hi, uint64_t block_off) {
  return (static_cast<uint64_t>(Fingerprint(key_hi)) << 32) | (block_off / kUnit);
}
inline uint32_t HintFingerprint(uint64_t h) { return static_cast<uint32_t>(h >> 32); }
inline uint64_t HintBlock(uint64_t h) { return (h & 0xffffffffu) * kUnit; }
// Block offsets in a hint have 32 bits of kUnit: the arena is at most this big.
constexpr uint64_t kMaxArenaBytes = (1ull << 32) * kUnit;

// The first line holds what a reader touches; key and size are written while
// kLoaned and immutable until the descriptor is free again.
struct alignas(64) Desc {
  std::atomic<uint64_t> ctl;
  std::atomic<uint64_t> key_hi;
  std::atomic<uint64_t> key_lo;
  std::atomic<uint64_t> block;      // arena offset of the data Block
  std::atomic<uint64_t> size;       // object bytes
  std::atomic<uint64_t> expiry_ms;  // 0: never
  std::atomic<uint64_t> access;     // LRU: last access tick; LFU: hits; SIEVE: visited bit
  std::atomic<uint32_t> flags;
  alignas(64) std::atomic<uint64_t> ctime_ms;
  std::atomic<uint64_t> seq;  // insertion order (SIEVE's queue, ties elsewhere)
  std::atomic<int32_t> evictor_pid;  // while kEvicting
};
static_assert(sizeof(Desc) == 128);

// Data block header. A block is in use iff owner != 0 and the owning descriptor
// still has that generation and is not kFree; everything else is free space, so
// freeing an object never touches the arena (readers stay lock-free). The heap
// stays walkable at every instant: a split writes the tail header before
// shrinking `units`, a merge grows `units` in one store.
// A reservation is a block owned by a kLoaned descriptor that a writer carves
// small objects from, front first, without the mutex: each carve is such a
// split, the tail staying the reservation's. Free space only ever appears
// under the mutex or by a kDead descriptor's last unpin, so a walker (who
// holds the mutex) never sees a carved block turn free between reading its
// `units` and its `owner`.
struct alignas(64) Block {
  std::atomic<uint64_t> units;  // length including this header, in kUnit
  std::atomic<uint64_t> owner;  // 0 or (gen << 32) | (desc + 1)
};
static_assert(sizeof(Block) == kUnit);
inline uint64_t MakeOwner(uint32_t gen, uint32_t desc) {
  return (static_cast<uint64_t>(gen) << 32) | (desc + 1);
}

// The pins held by one opener (a ShmCache instance): the descriptor (+1; 0:
// free) of each of its live ReadHandles, so when its process dies the next
// opener can drop them. Only the opener's process writes its entries while
// it lives. A pin is recorded after it is taken and forgotten before it is
// dropped, so a crash in between leaks that one pin but never drops one twice.
// A get that finds no free entry near its thread's last one pins untracked.
// The table is cut into slices of kPinsPerSlice, one per thread of the opener
// (the first kPinSlices threads; later ones share, with a CAS), so a thread
// records its pins with plain stores: only a slice's thread writes a pin
// into it; any thread may clear one (a handle released elsewhere).
constexpr uint32_t kMaxOpeners = 64;
constexpr uint32_t kPinsPerOpener = 4096;
constexpr uint32_t kPinsPerSlice = 64;
constexpr uint32_t kPinSlices = kPinsPerOpener / kPinsPerSlice;
struct alignas(64) Opener {
  std::atomic<int32_t> pid;  // 0: free
  alignas(64) std::atomic<uint32_t> pins[kPinsPerOpener];
};

struct alignas(64) Header {
  std::atomic<uint64_t> magic;
  uint32_t version;
  uint32_t policy;
  uint64_t total_bytes;
  uint64_t desc_off;
  uint64_t index_off;
  uint64_t openers_off;  // Opener[kMaxOpeners]
  uint64_t arena_off;
  uint64_t arena_bytes;
  uint32_t max_objects;
  uint32_t index_mask;
  int32_t creator_pid;

  // Writers only (Loan, Commit, evictions, erase, pin). PTHREAD_MUTEX_ROBUST:
  // when its holder dies the next locker gets EOWNERDEAD and runs recovery.
  alignas(64) pthread_mutex_t mu;

  // Guarded by mu.
  // Arena offset of a block start where the next heap walk begins: at or
  // before the lowest free space seen (dropped transients move it back).
  alignas(64) uint64_t rover;
  uint64_t sieve_hand;         // seq the SIEVE hand points at

  // Objects published so far: the next one's seq, and LRU's clock (see
  // ReadTick), which every get reads, so it has a line of its own. Written
  // under mu.
  alignas(64) std::atomic<uint64_t> next_seq;

  // One past the highest descriptor ever loaned. Descriptors are handed out
  // below it first, so scans (eviction, List) cover live objects, not the
  // whole table. Written under mu; read by lock-free List().
  alignas(64) std::atomic<uint32_t> desc_high;
  // Descriptors not kFree (a hint: a crash between a transition and this
  // counter skews it, which only changes where AllocDesc looks first).
  std::atomic<uint32_t> used_descs;
  std::atomic<uint64_t> live_bytes;
  std::atomic<uint64_t> live_objects;
  std::atomic<uint64_t> evictions;
  std::atomic<uint64_t> recoveries;
  std::atomic<uint64_t> reclaimed_pins;  // dropped for dead openers
};
static_assert(sizeof(Header) <= kHeaderBytes);

}  // namespace overlay::storage::shm

#endif  // OVERLAY_STORAGE_SRC_SHM_LAYOUT_H_
