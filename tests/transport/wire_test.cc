// SPDX-License-Identifier: Apache-2.0
#include "overlay/transport/wire.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <vector>

namespace overlay::transport {
namespace {

// An aligned copy of bytes, so tests control alignment explicitly.
struct Buffer {
  explicit Buffer(std::string_view bytes) : words((bytes.size() + 7) / 8 + 1) {
    std::memcpy(words.data(), bytes.data(), bytes.size());
    size = bytes.size();
  }
  std::span<const std::byte> span(size_t n) const {
    return {reinterpret_cast<const std::byte*>(words.data()), n};
  }
  std::vector<uint64_t> words;
  size_t size;
};

Result<const wire::Envelope*> Verify(const Blob& b, const WireLimits& limits = {}) {
  return VerifyEnvelope(std::as_bytes(std::span(b.data(), b.size())), limits);
}

TEST(WireTest, InvokeRoundTrip) {
  Invoke in{42, "stage2", "qrsdetector", {"k1", "k2"}, {"--fast"}};
  Blob b = EncodeInvoke(7, in);
  auto env = Verify(b);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ((*env)->request_id(), 7u);
  EXPECT_EQ((*env)->version(), kProtocolVersion);
  auto out = DecodeInvoke(**env);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->task_id, 42u);
  EXPECT_EQ(out->stage, "stage2");
  EXPECT_EQ(out->function, "qrsdetector");
  EXPECT_EQ(out->inputs, (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(out->args, (std::vector<std::string>{"--fast"}));
  EXPECT_TRUE(DecodeResult(**env).status().IsInvalidArgument());
}

TEST(WireTest, InvokeAppendedFieldsRoundTrip) {
  Invoke in{9,  "qrs", "detect", {"k1"}, {}, "tcp://127.0.0.1:5000", "101", 17, true, {"a.txt"},
            16, true};
  Blob b = EncodeInvoke(1, in);
  auto env = Verify(b);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  auto out = DecodeInvoke(**env);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->origin, "tcp://127.0.0.1:5000");
  EXPECT_EQ(out->stream, "101");
  EXPECT_EQ(out->seq, 17u);
  EXPECT_TRUE(out->end_of_stream);
  EXPECT_EQ(out->input_names, std::vector<std::string>{"a.txt"});
  EXPECT_EQ(out->position, 16u);
  EXPECT_TRUE(out->replay);

  Blob r = EncodeResult(
      1,
      InvokeResult{
          9, Status::OK(), {"o1", "o2"}, {"x.txt", "y.txt"}, {{"beats", -3}, {"n", 7}}, true, 5});
  auto renv = Verify(r);
  ASSERT_TRUE(renv.ok());
  auto res = DecodeResult(**renv);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->output_names, (std::vector<std::string>{"x.txt", "y.txt"}));
  EXPECT_EQ(res->counters, (std::map<std::string, int64_t>{{"beats", -3}, {"n", 7}}));
  EXPECT_TRUE(res->stream_mismatch);
  EXPECT_EQ(res->stream_position, 5u);
}

TEST(WireTest, ResultRoundTripCarriesStatus) {
  Blob ok = EncodeResult(1, InvokeResult{5, Status::OK(), {"out"}});
  auto env = Verify(ok);
  ASSERT_TRUE(env.ok());
  auto r = DecodeResult(**env);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->task_id, 5u);
  EXPECT_TRUE(r->status.ok());
  EXPECT_EQ(r->outputs, std::vector<std::string>{"out"});

  Blob failed = EncodeResult(2, InvokeResult{6, Status::Failed("exit code 3"), {}});
  auto env2 = Verify(failed);
  ASSERT_TRUE(env2.ok());
  auto r2 = DecodeResult(**env2);
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->status.IsFailed());
  EXPECT_EQ(r2->status.message(), "exit code 3");
}

TEST(WireTest, FetchDataHeartbeatErrorRoundTrip) {
  // Each envelope view points into its Blob, so the Blobs are kept.
  Blob fetch_blob = EncodeFetch(3, Fetch{"key", 10, 20});
  auto f = Verify(fetch_blob);
  ASSERT_TRUE(f.ok());
  auto fetch = DecodeFetch(**f);
  ASSERT_TRUE(fetch.ok());
  EXPECT_EQ(fetch->key, "key");
  EXPECT_EQ(fetch->offset, 10u);
  EXPECT_EQ(fetch->length, 20u);

  const std::string bytes = "chunk-bytes";
  Blob data_blob = EncodeData(4, DataHeader{"key", 100, 1000}, std::as_bytes(std::span(bytes)), 0);
  auto d = Verify(data_blob);
  ASSERT_TRUE(d.ok());
  auto header = DecodeDataHeader(**d);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->offset, 100u);
  EXPECT_EQ(header->total, 1000u);
  const auto* inline_bytes = (*d)->message_as_Data()->bytes();
  ASSERT_NE(inline_bytes, nullptr);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(inline_bytes->data()), inline_bytes->size()),
            bytes);

  Blob header_blob = EncodeData(5, DataHeader{"key", 0, 1 << 20}, {}, 1 << 20);
  auto d2 = Verify(header_blob);
  ASSERT_TRUE(d2.ok());
  EXPECT_EQ((*d2)->attachment_size(), 1u << 20);

  Blob heartbeat_blob = EncodeHeartbeat(6, Heartbeat{"fog", 9, 123, 0xfeedu});
  auto h = Verify(heartbeat_blob);
  ASSERT_TRUE(h.ok());
  auto hb = DecodeHeartbeat(**h);
  ASSERT_TRUE(hb.ok());
  EXPECT_EQ(hb->sender, "fog");
  EXPECT_EQ(hb->sequence, 9u);
  EXPECT_EQ(hb->timestamp_ns, 123u);
  EXPECT_EQ(hb->incarnation, 0xfeedu);

  Blob error_blob = EncodeError(8, Status::NotFound("no such key"));
  auto e = Verify(error_blob);
  ASSERT_TRUE(e.ok());
  Status carried = DecodeError(**e);
  EXPECT_TRUE(carried.IsNotFound());
  EXPECT_EQ(carried.message(), "no such key");
  EXPECT_TRUE(DecodeError(**h).IsInvalidArgument());
}

// Cutting into the message is rejected; only trailing padding may go unnoticed,
// and then the decoded content must be intact.
TEST(WireTest, HeartbeatStatusRoundTrip) {
  Heartbeat ask{"overlay-status", 1, 0, 0, /*want_status=*/true};
  const Blob ask_blob = EncodeHeartbeat(1, ask);  // Verify's view must not outlive it
  auto asked = Verify(ask_blob);
  ASSERT_TRUE(asked.ok());
  EXPECT_TRUE(DecodeHeartbeat(**asked)->want_status);
  EXPECT_FALSE(DecodeHeartbeat(**asked)->status.has_value());

  EndpointStatus st{100,          2,          30, 4, 5, 1024, 4096, {7, 8, 9}, {1, 2, 3},
                    {70, 80, 90}, 1u << 20, {{"zeromq", 500, 600}, {"libfabric", 0, 7}}};
  Heartbeat reply{"fog", 1, 200, 0xabcu, false, st};
  Blob b = EncodeHeartbeat(1, reply);
  auto env = Verify(b);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  auto hb = DecodeHeartbeat(**env);
  ASSERT_TRUE(hb.ok());
  ASSERT_TRUE(hb->status.has_value());
  EXPECT_EQ(hb->status->started_ns, 100u);
  EXPECT_EQ(hb->status->tasks_running, 2u);
  EXPECT_EQ(hb->status->tasks_done, 30u);
  EXPECT_EQ(hb->status->tasks_failed, 4u);
  EXPECT_EQ(hb->status->queue_depth, 5u);
  EXPECT_EQ(hb->status->l1_live_bytes, 1024u);
  EXPECT_EQ(hb->status->l1_capacity_bytes, 4096u);
  EXPECT_EQ(hb->status->tier_hits, (std::array<uint64_t, 3>{7, 8, 9}));
  EXPECT_EQ(hb->status->tier_misses, (std::array<uint64_t, 3>{1, 2, 3}));
  EXPECT_EQ(hb->status->tier_bytes, (std::array<uint64_t, 3>{70, 80, 90}));
  EXPECT_EQ(hb->status->l2_bytes, 1u << 20);
  ASSERT_EQ(hb->status->transports.size(), 2u);
  EXPECT_EQ(hb->status->transports[0].transport, "zeromq");
  EXPECT_EQ(hb->status->transports[0].sent_bytes, 500u);
  EXPECT_EQ(hb->status->transports[0].received_bytes, 600u);
  EXPECT_EQ(hb->status->transports[1].transport, "libfabric");
  EXPECT_EQ(hb->status->transports[1].received_bytes, 7u);
  // Every truncation of a status reply is refused by the verifier or reads back intact.
  Buffer buf(std::string_view(b.data(), b.size()));
  for (size_t n = 0; n < b.size(); ++n) {
    auto cut = VerifyEnvelope(buf.span(n), {});
    if (cut.ok()) {
      EXPECT_TRUE(DecodeHeartbeat(**cut).ok());
    }
  }
}

TEST(WireTest, StatusWithFourTiersIsCorruption) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<uint64_t> four = {1, 2, 3, 4};
  auto st = wire::CreateEndpointStatus(fbb, 0, 0, 0, 0, 0, 0, 0, fbb.CreateVector(four));
  auto hb = wire::CreateHeartbeatDirect(fbb, "x", 1, 1, 0, false, st);
  wire::FinishEnvelopeBuffer(
      fbb, wire::CreateEnvelope(fbb, kProtocolVersion, 0, 0, wire::Message::Heartbeat, hb.Union()));
  Buffer buf(std::string_view(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize()));
  auto env = VerifyEnvelope(buf.span(fbb.GetSize()), {});
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(DecodeHeartbeat(**env).status().IsCorruption());
}

TEST(WireTest, TruncatedBuffersAreRejectedOrIntact) {
  const Invoke in{1, "s", "f", {"a", "b", "c"}, {"x"}};
  Blob b = EncodeInvoke(1, in);
  Buffer buf(b.view());
  size_t rejected = 0;
  for (size_t n = 0; n < b.size(); ++n) {
    auto env = VerifyEnvelope(buf.span(n), WireLimits{});
    if (!env.ok()) {
      ++rejected;
      continue;
    }
    auto out = DecodeInvoke(**env);
    ASSERT_TRUE(out.ok()) << n;
    EXPECT_EQ(out->stage, in.stage);
    EXPECT_EQ(out->inputs, in.inputs);
    EXPECT_EQ(out->args, in.args);
  }
  EXPECT_GE(rejected, b.size() - 8) << "more than padding was cut without notice";
  EXPECT_TRUE(VerifyEnvelope(buf.span(b.size()), WireLimits{}).ok());
}

TEST(WireTest, RandomBuffersAreRejectedWithoutCrashing) {
  std::mt19937_64 rng(12345);
  std::vector<uint64_t> words(512);
  int accepted = 0;
  for (int i = 0; i < 2000; ++i) {
    for (auto& w : words) w = rng();
    size_t n = rng() % (words.size() * 8);
    auto env = VerifyEnvelope({reinterpret_cast<const std::byte*>(words.data()), n}, WireLimits{});
    accepted += env.ok();
  }
  // Random bytes lack the "OVLW" identifier (and much more).
  EXPECT_EQ(accepted, 0);
}

TEST(WireTest, CorruptedValidBuffersNeverCrashDecoding) {
  Blob b = EncodeInvoke(1, Invoke{1, "stage", "function", {"k1", "k2"}, {"arg"}});
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    Buffer buf(b.view());
    auto* bytes = reinterpret_cast<uint8_t*>(buf.words.data());
    for (int flips = 0; flips < 4; ++flips) bytes[rng() % b.size()] ^= uint8_t(1u << (rng() % 8));
    auto env = VerifyEnvelope(buf.span(b.size()), WireLimits{});
    if (!env.ok()) continue;
    // Whatever verified must be safe to decode fully.
    if ((*env)->message_type() == wire::Message::Invoke) {
      auto inv = DecodeInvoke(**env);
      EXPECT_TRUE(inv.ok());
    }
  }
}

TEST(WireTest, OversizedMisalignedAndWrongVersionAreRejected) {
  Blob b = EncodeInvoke(1, Invoke{1, "s", "f", {}, {}});
  WireLimits tight;
  tight.max_envelope_bytes = b.size() - 1;
  EXPECT_TRUE(Verify(b, tight).status().IsInvalidArgument());

  WireLimits small_attachment;
  small_attachment.max_attachment_bytes = 10;
  EXPECT_TRUE(Verify(EncodeData(1, DataHeader{"k", 0, 11}, {}, 11), small_attachment)
                  .status()
                  .IsInvalidArgument());

  std::vector<uint64_t> words(b.size() / 8 + 2);
  auto* misaligned = reinterpret_cast<std::byte*>(words.data()) + 1;
  std::memcpy(misaligned, b.data(), b.size());
  EXPECT_TRUE(VerifyEnvelope({misaligned, b.size()}, WireLimits{}).status().IsCorruption());

  flatbuffers::FlatBufferBuilder fbb;
  auto hb = wire::CreateHeartbeatDirect(fbb, "x", 1, 1);
  fbb.Finish(
      wire::CreateEnvelope(fbb, kProtocolVersion + 1, 0, 0, wire::Message::Heartbeat, hb.Union()),
      wire::EnvelopeIdentifier());
  Buffer future(
      std::string_view(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize()));
  auto env = VerifyEnvelope(future.span(future.size), WireLimits{});
  EXPECT_TRUE(env.status().IsInvalidArgument()) << env.status().ToString();
}

// Found by fuzz_wire: a Result naming one counter twice (summing the values
// overflowed); an encoder writes each name once, so it is refused.
TEST(WireTest, DuplicateCounterNamesAreCorruption) {
  flatbuffers::FlatBufferBuilder fbb;
  auto names = fbb.CreateVectorOfStrings({"beats", "beats"});
  auto values = fbb.CreateVector(std::vector<int64_t>{INT64_MAX, INT64_MAX});
  wire::ResultBuilder rb(fbb);
  rb.add_task_id(1);
  rb.add_counter_names(names);
  rb.add_counter_values(values);
  auto result = rb.Finish();
  auto env = wire::CreateEnvelope(fbb, kProtocolVersion, 1, 0, wire::Message::Result, result.Union());
  wire::FinishEnvelopeBuffer(fbb, env);
  std::vector<uint64_t> words((fbb.GetSize() + 7) / 8);
  std::memcpy(words.data(), fbb.GetBufferPointer(), fbb.GetSize());
  auto e = VerifyEnvelope({reinterpret_cast<const std::byte*>(words.data()), fbb.GetSize()},
                          WireLimits{});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  Result<InvokeResult> r = DecodeResult(**e);
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

// Found by fuzz_wire: a Result whose [long] counter_values start 4 bytes off an
// 8-byte boundary passes FlatBuffers 2.0's verifier; the decoder must refuse it.
TEST(WireTest, MisalignedCounterValuesAreCorruption) {
  const unsigned char bytes[] = {
      0x1c, 0x00, 0x00, 0x00, 0x4f, 0x56, 0x4c, 0x57, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x00,
      0x1a, 0x00, 0x06, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x05, 0x00, 0x08, 0x00, 0x0e, 0x00, 0x00, 0x00,
      0x00, 0x02, 0x01, 0x00, 0x24, 0x00, 0x00, 0x00, 0x02, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x00, 0x24, 0x00, 0x18, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x08, 0x00, 0x0c, 0x00, 0x10, 0x00, 0x24, 0x00, 0x12, 0x00, 0x00, 0x00, 0x34, 0x00, 0x00, 0x00,
      0x28, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x10, 0x00, 0x04, 0x00, 0x00, 0x00,
      0x01, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  std::vector<uint64_t> words((sizeof(bytes) + 7) / 8);
  std::memcpy(words.data(), bytes, sizeof(bytes));
  auto env = VerifyEnvelope({reinterpret_cast<const std::byte*>(words.data()), sizeof(bytes)}, WireLimits{});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_TRUE(DecodeResult(**env).status().IsCorruption());
}

}  // namespace

}  // namespace overlay::transport
