// SPDX-License-Identifier: Apache-2.0
#include "overlay/transport/bulk.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

namespace overlay::transport {
namespace {

Status SendFetch(ClientChannel& channel, std::string_view key, uint64_t offset, uint64_t length) {
  return channel.Send(MakeMessage(EncodeFetch(offset, Fetch{std::string(key), offset, length})));
}

// A verified Data reply for `key`, or the reason it is not one.
Result<DataHeader> ExpectData(const Message& reply, std::string_view key) {
  OVERLAY_RETURN_IF_ERROR(ReplyStatus(reply));
  auto header = DecodeDataHeader(*reply.envelope_view());
  if (!header.ok()) return header.status();
  if (header->key != key) return Status::Corruption("Data for another key: " + header->key);
  return header;
}

// The chunk's bytes: the attachment, or inline bytes when no attachment came.
std::string_view ChunkBytes(const Message& reply) {
  if (!reply.attachment.empty()) return reply.attachment.view();
  const auto* bytes = reply.envelope_view()->message_as_Data()->bytes();
  if (bytes == nullptr) return {};
  return {reinterpret_cast<const char*>(bytes->data()), bytes->size()};
}

}  // namespace

Result<Blob> FetchObject(ClientChannel& channel, std::string_view key, const BulkOptions& options) {
  const uint64_t chunk = std::max<size_t>(options.chunk_bytes, 1);
  OVERLAY_RETURN_IF_ERROR(SendFetch(channel, key, 0, chunk));
  auto first = channel.Receive(options.timeout);
  if (!first.ok()) return first.status();
  auto header = ExpectData(*first, key);
  if (!header.ok()) return header.status();
  std::string_view bytes = ChunkBytes(*first);
  const uint64_t total = header->total;
  if (header->offset != 0 || bytes.size() > total) return Status::Corruption("bad first chunk");
  if (bytes.size() == total) {
    return first->attachment.empty() ? Blob::FromString(std::string(bytes)) : first->attachment;
  }
  if (bytes.empty()) return Status::Corruption("empty chunk of a non-empty object");

  // Not zeroed: the chunks fill it (checked below).
  std::shared_ptr<char[]> buffer = std::make_shared_for_overwrite<char[]>(total);
  std::memcpy(buffer.get(), bytes.data(), bytes.size());
  const uint64_t step = bytes.size();
  uint64_t next = step;      // next offset to request
  uint64_t received = step;  // bytes placed so far
  int in_flight = 0;
  while (received < total) {
    while (in_flight < options.window && next < total) {
      OVERLAY_RETURN_IF_ERROR(SendFetch(channel, key, next, std::min(step, total - next)));
      next += step;
      ++in_flight;
    }
    auto reply = channel.Receive(options.timeout);
    if (!reply.ok()) return reply.status();
    --in_flight;
    auto h = ExpectData(*reply, key);
    if (!h.ok()) return h.status();
    std::string_view part = ChunkBytes(*reply);
    // Replies come in request order, each the whole chunk asked for, so
    // every byte of the buffer is written exactly once.
    if (h->total != total || h->offset != received ||
        part.size() != std::min(step, total - received)) {
      return Status::Corruption("chunk not the one requested");
    }
    std::memcpy(buffer.get() + received, part.data(), part.size());
    received += part.size();
  }
  std::string_view view(buffer.get(), total);
  return Blob(std::move(buffer), view);
}

Status ServeFetch(ServerChannel& server, const ServerChannel::Request& request,
                  const Result<Blob>& object) {
  const wire::Envelope* env = request.message.envelope_view();
  const uint64_t id = env->request_id();
  auto fetch = DecodeFetch(*env);
  if (!fetch.ok()) return server.Reply(request.peer, MakeMessage(EncodeError(id, fetch.status())));
  if (!object.ok())
    return server.Reply(request.peer, MakeMessage(EncodeError(id, object.status())));
  const uint64_t total = object->size();
  if (fetch->offset > total) {
    return server.Reply(
        request.peer, MakeMessage(EncodeError(id, Status::InvalidArgument("offset past the end"))));
  }
  uint64_t length = total - fetch->offset;
  if (fetch->length != 0) length = std::min(length, fetch->length);
  Blob part(std::shared_ptr<const void>(std::make_shared<Blob>(*object)),
            object->view().substr(fetch->offset, length));
  return server.Reply(
      request.peer,
      MakeMessage(EncodeData(id, DataHeader{fetch->key, fetch->offset, total}, {}, length),
                  std::move(part)));
}

}  // namespace overlay::transport
