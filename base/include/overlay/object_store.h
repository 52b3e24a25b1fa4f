// SPDX-License-Identifier: Apache-2.0
// ObjectStore: what the executor and the function manager need of a node's
// data container, so they drive storage/ through an interface and not its
// internals.
//
// Every object handed out is a Blob that carries its content key and keeps the
// stored copy alive (pinned in L1) while it lives: whoever holds an item owns
// it until it is consumed (LevelDB's Cache::Insert handle).
#ifndef OVERLAY_BASE_OBJECT_STORE_H_
#define OVERLAY_BASE_OBJECT_STORE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "overlay/blob.h"
#include "overlay/object_key.h"
#include "overlay/status.h"

namespace overlay {

// Thread-safety: implementations must allow concurrent calls.
class ObjectStore : public BlobAllocator {
 public:
  // Stores `bytes`, hashing them once, and returns the stored object.
  virtual Result<Blob> Put(std::string_view bytes) = 0;
  // Stores bytes already checked against `key` (e.g. pulled from a peer and
  // verified on arrival): they are not hashed again.
  virtual Result<Blob> PutVerified(const ObjectKey& key, std::string_view bytes) = 0;
  // Binds catalog `name` to a stored object. REQUIRES: object.key().
  virtual Status Name(const std::string& name, const Blob& object) = 0;
  // The key catalog `name` is bound to. NotFound when it is bound to none, or
  // the store keeps no catalog.
  virtual Result<ObjectKey> Lookup(const std::string& name) {
    return Status::NotFound("no object named '" + name + "'");
  }
  // The object's bytes, viewed in place where the tier allows.
  virtual Result<Blob> Get(const ObjectKey& key) = 0;
  // Puts waiting for memory right now (backpressure), for progress lines.
  virtual size_t Waiting() const { return 0; }
  // Allocate (BlobAllocator): space in the store that Publish commits in place.
};

}  // namespace overlay

#endif  // OVERLAY_BASE_OBJECT_STORE_H_
