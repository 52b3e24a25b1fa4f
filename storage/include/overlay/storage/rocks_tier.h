// SPDX-License-Identifier: Apache-2.0
// RocksTier: L2, objects in a RocksDB store on the node's disk. Values up to
// `chunk` bytes are stored inline (one point lookup per get, served zero-copy
// from the block cache); larger ones as chunks written before their header, so
// a crash mid-put leaves no visible object. What is read from disk is verified
// by RocksDB's own checksums (SST blocks, blob records, WAL), plus a check that
// header, bytes and chunks agree in length; copies in RAM are not re-verified.
// The same store holds the catalog (name -> CatalogEntry) and the journal of
// CDN operations not yet acknowledged, each in its own column family.
//
// Thread-safety: safe for concurrent use by many threads of one process.
// RocksDB locks the directory, so one process at a time owns a given path;
// other processes may open it as readers (NewRocksTierReader), safe for
// concurrent use too.
// Ownership: owns the RocksDB handle; returned Blobs keep what they view alive.
#ifndef OVERLAY_STORAGE_ROCKS_TIER_H_
#define OVERLAY_STORAGE_ROCKS_TIER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "overlay/storage/catalog.h"
#include "overlay/storage/tier.h"

namespace overlay::storage {

struct RocksTierOptions {
  std::string path;             // directory, created when absent; this user's, mode 0700
  uint64_t chunk = 4ull << 20;  // inline limit and chunk size
  uint64_t block_cache = 64ull << 20;
};

// A CDN operation waiting in the journal.
enum class JournalOp : char { kPush = 'p', kDelete = 'd' };

class RocksTier : public Tier {
 public:
  std::string_view name() const override { return "L2"; }

  // Like Put, and in the same atomic write journals `op` for `key`.
  virtual Status PutJournaled(const ObjectKey& key, std::string_view bytes,
                              const ObjectMeta& meta) = 0;
  virtual Status JournalAdd(const ObjectKey& key, JournalOp op) = 0;
  virtual Status JournalRemove(const ObjectKey& key) = 0;
  // Up to `max` pending entries, oldest key order first.
  virtual Result<std::vector<std::pair<ObjectKey, JournalOp>>> JournalList(size_t max) = 0;
  virtual Result<uint64_t> JournalSize() = 0;
  // The operation pending for `key`, if any.
  virtual Result<std::optional<JournalOp>> JournalPending(const ObjectKey& key) = 0;

  virtual Status PutName(const CatalogEntry& entry) = 0;
  // NotFound when the name is absent (expiry is the caller's business).
  virtual Result<CatalogEntry> GetName(std::string_view name) = 0;
  virtual Status EraseName(std::string_view name) = 0;
  virtual Result<std::vector<CatalogEntry>> ListNames() = 0;

  // Erases every object whose expiry has passed; returns their keys.
  virtual Result<std::vector<ObjectKey>> ExpireNow(uint64_t now_ms) = 0;

  // Writes every memtable to SST (and blob) files and waits for it.
  virtual Status Flush() = 0;

  // RocksDB's estimate of the bytes the objects take (memtables, SST and
  // blob files; not the catalog or journal); 0 when it cannot tell.
  virtual uint64_t ApproximateBytes() = 0;
};

// Opens (creating when absent) the store at options.path. The directory is
// made 0700 and RocksDB's files 0600; a directory owned by another user is
// refused (InvalidArgument).
Result<std::unique_ptr<RocksTier>> NewRocksTier(const RocksTierOptions& options);

// Opens a store that another process owns (NewRocksTier gave Busy) to read
// it: RocksDB's read-only mode, which takes no lock. A lookup that misses
// reopens it (at most once per lookup) and asks again, so objects (Get) and
// names (GetName, ListNames) the owner stored before the lookup began are
// found; Head answers from a view at most 100 ms old, journal listings from
// one at most 1 s old.
// Writes fail with Busy.
Result<std::unique_ptr<RocksTier>> NewRocksTierReader(const RocksTierOptions& options);

// The pid of the process holding the store at `path` open to write (from
// /proc/locks); 0 when none does or it cannot be told.
int RocksTierOwnerPid(const std::string& path);

}  // namespace overlay::storage

#endif  // OVERLAY_STORAGE_ROCKS_TIER_H_
