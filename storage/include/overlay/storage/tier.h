// SPDX-License-Identifier: Apache-2.0
// Tier: one level of a node's data container (L1 shared memory, L2 RocksDB,
// L3 CDN). Objects are immutable and content-addressed, so a tier never has to
// reconcile versions: it holds the bytes of a key or it does not.
#ifndef OVERLAY_STORAGE_TIER_H_
#define OVERLAY_STORAGE_TIER_H_

#include <cstdint>
#include <string_view>

#include "overlay/blob.h"
#include "overlay/status.h"
#include "overlay/object_key.h"

namespace overlay::storage {

// What a tier records beside an object's bytes.
struct ObjectMeta {
  uint64_t size = 0;
  uint64_t ctime_ms = 0;   // creation, Unix milliseconds
  uint64_t expiry_ms = 0;  // Unix milliseconds after which the object is gone; 0: never
};

// Milliseconds since the Unix epoch (the clock of ctime_ms and expiry_ms).
uint64_t NowUnixMs();

inline bool Expired(const ObjectMeta& m, uint64_t now_ms) {
  return m.expiry_ms != 0 && now_ms >= m.expiry_ms;
}

// Thread-safety: implementations are safe for concurrent use from many threads.
// Ownership: a Tier owns its connections and files; Blobs it returns keep what
// they view alive on their own, so they may outlive the Tier.
class Tier {
 public:
  virtual ~Tier() = default;

  // "L1", "L2" or "L3".
  virtual std::string_view name() const = 0;

  // Stores `bytes` under `key`; storing a key that is already held is a no-op.
  // REQUIRES: key == ObjectKey::Of(bytes) (InvalidArgument otherwise, for tiers
  // that can check cheaply), meta.size == bytes.size().
  virtual Status Put(const ObjectKey& key, std::string_view bytes, const ObjectMeta& meta) = 0;

  // The object's bytes, verified (against the key, or by the store's own
  // checksums). NotFound on a miss or when expired; Corruption when the stored
  // bytes fail that check.
  virtual Result<Blob> Get(const ObjectKey& key) = 0;

  // The object's metadata without its bytes; NotFound on a miss. An object past
  // its expiry but not yet swept is still reported (with its expiry_ms), so
  // callers can tell "expired" from "never here".
  virtual Result<ObjectMeta> Head(const ObjectKey& key) = 0;

  // Removes the object; OK when it was absent. Readers holding its bytes keep them.
  virtual Status Erase(const ObjectKey& key) = 0;
};

}  // namespace overlay::storage

#endif  // OVERLAY_STORAGE_TIER_H_
