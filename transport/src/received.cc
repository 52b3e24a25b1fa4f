// SPDX-License-Identifier: Apache-2.0
#include "received.h"

#include <cstring>
#include <memory>
#include <vector>

namespace overlay::transport::detail {

Result<Message> CheckReceived(Blob envelope, Blob attachment, const WireLimits& limits) {
  if (envelope.size() > limits.max_envelope_bytes) {
    return Status::InvalidArgument("envelope of " + std::to_string(envelope.size()) +
                                   " bytes exceeds the limit");
  }
  if (reinterpret_cast<uintptr_t>(envelope.data()) % alignof(uint64_t) != 0) {
    // Small frames may sit unaligned inside the transport's message; copy once.
    auto words = std::make_shared<std::vector<uint64_t>>((envelope.size() + 7) / 8);
    std::memcpy(words->data(), envelope.data(), envelope.size());
    std::string_view view(reinterpret_cast<const char*>(words->data()), envelope.size());
    envelope = Blob(std::move(words), view);
  }
  auto env = VerifyEnvelope(std::as_bytes(std::span(envelope.data(), envelope.size())), limits);
  if (!env.ok()) return env.status();
  if ((*env)->attachment_size() != attachment.size()) {
    return Status::Corruption("attachment of " + std::to_string(attachment.size()) +
                              " bytes, envelope announced " +
                              std::to_string((*env)->attachment_size()));
  }
  return Message{std::move(envelope), std::move(attachment)};
}

std::string WildcardPort(std::string_view address) {
  std::string a(address);
  if (a.size() > 2 && a.ends_with(":0")) a.replace(a.size() - 1, 1, "*");
  return a;
}

}  // namespace overlay::transport::detail
