// SPDX-License-Identifier: Apache-2.0
// Bulk object transfer over any channel: the client pulls an object by key in
// chunks (Fetch → Data), keeping a few chunks in flight; the server answers each
// Fetch with a Data header whose attachment references the object's bytes (no copy).
//
// Thread-safety: free functions; they use the given channel, which must not be
// used by another thread meanwhile.
#ifndef OVERLAY_TRANSPORT_BULK_H_
#define OVERLAY_TRANSPORT_BULK_H_

#include <chrono>
#include <cstddef>
#include <string_view>

#include "overlay/blob.h"
#include "overlay/status.h"
#include "overlay/transport/channel.h"

namespace overlay::transport {

struct BulkOptions {
  // Bytes per Data chunk; large single messages are slow on ZeroMQ. Default: 1 MiB.
  size_t chunk_bytes = size_t{1} << 20;
  // Fetch requests kept in flight. Default: 4.
  int window = 4;
  // Longest wait for any one reply. Default: 10 s.
  std::chrono::milliseconds timeout{10000};
};

// Pulls the whole object `key`. An object that fits one chunk is returned as the
// received buffer itself; larger ones are assembled into one buffer from the
// chunks requested, which the server must answer whole and in request order
// (as ServeFetch on one channel does). Errors: the server's (e.g. NotFound),
// Timeout, Corruption (a chunk other than the one requested).
// REQUIRES: no other replies are pending on `channel`.
Result<Blob> FetchObject(ClientChannel& channel, std::string_view key,
                         const BulkOptions& options = {});

// Answers the Fetch in `request` from `object`: a Data chunk referencing the
// requested range of `object`, or an Error reply when `object` is an error or the
// range is invalid. `object` may be a Status (e.g. NotFound from the data layer).
Status ServeFetch(ServerChannel& server, const ServerChannel::Request& request,
                  const Result<Blob>& object);

}  // namespace overlay::transport

#endif  // OVERLAY_TRANSPORT_BULK_H_
