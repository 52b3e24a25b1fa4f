// SPDX-License-Identifier: Apache-2.0
// ObjectStore: what the executor needs of a node's data container, so core/
// drives storage/ through an interface and not its internals.
#ifndef OVERLAY_BASE_OBJECT_STORE_H_
#define OVERLAY_BASE_OBJECT_STORE_H_

#include <string>
#include <string_view>

#include "overlay/blob.h"
#include "overlay/status.h"

namespace overlay {

// Thread-safety: implementations must allow concurrent calls.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // Stores `bytes`, binds `name` to them, and returns their content key.
  virtual Result<std::string> Put(std::string_view name, std::string_view bytes) = 0;
  // The object's bytes, viewed in place where the tier allows (an L1 object
  // stays pinned while the Blob lives).
  virtual Result<Blob> Get(const std::string& key) = 0;
};

}  // namespace overlay

#endif  // OVERLAY_BASE_OBJECT_STORE_H_
