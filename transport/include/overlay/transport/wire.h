// SPDX-License-Identifier: Apache-2.0
// The wire protocol in C++: plain structs mirroring the FlatBuffers messages of
// transport/schema/overlay_wire.fbs, builders that encode them into an Envelope, and
// VerifyEnvelope, the only way received bytes become readable.
//
// Thread-safety: free functions on values; safe to call concurrently.
#ifndef OVERLAY_TRANSPORT_WIRE_H_
#define OVERLAY_TRANSPORT_WIRE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "overlay/blob.h"
#include "overlay/schema/overlay_wire_generated.h"
#include "overlay/status.h"
#include "overlay/transport/traffic.h"

namespace overlay::transport {

inline constexpr uint16_t kProtocolVersion = static_cast<uint16_t>(wire::ProtocolVersion::Current);

// Bounds every received buffer is checked against before it is parsed.
struct WireLimits {
  // Largest envelope accepted (bulk bytes should travel as attachments). Default: 4 MiB.
  size_t max_envelope_bytes = size_t{4} << 20;
  // Largest attachment (one bulk chunk) accepted. Default: 256 MiB.
  size_t max_attachment_bytes = size_t{256} << 20;
  // FlatBuffers verifier nesting depth and table count. Defaults: 16, 100000.
  uint32_t max_depth = 16;
  uint32_t max_tables = 100000;
};

struct Invoke {
  uint64_t task_id = 0;
  std::string stage;
  std::string function;
  std::vector<std::string> inputs;  // object keys
  std::vector<std::string> args;
  std::string origin{};  // where the receiver may Fetch inputs it lacks; empty: nowhere
  std::string stream{};  // stateful functions: the item's stream; empty: stateless
  uint64_t seq = 0;
  bool end_of_stream = false;            // EndStream(stream) instead of Process
  std::vector<std::string> input_names{};  // file names, parallel to inputs (may be empty)
  uint64_t position = 0;  // stateful streams: items of the stream sent before this one
  bool replay = false;    // rebuild stream state only; no outputs kept
};

struct InvokeResult {
  uint64_t task_id = 0;
  Status status;
  std::vector<std::string> outputs;  // object keys
  std::vector<std::string> output_names{};  // file names, parallel to outputs
  std::map<std::string, int64_t> counters{};  // the task's counters, e.g. {"beats", 12}
  bool stream_mismatch = false;  // not run: the endpoint's stream state is elsewhere...
  uint64_t stream_position = 0;  // ...at this many items
};

struct Fetch {
  std::string key;
  uint64_t offset = 0;
  uint64_t length = 0;  // 0: to the end of the object
};

// Header of one chunk; its bytes travel inline or as the message attachment.
struct DataHeader {
  std::string key;
  uint64_t offset = 0;
  uint64_t total = 0;
};

// An endpoint's report of itself (wire::EndpointStatus). Tiers are indexed
// 0, 1, 2 for L1, L2, L3.
struct EndpointStatus {
  uint64_t started_ns = 0;  // process start, Unix nanoseconds
  uint64_t tasks_running = 0;
  uint64_t tasks_done = 0;
  uint64_t tasks_failed = 0;
  uint64_t queue_depth = 0;
  uint64_t l1_live_bytes = 0;
  uint64_t l1_capacity_bytes = 0;
  std::array<uint64_t, 3> tier_hits{};
  std::array<uint64_t, 3> tier_misses{};
  std::array<uint64_t, 3> tier_bytes{};  // bytes each tier served
  uint64_t l2_bytes = 0;                 // RocksDB's estimate of what L2 holds
  std::vector<Traffic> transports{};     // bytes moved per transport
};

struct Heartbeat {
  std::string sender;
  uint64_t sequence = 0;
  uint64_t timestamp_ns = 0;
  uint64_t incarnation = 0;  // random per endpoint process
  bool want_status = false;  // request: reply with `status`
  std::optional<EndpointStatus> status{};  // reply to a want_status request
};

// Encoders. Each returns a finished Envelope buffer (8-byte aligned, owned by the
// Blob) carrying `request_id`; `attachment_size` announces an out-of-band frame.
Blob EncodeInvoke(uint64_t request_id, const Invoke& m);
Blob EncodeResult(uint64_t request_id, const InvokeResult& m);
Blob EncodeFetch(uint64_t request_id, const Fetch& m);
// `inline_bytes` are copied into the envelope; pass {} and set `attachment_size`
// to send the chunk out of band instead.
Blob EncodeData(uint64_t request_id, const DataHeader& m, std::span<const std::byte> inline_bytes,
                uint64_t attachment_size);
Blob EncodeHeartbeat(uint64_t request_id, const Heartbeat& m);
// REQUIRES: !error.ok()
Blob EncodeError(uint64_t request_id, const Status& error);

// Checks `bytes` against `limits`, the FlatBuffers verifier, the file identifier
// and the protocol version. On success the pointer aims into `bytes` (which must
// outlive it). Errors: Corruption (malformed, misaligned), InvalidArgument (too
// large, unknown version).
Result<const wire::Envelope*> VerifyEnvelope(std::span<const std::byte> bytes,
                                             const WireLimits& limits);

// Decoders of verified envelopes. InvalidArgument when the envelope holds another type.
Result<Invoke> DecodeInvoke(const wire::Envelope& e);
Result<InvokeResult> DecodeResult(const wire::Envelope& e);
Result<Fetch> DecodeFetch(const wire::Envelope& e);
Result<DataHeader> DecodeDataHeader(const wire::Envelope& e);
Result<Heartbeat> DecodeHeartbeat(const wire::Envelope& e);
// The Status an Error envelope carries (never OK); InvalidArgument for other types.
Status DecodeError(const wire::Envelope& e);

wire::StatusCode ToWire(Status::Code code);
Status FromWire(wire::StatusCode code, std::string_view message);

}  // namespace overlay::transport

#endif  // OVERLAY_TRANSPORT_WIRE_H_
