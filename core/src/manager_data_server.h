// SPDX-License-Identifier: Apache-2.0
// The function manager's data server: endpoints pull a task's inputs from it
// (the Invoke's `origin`). Served on the manager's I/O thread.
#ifndef OVERLAY_CORE_SRC_MANAGER_DATA_SERVER_H_
#define OVERLAY_CORE_SRC_MANAGER_DATA_SERVER_H_

#include <memory>
#include <string>

#include "overlay/object_store.h"
#include "overlay/status.h"
#include "overlay/transport/channel.h"

namespace overlay::manager {

// Thread-safety: Serve and channel() on one thread (the I/O thread); address()
// from any. Ownership: owns its channel; the store is borrowed (may be null).
class DataServer {
 public:
  // Binds `address`. Errors: those of transport::Listen.
  static Result<std::unique_ptr<DataServer>> Create(const std::string& address,
                                                    const transport::ChannelOptions& channel,
                                                    ObjectStore* store);

  // Answers one request: a Fetch from the store, anything else with an Error.
  void Serve(const transport::ServerChannel::Request& req);

  transport::ServerChannel& channel() { return *channel_; }
  const std::string& address() const { return channel_->address(); }

 private:
  DataServer(std::unique_ptr<transport::ServerChannel> channel, ObjectStore* store)
      : channel_(std::move(channel)), store_(store) {}

  std::unique_ptr<transport::ServerChannel> channel_;
  ObjectStore* const store_;
};

}  // namespace overlay::manager

#endif  // OVERLAY_CORE_SRC_MANAGER_DATA_SERVER_H_
