// SPDX-License-Identifier: Apache-2.0
// ShmCache: L1, objects in a Boost.Interprocess shared-memory segment that every
// process on the node maps, so readers get views into the segment, not copies.
//
// Reads are lock-free: a reader finds the object through an open-addressing
// index of atomic words and pins it with one CAS on its descriptor's refcount.
// Writers (loan, commit, evict) serialize on one robust process-shared mutex;
// a writer killed while holding it makes the next writer recover (see
// storage/src/shm_impl.h for the invariants that make every crash point
// recoverable).
//
// Thread-safety: every method is safe to call from many threads and processes;
// a ShmCache belongs to the process that opened it (a forked child opens the
// segment again). Ownership: the ShmCache owns its mapping; ReadHandle and
// WriteLoan borrow it
// and must be destroyed before the ShmCache (Blobs from Get() need not be: they
// keep the mapping alive themselves).
#ifndef OVERLAY_STORAGE_SHM_CACHE_H_
#define OVERLAY_STORAGE_SHM_CACHE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "overlay/object_key.h"
#include "overlay/storage/tier.h"
#include "overlay/storage_options.h"

namespace overlay::storage {

struct ShmCacheOptions {
  // Segment name (/dev/shm/<segment>), created with mode 0600 when absent.
  std::string segment = "overlay";
  // Data-area bytes (the L1 budget). Ignored when the segment already exists.
  uint64_t memory = 256ull << 20;
  // Descriptor table size (objects plus catalog records). Ignored when the
  // segment already exists.
  uint32_t max_objects = 65536;
  // Ignored when the segment already exists: its own policy applies.
  EvictionPolicy policy = EvictionPolicy::kLru;
  // Test-only: called at named points ("commit_locked": inside Commit with the
  // writer mutex held; "evict_demoting": victims chosen and pinned, before
  // their demotion) so a test can kill the process there.
  std::function<void(std::string_view point)> TEST_hook;
  // False: open only a segment that exists (NotFound otherwise), for readers
  // that must not leave a new segment behind.
  bool create = true;
};

// One L1 entry as listed by ShmCache::List().
struct ShmEntry {
  ObjectKey key;
  ObjectMeta meta;
  bool pinned = false;
  bool record = false;  // a catalog record (see PutRecord), not object bytes
  uint32_t readers = 0;
};

struct ShmStats {
  EvictionPolicy policy = EvictionPolicy::kLru;
  uint64_t capacity_bytes = 0;  // data area
  uint64_t live_bytes = 0;      // bytes of objects in the index
  uint64_t live_objects = 0;
  uint64_t evictions = 0;
  uint64_t recoveries = 0;  // times a writer found the mutex of a dead owner
  uint64_t reclaimed_pins = 0;  // read pins dropped for processes that died holding them
};

class ShmCache;

// A pinned, zero-copy view of an L1 object. While it lives the bytes stay valid,
// even if the object is evicted or erased meanwhile. The pins of a process
// killed while holding handles are dropped when a process next opens the
// segment or a writer runs out of room.
// Thread-safety: one thread at a time. Ownership: move-only; releases its pin
// when destroyed. REQUIRES: destroyed before the ShmCache it came from.
class ReadHandle {
 public:
  ReadHandle() = default;
  ~ReadHandle() { Release(); }
  ReadHandle(ReadHandle&& o) noexcept { *this = std::move(o); }
  ReadHandle& operator=(ReadHandle&& o) noexcept;
  ReadHandle(const ReadHandle&) = delete;
  ReadHandle& operator=(const ReadHandle&) = delete;

  bool valid() const { return cache_ != nullptr; }
  std::string_view view() const { return view_; }
  // Drops the pin now; the view becomes invalid.
  void Release();

 private:
  friend class ShmCache;
  const ShmCache* cache_ = nullptr;
  uint32_t desc_ = 0;
  uint32_t pin_ = 0;  // entry in the opener's pin table
  std::string_view view_;
};

// Writable L1 space from ShmCache::Loan, published by ShmCache::Commit.
// Thread-safety: one thread at a time. Ownership: move-only; a loan dropped
// without Commit returns its space. A process killed while holding a loan leaks
// nothing: writers reclaim loans of dead processes.
class WriteLoan {
 public:
  WriteLoan() = default;
  ~WriteLoan() { Abort(); }
  WriteLoan(WriteLoan&& o) noexcept { *this = std::move(o); }
  WriteLoan& operator=(WriteLoan&& o) noexcept;
  WriteLoan(const WriteLoan&) = delete;
  WriteLoan& operator=(const WriteLoan&) = delete;

  std::span<char> data() const { return data_; }
  size_t size() const { return data_.size(); }
  void Abort();

 private:
  friend class ShmCache;
  const ShmCache* cache_ = nullptr;
  uint32_t desc_ = 0;
  std::span<char> data_;
};

class ShmCache : public Tier, public std::enable_shared_from_this<ShmCache> {
 public:
  // Called with an object the cache is about to evict, while it is still
  // readable, so the caller can demote it. Returns whether a lower tier now
  // holds it: an object that was not demoted stays while anybody reads it.
  // Without a listener, objects somebody reads are never chosen for eviction.
  using EvictListener =
      std::function<bool(const ObjectKey& key, std::string_view bytes, const ObjectMeta& meta)>;

  // Opens the segment `options.segment`, creating it (mode 0600, exclusively)
  // and formatting it when absent. An existing segment must be owned by this
  // user with mode 0600, else InvalidArgument: another user may have planted it.
  static Result<std::shared_ptr<ShmCache>> Open(const ShmCacheOptions& options);
  // Unlinks a segment name; processes that mapped it keep their mapping.
  static Status Remove(std::string_view segment);

  ~ShmCache() override;
  ShmCache(const ShmCache&) = delete;
  ShmCache& operator=(const ShmCache&) = delete;

  std::string_view name() const override { return "L1"; }

  // Writable space for a `size`-byte object, evicting (with demotion through the
  // listener) as needed. Busy when the budget is held by pinned or in-use
  // objects; InvalidArgument when `size` exceeds the budget.
  Result<WriteLoan> Loan(size_t size);
  // Publishes a filled loan under the XXH3-128 of its bytes and returns that key.
  // If the key is already present the loan is dropped (deduplication).
  Result<ObjectKey> Commit(WriteLoan&& loan, uint64_t expiry_ms = 0);
  // Publishes a filled loan and returns the object pinned, as a Blob carrying
  // its key, with no moment in between at which it could be evicted. The key
  // is `*known` when given (REQUIRES: the caller checked that the bytes hash to
  // it), else computed here. A key already present returns that object and
  // drops the loan. A `transient` object (a pipeline's intermediate) that is
  // evicted while nobody reads it is dropped instead of demoted.
  Result<Blob> CommitBlob(WriteLoan&& loan, uint64_t expiry_ms = 0,
                          const ObjectKey* known = nullptr, bool transient = false);
  // Makes a transient object one that eviction demotes. NotFound when absent.
  Status Keep(const ObjectKey& key);

  // Tier interface. Put copies `bytes` into a loan and commits it; Get returns a
  // Blob that pins the object (zero-copy). L1 bytes are hashed once, at commit.
  Status Put(const ObjectKey& key, std::string_view bytes, const ObjectMeta& meta) override;
  Result<Blob> Get(const ObjectKey& key) override;
  Result<ObjectMeta> Head(const ObjectKey& key) override;
  Status Erase(const ObjectKey& key) override;

  // The lock-free read path: pins the object and returns a view into the segment.
  // NotFound on a miss or when expired.
  Result<ReadHandle> Acquire(const ObjectKey& key) const;

  // Pinned objects are never evicted. NotFound when absent.
  Status SetPinned(const ObjectKey& key, bool pinned);
  // Evicts one object now (through the listener, as under memory pressure).
  // Busy when it is pinned, or read by somebody and not demoted.
  Status Evict(const ObjectKey& key);
  // Removes every object whose expiry has passed (no demotion) and returns their keys.
  std::vector<ObjectKey> ExpireNow(uint64_t now_ms);

  // Catalog records: small values under a caller-chosen key (ObjectKey::OfName),
  // replaced on write, never evicted, invisible to Get/Acquire.
  Status PutRecord(const ObjectKey& key, std::string_view bytes, uint64_t expiry_ms);
  Result<ReadHandle> AcquireRecord(const ObjectKey& key) const;
  Status EraseRecord(const ObjectKey& key);

  std::vector<ShmEntry> List() const;
  ShmStats Stats() const;
  void SetEvictListener(EvictListener listener);

  // Opaque implementation (storage/src/shm_impl.h); public only so its helpers
  // can name it.
  struct Impl;

 private:
  friend class ReadHandle;
  friend class WriteLoan;
  explicit ShmCache(std::unique_ptr<Impl> impl);
  void ReleasePin(uint32_t desc, uint32_t pin) const;
  Blob BlobOf(ReadHandle&& handle, const ObjectKey& key) const;
  void AbortLoan(uint32_t desc) const;

  std::unique_ptr<Impl> impl_;
};

}  // namespace overlay::storage

#endif  // OVERLAY_STORAGE_SHM_CACHE_H_
