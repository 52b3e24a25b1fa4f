// SPDX-License-Identifier: Apache-2.0
#include "overlay/transport/channel.h"

#include "fabric_channel.h"
#include "zmq_channel.h"

namespace overlay::transport {
namespace {

enum class Kind { kZmq, kFabric, kUnknown };

Kind KindOf(std::string_view address) {
  for (std::string_view s : {"tcp://", "ipc://", "inproc://"}) {
    if (address.starts_with(s)) return Kind::kZmq;
  }
  if (address.starts_with("fabric://")) return Kind::kFabric;
  return Kind::kUnknown;
}

Status UnknownScheme(std::string_view address) {
  return Status::InvalidArgument("unknown address scheme in '" + std::string(address) +
                                 "' (expected tcp://, ipc://, inproc:// or fabric://)");
}

}  // namespace

Message MakeMessage(Blob envelope, Blob attachment) {
  return Message{std::move(envelope), std::move(attachment)};
}

Result<Message> ClientChannel::Call(const Message& msg, std::chrono::milliseconds timeout) {
  OVERLAY_RETURN_IF_ERROR(Send(msg));
  return Receive(timeout);
}

Status ReplyStatus(const Message& reply) {
  const wire::Envelope* env = reply.envelope_view();
  if (env->message_type() != wire::Message::Error) return Status::OK();
  return DecodeError(*env);
}

Result<std::unique_ptr<ClientChannel>> Connect(std::string_view address,
                                               const ChannelOptions& options) {
  switch (KindOf(address)) {
    case Kind::kZmq:
      return detail::ConnectZmq(address, options);
    case Kind::kFabric:
      return detail::ConnectFabric(address, options);
    case Kind::kUnknown:
      break;
  }
  return UnknownScheme(address);
}

Result<std::unique_ptr<ServerChannel>> Listen(std::string_view address,
                                              const ChannelOptions& options) {
  switch (KindOf(address)) {
    case Kind::kZmq:
      return detail::ListenZmq(address, options);
    case Kind::kFabric:
      return detail::ListenFabric(address, options);
    case Kind::kUnknown:
      break;
  }
  return UnknownScheme(address);
}

}  // namespace overlay::transport
