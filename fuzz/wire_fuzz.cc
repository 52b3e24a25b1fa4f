// SPDX-License-Identifier: Apache-2.0
// Received bytes as an endpoint or function manager sees them: the verifier
// decides, then every decoder runs on what it accepted. A decoder must reject
// the wrong message type and read nothing the verifier did not check.
#include <cstddef>
#include <cstdint>
#include <span>

#include "overlay/transport/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace t = overlay::transport;
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  auto env = t::VerifyEnvelope(bytes, t::WireLimits{});
  if (!env.ok()) return 0;
  const auto& e = **env;
  (void)t::DecodeInvoke(e);
  (void)t::DecodeResult(e);
  (void)t::DecodeFetch(e);
  (void)t::DecodeDataHeader(e);
  (void)t::DecodeHeartbeat(e);
  (void)t::DecodeError(e);
  return 0;
}
