// SPDX-License-Identifier: Apache-2.0
#include "client_limits.h"

namespace overlay::endpoint {

std::string ClientOf(const transport::ServerChannel::Request& req) {
  if (!req.client_key.empty()) return "key " + req.client_key;
  if (!req.peer_address.empty()) return "address " + req.peer_address;
  return "local";
}

Status ClientLimits::Admit(const std::string& client, uint64_t bytes) {
  std::lock_guard lock(mu_);
  Use& u = use_[client];
  Status refused;
  if (u.tasks >= max_tasks_)
    refused = Status::Busy("client " + client + " has " + std::to_string(u.tasks) +
                           " tasks in flight, the endpoint's max_tasks");
  else if (u.bytes + bytes > max_bytes_)
    refused = Status::Busy("client " + client + " holds " + std::to_string(u.bytes) +
                           " bytes in flight; " + std::to_string(bytes) +
                           " more would pass the endpoint's max_memory (" +
                           std::to_string(max_bytes_) + ")");
  if (!refused.ok()) {
    if (u.tasks == 0) use_.erase(client);
    return refused;
  }
  ++u.tasks;
  u.bytes += bytes;
  return Status::OK();
}

Status ClientLimits::Charge(const std::string& client, uint64_t bytes) {
  std::lock_guard lock(mu_);
  Use& u = use_[client];
  if (u.bytes + bytes > max_bytes_)
    return Status::Busy("client " + client + " would hold " + std::to_string(u.bytes + bytes) +
                        " bytes in flight, over the endpoint's max_memory (" +
                        std::to_string(max_bytes_) + ")");
  u.bytes += bytes;
  return Status::OK();
}

void ClientLimits::Release(const std::string& client, uint64_t bytes) {
  std::lock_guard lock(mu_);
  auto it = use_.find(client);
  if (it == use_.end()) return;
  it->second.bytes -= std::min(bytes, it->second.bytes);
  if (it->second.tasks > 0) --it->second.tasks;
  if (it->second.tasks == 0) use_.erase(it);
}

}  // namespace overlay::endpoint
