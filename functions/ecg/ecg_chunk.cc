// SPDX-License-Identifier: Apache-2.0
#include "ecg_chunk.h"

#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace overlay::ecg {
namespace {

// Byte-wise little-endian stores and loads: independent of host order and alignment.
template <typename U>
void StoreLe(char* p, U v) {
  for (size_t i = 0; i < sizeof(U); ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

template <typename U>
U LoadLe(const char* p) {
  U v = 0;
  for (size_t i = 0; i < sizeof(U); ++i)
    v |= static_cast<U>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

Status Bad(std::string_view what) { return Status::Corruption(fmt::format("binary chunk: {}", what)); }

}  // namespace

bool IsBinaryChunk(std::string_view bytes) { return bytes.starts_with(kChunkMagic); }

Status EncodeChunk(double fs, int64_t first_sample, std::span<const float> mv,
                   std::span<char> out) {
  if (out.size() != EncodedChunkSize(mv.size()))
    return Status::InvalidArgument(fmt::format("binary chunk: {} samples need {} bytes, got {}",
                                               mv.size(), EncodedChunkSize(mv.size()),
                                               out.size()));
  if (Status t = CheckTiming(fs, first_sample); !t.ok())
    return Status::InvalidArgument(fmt::format("binary chunk: {}", t.message()));
  char* p = out.data();
  std::memcpy(p, kChunkMagic.data(), kChunkMagic.size());
  StoreLe<uint32_t>(p + 8, kChunkVersion);
  StoreLe<uint32_t>(p + 12, 0);
  StoreLe<uint64_t>(p + 16, std::bit_cast<uint64_t>(fs));
  StoreLe<uint64_t>(p + 24, static_cast<uint64_t>(first_sample));
  StoreLe<uint64_t>(p + 32, mv.size());
  p += kChunkHeaderSize;
  if constexpr (std::endian::native == std::endian::little) {
    if (!mv.empty()) std::memcpy(p, mv.data(), mv.size_bytes());
  } else {
    for (size_t i = 0; i < mv.size(); ++i) StoreLe<uint32_t>(p + 4 * i, std::bit_cast<uint32_t>(mv[i]));
  }
  return Status::OK();
}

Result<SignalChunk> DecodeChunk(std::string_view bytes) {
  if (!IsBinaryChunk(bytes)) return Bad("no magic (not a binary ECG chunk)");
  if (bytes.size() < kChunkHeaderSize)
    return Bad(fmt::format("truncated header: {} of {} bytes", bytes.size(), kChunkHeaderSize));
  const char* p = bytes.data();
  uint32_t version = LoadLe<uint32_t>(p + 8);
  if (version != kChunkVersion)
    return Bad(fmt::format("version {} is not supported (this build reads {})", version,
                           kChunkVersion));
  if (LoadLe<uint32_t>(p + 12) != 0) return Bad("reserved header field is not 0");
  SignalChunk c;
  c.fs = std::bit_cast<double>(LoadLe<uint64_t>(p + 16));
  uint64_t first = LoadLe<uint64_t>(p + 24);
  if (first > static_cast<uint64_t>(kMaxStatedSample))
    return Bad(fmt::format("first_sample {} is outside 0..{}", first, kMaxStatedSample));
  c.first_sample = static_cast<int64_t>(first);
  if (Status t = CheckTiming(c.fs, c.first_sample); !t.ok()) return Bad(t.message());
  uint64_t count = LoadLe<uint64_t>(p + 32);
  const size_t payload = bytes.size() - kChunkHeaderSize;
  if (payload % 4 != 0 || count != payload / 4)
    return Bad(fmt::format("header says {} samples but {} sample bytes follow{}", count, payload,
                           payload / 4 < count ? " (truncated)" : ""));
  if (count > static_cast<uint64_t>(kMaxStatedSample - c.first_sample))
    return Bad("ends past the last allowed sample position");
  c.mv.resize(count);
  p += kChunkHeaderSize;
  if constexpr (std::endian::native == std::endian::little) {
    if (count != 0) std::memcpy(c.mv.data(), p, payload);
  } else {
    for (size_t i = 0; i < count; ++i) c.mv[i] = std::bit_cast<float>(LoadLe<uint32_t>(p + 4 * i));
  }
  for (size_t i = 0; i < count; ++i)
    if (!std::isfinite(c.mv[i])) return Bad(fmt::format("sample {} is not finite", i));
  return c;
}

Result<SignalChunk> ReadChunk(std::string_view bytes) {
  return IsBinaryChunk(bytes) ? DecodeChunk(bytes) : ParseChunk(bytes);
}

Result<std::string> ChunkText(std::string_view bytes, std::string_view stream) {
  Result<SignalChunk> c = DecodeChunk(bytes);
  if (!c.ok()) return c.status();
  c->stream = std::string(stream);
  return FormatChunk(*c);
}

}  // namespace overlay::ecg
