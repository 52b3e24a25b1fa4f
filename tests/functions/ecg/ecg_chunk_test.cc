// SPDX-License-Identifier: Apache-2.0
// The binary ECG chunk: layout, round trip, validation, and its text form at
// the boundary with command functions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/sensor_chunks.h"
#include "ecg_chunk.h"
#include "ecg_functions.h"
#include "ecg_text.h"
#include "overlay/function_registry.h"

namespace overlay::ecg {
namespace {

using ::testing::HasSubstr;

std::string Encode(double fs, int64_t first, const std::vector<float>& mv) {
  std::string out(EncodedChunkSize(mv.size()), '\0');
  Status s = EncodeChunk(fs, first, mv, out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::string DecodeError(std::string_view bytes) {
  Result<SignalChunk> c = DecodeChunk(bytes);
  EXPECT_FALSE(c.ok());
  if (c.ok()) return "";
  EXPECT_TRUE(c.status().IsCorruption()) << c.status().ToString();
  return std::string(c.status().message());
}

TEST(EcgChunk, RoundTripKeepsEverySampleBitForBit) {
  const std::vector<float> mv = {-0.345f, 0.0f, 1.2345678f, -1e-30f, 3.4e38f, -0.0f};
  const int64_t first = (int64_t{1} << 40) + 7;
  std::string bytes = Encode(250.5, first, mv);
  ASSERT_EQ(bytes.size(), 40u + 4 * mv.size());
  EXPECT_TRUE(IsBinaryChunk(bytes));
  Result<SignalChunk> c = DecodeChunk(bytes);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->fs, 250.5);
  EXPECT_EQ(c->first_sample, first);
  EXPECT_TRUE(c->stream.empty());
  ASSERT_EQ(c->mv.size(), mv.size());
  for (size_t i = 0; i < mv.size(); ++i)
    EXPECT_EQ(std::bit_cast<uint32_t>(c->mv[i]), std::bit_cast<uint32_t>(mv[i])) << i;
}

TEST(EcgChunk, EmptyChunkRoundTrips) {
  Result<SignalChunk> c = DecodeChunk(Encode(360, 0, {}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->mv.empty());
}

// The layout is fixed little-endian, whatever the host: check the bytes.
TEST(EcgChunk, HeaderIsLittleEndianAtDocumentedOffsets) {
  std::string b = Encode(360, 0x0102030405, {1.0f});
  EXPECT_EQ(b.substr(0, 8), std::string("\x89" "ECG\r\n\x1a\n", 8));
  EXPECT_EQ(b.substr(8, 4), std::string("\x01\0\0\0", 4));    // version
  EXPECT_EQ(b.substr(12, 4), std::string(4, '\0'));            // reserved
  EXPECT_EQ(b.substr(16, 8), std::string("\0\0\0\0\0\x80\x76\x40", 8));  // 360.0
  EXPECT_EQ(b.substr(24, 8), std::string("\x05\x04\x03\x02\x01\0\0\0", 8));
  EXPECT_EQ(b.substr(32, 8), std::string("\x01\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(b.substr(40, 4), std::string("\0\0\x80\x3f", 4));  // 1.0f
}

TEST(EcgChunk, EncodeChecksItsArguments) {
  std::vector<float> mv = {0.1f, 0.2f};
  std::string small(EncodedChunkSize(2) - 1, '\0');
  EXPECT_THAT(std::string(EncodeChunk(360, 0, mv, small).message()), HasSubstr("need 48 bytes"));
  std::string out(EncodedChunkSize(2), '\0');
  EXPECT_FALSE(EncodeChunk(0, 0, mv, out).ok());
  EXPECT_FALSE(EncodeChunk(std::nan(""), 0, mv, out).ok());
  EXPECT_FALSE(EncodeChunk(360, -1, mv, out).ok());
}

TEST(EcgChunk, TruncatedChunksFailAndSayHow) {
  const std::string good = Encode(360, 1000, {0.1f, 0.2f, 0.3f});
  EXPECT_THAT(DecodeError(good.substr(0, 20)), HasSubstr("truncated header: 20 of 40 bytes"));
  EXPECT_THAT(DecodeError(good.substr(0, 48)),
              HasSubstr("header says 3 samples but 8 sample bytes follow (truncated)"));
  EXPECT_THAT(DecodeError(good.substr(0, 50)), HasSubstr("header says 3 samples"));
  EXPECT_THAT(DecodeError(good + "xxxx"), HasSubstr("header says 3 samples but 16"));
  for (size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(DecodeChunk(good.substr(0, n)).ok()) << n;
}

TEST(EcgChunk, GarbledHeadersFailAndSayWhat) {
  const std::string good = Encode(360, 1000, {0.1f, 0.2f});
  auto with = [&](size_t at, std::string_view bytes) {
    std::string b = good;
    b.replace(at, bytes.size(), bytes);
    return b;
  };
  EXPECT_THAT(DecodeError(with(1, "X")), HasSubstr("no magic"));
  EXPECT_THAT(DecodeError("# stream=s\n# fs=360\n0.1\n"), HasSubstr("no magic"));
  EXPECT_THAT(DecodeError(with(8, std::string("\x02\0\0\0", 4))),
              HasSubstr("version 2 is not supported"));
  EXPECT_THAT(DecodeError(with(12, "\x01")), HasSubstr("reserved"));
  EXPECT_THAT(DecodeError(with(16, std::string(8, '\0'))), HasSubstr("fs 0 Hz is outside"));
  EXPECT_THAT(DecodeError(with(16, std::string("\0\0\0\0\0\0\xf8\x7f", 8))),
              HasSubstr("fs nan Hz is outside"));
  // 1e-300 Hz: positive and finite, but a time axis of 1e300 s never ends.
  EXPECT_THAT(DecodeError(with(16, std::string("\x59\xf3\xf8\xc2\x1f\x6e\xa5\x01", 8))),
              HasSubstr("is outside 1..1000000 Hz"));
  EXPECT_THAT(DecodeError(with(30, "\x01")), HasSubstr("first_sample 281474976711656 is outside"));
  EXPECT_THAT(DecodeError(with(31, "\x80")), HasSubstr("first_sample"));
  EXPECT_THAT(DecodeError(with(32, std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8))),
              HasSubstr("header says 18446744073709551615 samples"));
  EXPECT_THAT(DecodeError(with(44, std::string("\0\0\xc0\x7f", 4))),
              HasSubstr("sample 1 is not finite"));
}

TEST(EcgChunk, ReadChunkTakesEitherForm) {
  SignalChunk text_form{"s", 500, 42, {0.5f, -1.25f}};
  Result<SignalChunk> from_text = ReadChunk(FormatChunk(text_form));
  Result<SignalChunk> from_binary = ReadChunk(Encode(500, 42, text_form.mv));
  ASSERT_TRUE(from_text.ok() && from_binary.ok());
  EXPECT_EQ(from_text->mv, from_binary->mv);
  EXPECT_EQ(from_text->fs, from_binary->fs);
  EXPECT_EQ(from_text->first_sample, from_binary->first_sample);
}

TEST(EcgChunk, TextFormIsTheTextChunkOfTheTaskStream) {
  const std::vector<float> mv = {-0.345f, 1.5f};
  Result<std::string> text = ChunkText(Encode(360, 7, mv), "ward/101");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "# stream=ward/101\n# fs=360\n# first_sample=7\n-0.345\n1.500\n");
  EXPECT_FALSE(ChunkText("\x89" "ECG\r\n\x1a\n garbage", "s").ok());
}

// The ECG module registered the chunk's text form with the functions module.
TEST(EcgChunk, RegisteredAsABinaryFormat) {
  std::string bytes = Encode(360, 0, {0.25f});
  Result<std::optional<std::string>> text = TextFormOf(bytes, "p");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  ASSERT_TRUE(text->has_value());
  EXPECT_EQ(**text, "# stream=p\n# fs=360\n# first_sample=0\n0.250\n");
  Result<std::optional<std::string>> plain = TextFormOf("# stream=p\n0.1\n", "p");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->has_value());
  Result<std::optional<std::string>> garbled = TextFormOf(bytes.substr(0, 41), "p");
  ASSERT_FALSE(garbled.ok());
  EXPECT_THAT(std::string(garbled.status().message()), HasSubstr("ecg-chunk"));
}

// A command function (an external program) gets the text chunk in its
// workspace, under the chunk's own name, for the native simulator's output.
TEST(EcgChunk, CommandFunctionReceivesTheTextForm) {
  const std::string spec = "# overlay-synthetic-ecg\nduration_s = 5\nhr_bpm = 70\nseed = 2\n";
  std::vector<NamedBlob> chunks = testing_common::SensorChunks(spec, "ward/p1", 500);
  ASSERT_EQ(chunks.size(), 4u);
  ASSERT_TRUE(IsBinaryChunk(chunks[1].data.view()));
  FunctionSpec cmd;
  cmd.name = "copy";
  cmd.command = "cp @I @D/copy_@N";
  cmd.workspace_root = ::testing::TempDir();
  auto fn = MakeFunction(cmd);
  ASSERT_TRUE(fn.ok()) << fn.status().ToString();
  Task t;
  t.stream = "ward/p1";
  t.inputs.push_back(chunks[1]);
  ASSERT_TRUE((*fn)->Process(t).ok());
  ASSERT_EQ(t.outputs.size(), 1u);
  EXPECT_EQ(t.outputs[0].name, "copy_" + chunks[1].name);
  Result<SignalChunk> c = DecodeChunk(chunks[1].data.view());
  ASSERT_TRUE(c.ok());
  c->stream = "ward/p1";
  EXPECT_EQ(t.outputs[0].data.view(), FormatChunk(*c));
  EXPECT_EQ(c->first_sample, 500);
}

}  // namespace
}  // namespace overlay::ecg
