// SPDX-License-Identifier: Apache-2.0
// CdnTier: L3, objects on an HTTP origin (nginx with WebDAV PUT, an S3-style
// gateway) at <base_url>/<32-hex key>, through libcurl PUT/GET/HEAD/DELETE.
// Gets verify the XXH3-128 of the body against the key.
//
// Thread-safety: safe for concurrent use; each request borrows a pooled curl
// handle, so connections are reused. Ownership: owns its curl handles.
#ifndef OVERLAY_STORAGE_CDN_TIER_H_
#define OVERLAY_STORAGE_CDN_TIER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "overlay/storage/tier.h"

namespace overlay::storage {

struct CdnTierOptions {
  std::string base_url;         // e.g. http://127.0.0.1:8080/objects
  uint64_t timeout_ms = 30000;  // whole request
  uint64_t connect_timeout_ms = 2000;
};

class CdnTier : public Tier {
 public:
  std::string_view name() const override { return "L3"; }
  // The URL of `key`'s object.
  virtual std::string UrlOf(const ObjectKey& key) const = 0;
};

// Errors: Unavailable when the origin cannot be reached or answers 5xx,
// NotFound on 404, IOError on other HTTP failures.
Result<std::unique_ptr<CdnTier>> NewCdnTier(const CdnTierOptions& options);

}  // namespace overlay::storage

#endif  // OVERLAY_STORAGE_CDN_TIER_H_
