// SPDX-License-Identifier: Apache-2.0
// An endpoint's inputs: looked up in its data container, and on a miss pulled
// from the Invoke's origin (the client's data server), checked against the key
// and stored.
#ifndef OVERLAY_CORE_SRC_ORIGIN_PULLER_H_
#define OVERLAY_CORE_SRC_ORIGIN_PULLER_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "overlay/blob.h"
#include "overlay/status.h"
#include "overlay/storage/data_container.h"
#include "overlay/transport/channel.h"

namespace overlay::endpoint {

// Thread-safety: Input may be called from several threads, each with its own
// `origins`. Ownership: borrows the container.
class OriginPuller {
 public:
  // Connections to origins, by address; a channel is single-threaded, so each
  // thread keeps its own.
  using Connections = std::map<std::string, std::unique_ptr<transport::ClientChannel>>;

  OriginPuller(storage::DataContainer* container, transport::ChannelOptions channel,
               std::chrono::milliseconds fetch_timeout)
      : container_(container), channel_(std::move(channel)), fetch_timeout_(fetch_timeout) {}

  // The input's bytes: from the container, else pulled from `origin` and stored.
  Result<Blob> Input(const std::string& hex, const std::string& origin, Connections& origins);

 private:
  storage::DataContainer* const container_;
  const transport::ChannelOptions channel_;
  const std::chrono::milliseconds fetch_timeout_;
};

}  // namespace overlay::endpoint

#endif  // OVERLAY_CORE_SRC_ORIGIN_PULLER_H_
