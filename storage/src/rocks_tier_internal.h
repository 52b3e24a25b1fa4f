// SPDX-License-Identifier: Apache-2.0
// What rocks_tier_reader.cc needs of rocks_tier.cc. Internal to storage/.
#ifndef OVERLAY_STORAGE_SRC_ROCKS_TIER_INTERNAL_H_
#define OVERLAY_STORAGE_SRC_ROCKS_TIER_INTERNAL_H_

#include <memory>

#include "overlay/storage/rocks_tier.h"

namespace overlay::storage {

// The store at options.path as it is now, opened read-only (no lock taken):
// it never sees what the owner stores later. Writes fail with Busy.
Result<std::unique_ptr<RocksTier>> OpenRocksSnapshot(const RocksTierOptions& options);

}  // namespace overlay::storage

#endif  // OVERLAY_STORAGE_SRC_ROCKS_TIER_INTERNAL_H_
