// SPDX-License-Identifier: Apache-2.0
#include "manager_data_server.h"

#include <optional>
#include <utility>

#include "overlay/object_key.h"
#include "overlay/transport/bulk.h"
#include "overlay/transport/wire.h"

namespace overlay::manager {

Result<std::unique_ptr<DataServer>> DataServer::Create(const std::string& address,
                                                       const transport::ChannelOptions& channel,
                                                       ObjectStore* store) {
  auto server = transport::Listen(address, channel);
  if (!server.ok()) return server.status();
  return std::unique_ptr<DataServer>(new DataServer(std::move(*server), store));
}

void DataServer::Grant(const std::string& peer_key, const std::vector<std::string>& keys) {
  std::lock_guard lock(mu_);
  for (const std::string& k : keys) ++grants_[peer_key + '\n' + k];
}

void DataServer::Revoke(const std::string& peer_key, const std::vector<std::string>& keys) {
  std::lock_guard lock(mu_);
  for (const std::string& k : keys) {
    auto it = grants_.find(peer_key + '\n' + k);
    if (it != grants_.end() && --it->second <= 0) grants_.erase(it);
  }
}

bool DataServer::Granted(const std::string& peer_key, const std::string& key) {
  std::lock_guard lock(mu_);
  return grants_.contains(peer_key + '\n' + key);
}

void DataServer::Serve(const transport::ServerChannel::Request& req) {
  const wire::Envelope* env = req.message.envelope_view();
  if (env->message_type() != wire::Message::Fetch) {
    (void)channel_->Reply(
        req.peer,
        transport::MakeMessage(transport::EncodeError(
            env->request_id(), Status::InvalidArgument("a data server serves Fetch only"))));
    return;
  }
  auto fetch = transport::DecodeFetch(*env);
  Result<Blob> object = Status::NotFound("no store");
  std::optional<ObjectKey> key;
  if (fetch.ok()) key = ObjectKey::FromHex(fetch->key);
  if (fetch.ok() && !key) object = Status::InvalidArgument("malformed object key");
  if (key && !Granted(req.client_key, fetch->key))
    object = Status::InvalidArgument("object " + fetch->key +
                                     " is not an input of a task in flight to this peer");
  else if (key && store_ != nullptr)
    object = store_->Get(*key);
  (void)transport::ServeFetch(*channel_, req, object);
}

}  // namespace overlay::manager
