// SPDX-License-Identifier: Apache-2.0
// CatalogEntry: a name (e.g. "patient42/0007.txt") bound to an object key, with
// the object's size, creation time, expiry and pin flag. The key is the
// object's XXH3-128 checksum, so no separate checksum field is kept.
//
// Thread-safety: a plain value.
#ifndef OVERLAY_STORAGE_CATALOG_H_
#define OVERLAY_STORAGE_CATALOG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "overlay/object_key.h"

namespace overlay::storage {

struct CatalogEntry {
  std::string name;
  ObjectKey key;
  uint64_t size = 0;
  uint64_t ctime_ms = 0;   // Unix milliseconds
  uint64_t expiry_ms = 0;  // Unix milliseconds; 0: never
  bool pinned = false;
  // Bound by a process that only reads the disk tier (another one owns it):
  // an L1 record until the owner moves it to L2.
  bool for_owner = false;

  // Fixed little-endian layout: "OVC1", key (16), size, ctime, expiry (8 each),
  // flags (1: pinned, 2: for_owner), then the name's bytes.
  std::string Encode() const;
  // nullopt when `bytes` is not an encoded entry.
  static std::optional<CatalogEntry> Decode(std::string_view bytes);
};

}  // namespace overlay::storage

#endif  // OVERLAY_STORAGE_CATALOG_H_
