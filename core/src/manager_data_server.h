// SPDX-License-Identifier: Apache-2.0
// The function manager's data server: endpoints pull a task's inputs from it
// (the Invoke's `origin`). It serves an object only while a task that names
// it as an input is in flight, and only to the endpoint the task was sent
// to: with CURVE, the endpoint is known by its public key (the handshake
// proves it, and only the run's endpoints' keys are let in); without, any
// peer may pull the inputs of tasks in flight. Served on the I/O thread.
#ifndef OVERLAY_CORE_SRC_MANAGER_DATA_SERVER_H_
#define OVERLAY_CORE_SRC_MANAGER_DATA_SERVER_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "overlay/object_store.h"
#include "overlay/status.h"
#include "overlay/transport/channel.h"

namespace overlay::manager {

// Thread-safety: Serve and channel() on one thread (the I/O thread); Grant,
// Revoke and address() from any. Ownership: owns its channel; the store is
// borrowed (may be null).
class DataServer {
 public:
  // Binds `address`. With channel.curve_secret_key, only CURVE clients whose
  // keys are in channel.curve_client_keys get in. Errors: those of Listen.
  static Result<std::unique_ptr<DataServer>> Create(const std::string& address,
                                                    const transport::ChannelOptions& channel,
                                                    ObjectStore* store);

  // Lets the endpoint with CURVE key `peer_key` (empty: any peer, on a plain
  // channel) pull `keys` until the matching Revoke. Counted: a key granted
  // twice needs two Revokes.
  void Grant(const std::string& peer_key, const std::vector<std::string>& keys);
  void Revoke(const std::string& peer_key, const std::vector<std::string>& keys);

  // Answers one request: a granted Fetch from the store, anything else with an Error.
  void Serve(const transport::ServerChannel::Request& req);

  transport::ServerChannel& channel() { return *channel_; }
  const std::string& address() const { return channel_->address(); }

 private:
  DataServer(std::unique_ptr<transport::ServerChannel> channel, ObjectStore* store)
      : channel_(std::move(channel)), store_(store) {}
  bool Granted(const std::string& peer_key, const std::string& key);

  std::unique_ptr<transport::ServerChannel> channel_;
  ObjectStore* const store_;
  std::mutex mu_;
  std::map<std::string, int> grants_;  // peer key + '\n' + object key -> count
};

}  // namespace overlay::manager

#endif  // OVERLAY_CORE_SRC_MANAGER_DATA_SERVER_H_
