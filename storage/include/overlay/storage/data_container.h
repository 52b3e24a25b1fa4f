// SPDX-License-Identifier: Apache-2.0
// DataContainer: a node's tiered object store (L1 shared memory, L2 RocksDB,
// L3 CDN) behind one put/get API, plus the name catalog.
//
//   put:  L1 (unless too large) ; L2 in write-through/back ; journaled L3 push in write-back;
//         returns the stored object, pinned in L1 while the caller holds it
//   get:  L1 -> L2 (promotes to L1) -> L3 (stored to L2 and L1); every copy is
//         checked against its key, and a corrupt copy is replaced by a good one
//   evict (budget or explicit): L1 -> L2 (demotion). An object whose only copy
//         is in L1 is never dropped while anybody reads it; a put that finds L1
//         full of such objects waits for room (backpressure), bounded
//   names: in L2 when there is one (so they never fill L1), else L1 records
//   ttl:  ExpireNow() (and, when STORAGE.ttl > 0, a background sweep) removes expired objects and
//   names
//         from every tier; L3 deletions are journaled like pushes
//
// Thread-safety: safe for concurrent use by many threads. Processes naming the
// same STORAGE.segment share L1 and its catalog records; L2 is opened by one
// process at a time (RocksDB locks its directory): a process that finds the
// default disk tier taken runs with L1 only and says so in notice().
// Ownership: Blobs returned by Get own what they view (a pinned L1 handle or a
// heap/block-cache buffer) and may outlive the container.
#ifndef OVERLAY_STORAGE_DATA_CONTAINER_H_
#define OVERLAY_STORAGE_DATA_CONTAINER_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "overlay/blob.h"
#include "overlay/status.h"
#include "overlay/storage/catalog.h"
#include "overlay/object_key.h"
#include "overlay/storage/shm_cache.h"
#include "overlay/storage_options.h"

namespace overlay::storage {

class RocksTier;
class CdnTier;

struct PutOptions {
  std::string name;                // bind this catalog name to the key ("" = none)
  std::optional<uint64_t> ttl_ms;  // overrides STORAGE.ttl; 0 = forever
  bool pin = false;                // pin in L1
  // Nobody asks for it again once its readers let go (a pipeline's
  // intermediate): evicted unread, it is dropped rather than demoted to L2.
  // Naming it makes it a kept object.
  bool transient = false;
};

// Which tiers hold an object (Stat).
struct ObjectInfo {
  ObjectKey key;
  ObjectMeta meta;
  bool pinned = false;
  bool in_l1 = false;
  bool in_l2 = false;
  bool in_l3 = false;
  std::string l3_error;  // set when L3 could not be asked
};

// Space for a put filled in place: an L1 loan when the object fits L1, a heap
// buffer otherwise. Thread-safety: one thread. Ownership: move-only; dropping
// it uncommitted discards the space.
class PutLoan {
 public:
  PutLoan() = default;
  std::span<char> data() { return in_l1_ ? l1_.data() : std::span<char>(heap_); }
  size_t size() const { return in_l1_ ? l1_.size() : heap_.size(); }

 private:
  friend class DataContainerImpl;
  WriteLoan l1_;
  bool in_l1_ = false;
  std::string heap_;
};

// Reads each tier served since Open: a hit answered a Get, a miss passed it
// down (or failed it, at the last tier). Index 0, 1, 2: L1, L2, L3.
struct TierReads {
  std::array<uint64_t, 3> hits{};
  std::array<uint64_t, 3> misses{};
  std::array<uint64_t, 3> bytes{};  // bytes of the hits
};

class DataContainer {
 public:
  // Opens the tiers `options` configures. InvalidArgument for contradictory
  // options (write = through without disk, write = back without cdn).
  static Result<std::unique_ptr<DataContainer>> Open(const StorageOptions& options);

  virtual ~DataContainer() = default;

  // Stores `bytes`, hashing them once, and returns the stored object: a Blob
  // that carries its key and keeps the L1 copy pinned while it lives.
  virtual Result<Blob> Put(std::string_view bytes, const PutOptions& put = {}) = 0;
  // Put for bytes already checked against `key` (e.g. received from a peer and
  // verified on arrival): they are not hashed again.
  virtual Result<Blob> PutVerified(const ObjectKey& key, std::string_view bytes,
                                   const PutOptions& put = {}) = 0;
  // Loan -> fill -> Commit: the zero-copy put path for producers.
  virtual Result<PutLoan> Loan(size_t size) = 0;
  virtual Result<Blob> Commit(PutLoan&& loan, const PutOptions& put = {}) = 0;
  // Commit for a filler that hashed the bytes as it wrote them: they are not
  // hashed again. REQUIRES: key == ObjectKey::Of(loan.data()).
  virtual Result<Blob> CommitVerified(PutLoan&& loan, const ObjectKey& key,
                                      const PutOptions& put = {}) = 0;
  // Binds catalog `name` to a stored object (as PutOptions::name does).
  virtual Status Name(const std::string& name, const ObjectKey& key, uint64_t size) = 0;

  // The object's verified bytes from the nearest tier. NotFound when no tier has
  // it; Corruption when every copy found was corrupt; Unavailable when the local
  // tiers miss and the CDN cannot be reached.
  virtual Result<Blob> Get(const ObjectKey& key) = 0;

  // A 32-hex key, or a catalog name (names win when both parse).
  virtual Result<ObjectKey> Resolve(std::string_view key_or_name) = 0;
  virtual Result<CatalogEntry> Lookup(std::string_view name) = 0;
  virtual Result<ObjectInfo> Stat(const ObjectKey& key) = 0;
  // Catalog entries (unexpired), sorted by name.
  virtual Result<std::vector<CatalogEntry>> List() = 0;
  // Demotes the object from L1 to L2 now. NotFound when not in L1; Busy when pinned;
  // Failed when L1 holds the only copy (no L2, and L3 lacks it): never drops it.
  virtual Status Evict(const ObjectKey& key) = 0;
  // Pins (or unpins) the object in L1, loading it there first, and sets the
  // pin flag of the catalog names bound to it.
  virtual Status Pin(const ObjectKey& key, bool pinned) = 0;
  // Removes expired objects and names from every tier; returns how many objects.
  virtual Result<size_t> ExpireNow() = 0;

  // CDN operations journaled but not yet acknowledged.
  virtual Result<uint64_t> JournalBacklog() = 0;
  // Retries the journal now and waits until it is empty or `timeout` passes.
  virtual Status DrainJournal(std::chrono::milliseconds timeout) = 0;

  // Counted by Get (not by the tiers' own callers); for `overlay status`.
  virtual TierReads reads() const = 0;

  // Puts waiting for L1 room right now (backpressure; for progress lines).
  virtual size_t Waiting() const = 0;
  // The L2 directory in use; empty without a disk tier.
  virtual const std::string& disk_dir() const = 0;
  // Why a tier the options asked for is missing (e.g. the default disk tier
  // is held by another process); empty when none is.
  virtual const std::string& notice() const = 0;

  // The tiers, or nullptr when not configured (for stat, tests and benchmarks).
  virtual ShmCache* l1() = 0;
  virtual RocksTier* l2() = 0;
  virtual CdnTier* l3() = 0;

  // Like Open, but NotFound when the L1 segment does not exist, instead of
  // creating it: for callers that only read, list or evict.
  static Result<std::unique_ptr<DataContainer>> OpenExisting(const StorageOptions& options);

  // Unbinds the catalog name. When no other name is bound to its key, the object
  // goes too: erased from L1 and L2 (pinned or not), and its L3 copy deleted
  // through the journal in write-back mode (a CDN this node does not push to is
  // left alone). Returns whether the object was erased. NotFound when no such name.
  virtual Result<bool> Remove(std::string_view name) = 0;
};

}  // namespace overlay::storage

#endif  // OVERLAY_STORAGE_DATA_CONTAINER_H_
