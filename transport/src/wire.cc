// SPDX-License-Identifier: Apache-2.0
#include "overlay/transport/wire.h"

#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

namespace overlay::transport {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// Envelopes up to this size are copied out of the thread's builder, which
// keeps its buffer; larger ones take the builder's buffer with them.
constexpr size_t kCopiedEnvelope = 4096;

// The calling thread's builder, cleared: a small message then allocates only
// its finished copy.
FlatBufferBuilder& Builder() {
  thread_local FlatBufferBuilder fbb(kCopiedEnvelope);
  fbb.Clear();
  return fbb;
}

// Finishes `fbb` as an Envelope in a Blob of its own, 8-byte aligned.
Blob Finish(FlatBufferBuilder& fbb, uint64_t request_id, wire::Message type, Offset<void> body,
            uint64_t attachment_size) {
  auto env = wire::CreateEnvelope(fbb, kProtocolVersion, request_id, attachment_size, type, body);
  wire::FinishEnvelopeBuffer(fbb, env);
  const size_t n = fbb.GetSize();
  if (n > kCopiedEnvelope) {
    auto owned = std::make_shared<flatbuffers::DetachedBuffer>(fbb.Release());
    std::string_view view(reinterpret_cast<const char*>(owned->data()), owned->size());
    return Blob(std::move(owned), view);
  }
  auto words = std::make_shared_for_overwrite<uint64_t[]>((n + 7) / 8);
  std::memcpy(words.get(), fbb.GetBufferPointer(), n);
  std::string_view view(reinterpret_cast<const char*>(words.get()), n);
  return Blob(std::shared_ptr<const void>(std::move(words)), view);
}

std::vector<std::string> Strings(const flatbuffers::Vector<Offset<flatbuffers::String>>* v) {
  std::vector<std::string> out;
  if (v == nullptr) return out;
  out.reserve(v->size());
  for (const auto* s : *v) out.emplace_back(s->string_view());
  return out;
}

std::string Str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

Status WrongType(const wire::Envelope& e, const char* want) {
  return Status::InvalidArgument(std::string("expected ") + want + " message, got " +
                                 wire::EnumNameMessage(e.message_type()));
}

// There are two; a status naming many more is not from a real endpoint.
constexpr size_t kMaxTransports = 8;

// One counter per tier, from a verified vector: absent is all zero; more
// than three, or misaligned (see DecodeResult), is Corruption.
Status TierCounts(const flatbuffers::Vector<uint64_t>* v, std::array<uint64_t, 3>* out) {
  if (v == nullptr) return Status::OK();
  if (v->size() > out->size()) return Status::Corruption("EndpointStatus names over 3 tiers");
  if (v->size() != 0 && reinterpret_cast<uintptr_t>(v->Data()) % alignof(uint64_t) != 0)
    return Status::Corruption("EndpointStatus tier counters are misaligned");
  for (size_t i = 0; i < v->size(); ++i) (*out)[i] = v->Get(i);
  return Status::OK();
}

}  // namespace

wire::StatusCode ToWire(Status::Code code) {
  return static_cast<wire::StatusCode>(static_cast<uint8_t>(code));
}

Status FromWire(wire::StatusCode code, std::string_view message) {
  switch (code) {
    case wire::StatusCode::Ok:
      return Status::OK();
    case wire::StatusCode::NotFound:
      return Status::NotFound(message);
    case wire::StatusCode::InvalidArgument:
      return Status::InvalidArgument(message);
    case wire::StatusCode::Corruption:
      return Status::Corruption(message);
    case wire::StatusCode::IOError:
      return Status::IOError(message);
    case wire::StatusCode::Timeout:
      return Status::Timeout(message);
    case wire::StatusCode::Unavailable:
      return Status::Unavailable(message);
    case wire::StatusCode::Busy:
      return Status::Busy(message);
    case wire::StatusCode::Failed:
      return Status::Failed(message);
  }
  return Status::Corruption(std::string("unknown status code: ") + std::string(message));
}

Blob EncodeInvoke(uint64_t request_id, const Invoke& m) {
  FlatBufferBuilder& fbb = Builder();
  auto stage = fbb.CreateString(m.stage);
  auto function = fbb.CreateString(m.function);
  auto inputs = fbb.CreateVectorOfStrings(m.inputs);
  auto args = fbb.CreateVectorOfStrings(m.args);
  auto origin = fbb.CreateString(m.origin);
  auto stream = fbb.CreateString(m.stream);
  auto names = fbb.CreateVectorOfStrings(m.input_names);
  auto inv = wire::CreateInvoke(fbb, m.task_id, stage, function, inputs, args, origin, stream,
                                m.seq, m.end_of_stream, names, m.position, m.replay);
  return Finish(fbb, request_id, wire::Message::Invoke, inv.Union(), 0);
}

Blob EncodeResult(uint64_t request_id, const InvokeResult& m) {
  FlatBufferBuilder& fbb = Builder();
  auto outputs = fbb.CreateVectorOfStrings(m.outputs);
  auto error = fbb.CreateString(m.status.message());
  auto names = fbb.CreateVectorOfStrings(m.output_names);
  std::vector<std::string> counter_names;
  std::vector<int64_t> counter_values;
  for (const auto& [name, value] : m.counters) {
    counter_names.push_back(name);
    counter_values.push_back(value);
  }
  auto cnames = fbb.CreateVectorOfStrings(counter_names);
  auto cvalues = fbb.CreateVector(counter_values);
  auto res = wire::CreateResult(fbb, m.task_id, ToWire(m.status.code()), outputs, error, names,
                                cnames, cvalues, m.stream_mismatch, m.stream_position);
  return Finish(fbb, request_id, wire::Message::Result, res.Union(), 0);
}

Blob EncodeFetch(uint64_t request_id, const Fetch& m) {
  FlatBufferBuilder& fbb = Builder();
  auto f = wire::CreateFetchDirect(fbb, m.key.c_str(), m.offset, m.length);
  return Finish(fbb, request_id, wire::Message::Fetch, f.Union(), 0);
}

Blob EncodeData(uint64_t request_id, const DataHeader& m, std::span<const std::byte> inline_bytes,
                uint64_t attachment_size) {
  FlatBufferBuilder& fbb = Builder();
  auto key = fbb.CreateString(m.key);
  Offset<flatbuffers::Vector<uint8_t>> bytes;
  if (!inline_bytes.empty()) {
    bytes = fbb.CreateVector(reinterpret_cast<const uint8_t*>(inline_bytes.data()),
                             inline_bytes.size());
  }
  auto d = wire::CreateData(fbb, key, m.offset, m.total, bytes);
  return Finish(fbb, request_id, wire::Message::Data, d.Union(), attachment_size);
}

Blob EncodeHeartbeat(uint64_t request_id, const Heartbeat& m) {
  FlatBufferBuilder& fbb = Builder();
  Offset<wire::EndpointStatus> status;
  if (m.status) {
    const EndpointStatus& st = *m.status;
    auto hits = fbb.CreateVector(st.tier_hits.data(), st.tier_hits.size());
    auto misses = fbb.CreateVector(st.tier_misses.data(), st.tier_misses.size());
    auto bytes = fbb.CreateVector(st.tier_bytes.data(), st.tier_bytes.size());
    std::vector<Offset<wire::TransportBytes>> moved;
    for (const Traffic& t : st.transports)
      moved.push_back(wire::CreateTransportBytesDirect(fbb, t.transport.c_str(), t.sent_bytes,
                                                       t.received_bytes));
    auto transports = fbb.CreateVector(moved);
    status = wire::CreateEndpointStatus(fbb, st.started_ns, st.tasks_running, st.tasks_done,
                                        st.tasks_failed, st.queue_depth, st.l1_live_bytes,
                                        st.l1_capacity_bytes, hits, misses, bytes, st.l2_bytes,
                                        transports);
  }
  auto h = wire::CreateHeartbeatDirect(fbb, m.sender.c_str(), m.sequence, m.timestamp_ns,
                                       m.incarnation, m.want_status, status);
  return Finish(fbb, request_id, wire::Message::Heartbeat, h.Union(), 0);
}

Blob EncodeError(uint64_t request_id, const Status& error) {
  FlatBufferBuilder& fbb = Builder();
  auto msg = fbb.CreateString(error.message());
  auto e = wire::CreateError(fbb, ToWire(error.code()), msg);
  return Finish(fbb, request_id, wire::Message::Error, e.Union(), 0);
}

Result<const wire::Envelope*> VerifyEnvelope(std::span<const std::byte> bytes,
                                             const WireLimits& limits) {
  if (bytes.size() > limits.max_envelope_bytes) {
    return Status::InvalidArgument("envelope of " + std::to_string(bytes.size()) +
                                   " bytes exceeds the limit of " +
                                   std::to_string(limits.max_envelope_bytes));
  }
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  if (reinterpret_cast<uintptr_t>(data) % alignof(uint64_t) != 0) {
    return Status::Corruption("envelope buffer is not 8-byte aligned");
  }
  if (bytes.size() < sizeof(flatbuffers::uoffset_t) + flatbuffers::kFileIdentifierLength ||
      !wire::EnvelopeBufferHasIdentifier(data)) {
    return Status::Corruption("not an Overlay envelope (bad size or identifier)");
  }
  flatbuffers::Verifier verifier(data, bytes.size(), limits.max_depth, limits.max_tables);
  if (!wire::VerifyEnvelopeBuffer(verifier)) {
    return Status::Corruption("envelope failed FlatBuffers verification");
  }
  const wire::Envelope* env = wire::GetEnvelope(data);
  if (env->version() != kProtocolVersion) {
    return Status::InvalidArgument("unsupported protocol version " +
                                   std::to_string(env->version()));
  }
  // The verifier accepts a union whose value is absent; readers must not.
  if (env->message_type() == wire::Message::NONE || env->message() == nullptr) {
    return Status::Corruption("envelope carries no message");
  }
  if (env->attachment_size() > limits.max_attachment_bytes) {
    return Status::InvalidArgument("announced attachment exceeds the limit");
  }
  return env;
}

Result<Invoke> DecodeInvoke(const wire::Envelope& e) {
  const auto* m = e.message_as_Invoke();
  if (m == nullptr) return WrongType(e, "Invoke");
  return Invoke{m->task_id(),        Str(m->stage()),         Str(m->function()),
                Strings(m->inputs()), Strings(m->args()),      Str(m->origin()),
                Str(m->stream()),     m->seq(),                m->end_of_stream(),
                Strings(m->input_names()), m->position(),       m->replay()};
}

Result<InvokeResult> DecodeResult(const wire::Envelope& e) {
  const auto* m = e.message_as_Result();
  if (m == nullptr) return WrongType(e, "Result");
  InvokeResult r{m->task_id(), FromWire(m->status(), Str(m->error_message())),
                 Strings(m->outputs()), Strings(m->output_names()), {}, m->stream_mismatch(),
                 m->stream_position()};
  std::vector<std::string> names = Strings(m->counter_names());
  const auto* values = m->counter_values();
  // FlatBuffers 2.0's verifier checks a vector's length word, not that its
  // 8-byte elements are aligned; a builder aligns every non-empty one.
  if (values != nullptr && values->size() != 0 &&
      reinterpret_cast<uintptr_t>(values->Data()) % alignof(int64_t) != 0)
    return Status::Corruption("Result counter_values are misaligned");
  const size_t n = values == nullptr ? 0 : std::min<size_t>(names.size(), values->size());
  for (size_t i = 0; i < n; ++i)
    if (!r.counters.emplace(names[i], values->Get(i)).second)
      return Status::Corruption("Result names counter '" + names[i] + "' twice");
  return r;
}

Result<Fetch> DecodeFetch(const wire::Envelope& e) {
  const auto* m = e.message_as_Fetch();
  if (m == nullptr) return WrongType(e, "Fetch");
  return Fetch{Str(m->key()), m->offset(), m->length()};
}

Result<DataHeader> DecodeDataHeader(const wire::Envelope& e) {
  const auto* m = e.message_as_Data();
  if (m == nullptr) return WrongType(e, "Data");
  return DataHeader{Str(m->key()), m->offset(), m->total()};
}

Result<Heartbeat> DecodeHeartbeat(const wire::Envelope& e) {
  const auto* m = e.message_as_Heartbeat();
  if (m == nullptr) return WrongType(e, "Heartbeat");
  Heartbeat hb{Str(m->sender()), m->sequence(), m->timestamp_ns(), m->incarnation(),
               m->want_status()};
  if (const wire::EndpointStatus* st = m->status()) {
    EndpointStatus out{st->started_ns(),   st->tasks_running(),  st->tasks_done(),
                       st->tasks_failed(), st->queue_depth(),    st->l1_live_bytes(),
                       st->l1_capacity_bytes()};
    OVERLAY_RETURN_IF_ERROR(TierCounts(st->tier_hits(), &out.tier_hits));
    OVERLAY_RETURN_IF_ERROR(TierCounts(st->tier_misses(), &out.tier_misses));
    OVERLAY_RETURN_IF_ERROR(TierCounts(st->tier_bytes(), &out.tier_bytes));
    out.l2_bytes = st->l2_bytes();
    if (const auto* moved = st->transports()) {
      if (moved->size() > kMaxTransports)
        return Status::Corruption("EndpointStatus names over 8 transports");
      for (const wire::TransportBytes* t : *moved)
        out.transports.push_back({Str(t->transport()), t->sent(), t->received()});
    }
    hb.status = out;
  }
  return hb;
}

Status DecodeError(const wire::Envelope& e) {
  const auto* m = e.message_as_Error();
  if (m == nullptr) return WrongType(e, "Error");
  Status s = FromWire(m->code(), Str(m->message()));
  if (s.ok()) return Status::Corruption("Error message with code Ok");
  return s;
}

}  // namespace overlay::transport
