// SPDX-License-Identifier: Apache-2.0
#include "origin_puller.h"

#include "overlay/object_key.h"
#include "overlay/transport/bulk.h"

namespace overlay::endpoint {

Result<Blob> OriginPuller::Input(const std::string& hex, const std::string& origin,
                                 Connections& origins) {
  auto key = ObjectKey::FromHex(hex);
  if (!key) return Status::InvalidArgument("malformed input key '" + hex + "'");
  auto local = container_->Get(*key);
  // An unreachable CDN (Unavailable) is a miss too: the origin has the object.
  if (local.ok() || origin.empty() ||
      !(local.status().IsNotFound() || local.status().IsUnavailable()))
    return local;
  auto& ch = origins[origin];
  if (!ch) {
    auto c = transport::Connect(origin, channel_);
    if (!c.ok())
      return Status::Unavailable("origin " + origin + ": " + std::string(c.status().message()));
    ch = std::move(*c);
  }
  transport::BulkOptions bulk;
  bulk.timeout = fetch_timeout_;
  auto bytes = transport::FetchObject(*ch, hex, bulk);
  if (!bytes.ok()) {
    origins.erase(origin);  // replies may still be pending on it
    if (bytes.status().IsNotFound()) return bytes.status();
    return Status::Unavailable("fetching input " + hex + " from " + origin + ": " +
                               std::string(bytes.status().message()));
  }
  // The one hash of these bytes on this node; the container trusts it.
  if (!(ObjectKey::Of(bytes->view()) == *key))
    return Status::Corruption("input " + hex + " from " + origin + " does not match its key");
  return container_->PutVerified(*key, bytes->view());
}

}  // namespace overlay::endpoint
