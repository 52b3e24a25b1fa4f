// SPDX-License-Identifier: Apache-2.0
// An endpoint's pulls of inputs from origins (the clients' data servers), off
// its worker threads. A few puller threads serve one queue per origin, at most
// `per_origin` pulls of one origin at a time, so an origin that does not
// answer holds no worker and no more than its share of pullers. A new
// connection is probed first (a Heartbeat: any reply will do) and must answer
// within `connect_timeout`. An origin that cannot be reached is marked down
// for `down_for`: the pulls queued for it, and those asked meanwhile, fail at
// once with the same reason.
#ifndef OVERLAY_CORE_SRC_ORIGIN_PULLER_H_
#define OVERLAY_CORE_SRC_ORIGIN_PULLER_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "overlay/blob.h"
#include "overlay/status.h"
#include "overlay/storage/data_container.h"
#include "overlay/transport/channel.h"

namespace overlay::endpoint {

struct OriginPullerOptions {
  // Transport options of origin connections (the endpoint's own CURVE pair, if any).
  transport::ChannelOptions channel;
  // Longest wait for one chunk of a pulled input. Default: 10 s.
  std::chrono::milliseconds fetch_timeout{10000};
  // Longest wait for a new connection's first reply. Default: 2 s.
  std::chrono::milliseconds connect_timeout{2000};
  // How long an origin that could not be reached stays down. Default: 1 s.
  std::chrono::milliseconds down_for{1000};
  // Puller threads. Default: 8.
  int threads = 8;
  // Pulls of one origin at a time. Default: 2.
  int per_origin = 2;
};

// Thread-safety: Pull and pending() from any thread. Ownership: owns its
// threads and their connections; borrows the container.
class OriginPuller {
 public:
  // The inputs' bytes in the order asked, or why they could not be had.
  using Done = std::function<void(Result<std::vector<Blob>>)>;

  OriginPuller(storage::DataContainer* container, OriginPullerOptions options);
  // Fails the pulls still queued (Unavailable) and joins the threads.
  ~OriginPuller();

  // Pulls `keys` (hex object keys) from `origin`, whose CURVE public key is
  // `origin_key` (empty: plain text), checks each against its key and stores
  // it. `done` runs once: on a puller thread, or on the calling one when the
  // origin is down or the puller is closing.
  void Pull(const std::string& origin, const std::string& origin_key,
            std::vector<std::string> keys, Done done);

  // Pulls queued or running.
  size_t pending() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Request {
    std::vector<std::string> keys;
    Done done;
  };
  struct Origin {
    std::string address, key;  // where, and its CURVE public key
    std::deque<Request> queue;
    int active = 0;
    Clock::time_point down_until{};
    Status down_reason;
  };
  using Connections = std::map<std::string, std::unique_ptr<transport::ClientChannel>>;

  void Loop();
  // An origin with queued pulls and a free slot, after the last one served.
  // REQUIRES: mu_ held.
  std::map<std::string, Origin>::iterator Ready();
  // `unreachable` is set when the failure is the origin's, not one object's.
  Result<std::vector<Blob>> PullAll(Connections& conns, const std::string& name,
                                    const Origin& origin, const std::vector<std::string>& keys,
                                    bool* unreachable);
  Result<Blob> PullOne(Connections& conns, const std::string& name, const Origin& origin,
                       const std::string& hex, bool* unreachable);

  storage::DataContainer* const container_;
  const OriginPullerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Origin> origins_;  // by address and key
  std::string last_;                       // the origin served last
  size_t pending_ = 0;
  bool closed_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace overlay::endpoint

#endif  // OVERLAY_CORE_SRC_ORIGIN_PULLER_H_
