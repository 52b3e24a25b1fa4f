// SPDX-License-Identifier: Apache-2.0
#include "endpoint_probe.h"

#include "overlay/endpoint_server.h"
#include "overlay/transport/channel.h"

namespace overlay {

Result<transport::Heartbeat> ProbeEndpoint(const PipelineSpec& spec, const EndpointDecl& e,
                                           std::chrono::milliseconds timeout, bool want_status) {
  transport::ChannelOptions options;
  options.curve_server_key = e.curve_public;
  if (!e.curve_public.empty() && !spec.client.curve_public.empty()) {
    auto secret = ReadCurveSecret(spec.client.curve_secret_file);
    if (!secret.ok()) return secret.status();
    options.curve_public_key = spec.client.curve_public;
    options.curve_secret_key = std::move(*secret);
  }
  auto channel = transport::Connect(e.address, options);
  if (!channel.ok()) return channel.status();
  transport::Heartbeat hb{"overlay-status", 1, 0, 0, want_status};
  auto reply = (*channel)->Call(transport::MakeMessage(transport::EncodeHeartbeat(1, hb)), timeout);
  if (!reply.ok()) return reply.status();
  OVERLAY_RETURN_IF_ERROR(transport::ReplyStatus(*reply));
  return transport::DecodeHeartbeat(*reply->envelope_view());
}

}  // namespace overlay
