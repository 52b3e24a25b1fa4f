// SPDX-License-Identifier: Apache-2.0
// Internal: libfabric RDM channels behind channel.h.
#ifndef OVERLAY_TRANSPORT_SRC_FABRIC_CHANNEL_H_
#define OVERLAY_TRANSPORT_SRC_FABRIC_CHANNEL_H_

#include "overlay/transport/channel.h"

namespace overlay::transport::detail {

Result<std::unique_ptr<ClientChannel>> ConnectFabric(std::string_view address,
                                                     const ChannelOptions& options);
Result<std::unique_ptr<ServerChannel>> ListenFabric(std::string_view address,
                                                    const ChannelOptions& options);

}  // namespace overlay::transport::detail

#endif  // OVERLAY_TRANSPORT_SRC_FABRIC_CHANNEL_H_
