// SPDX-License-Identifier: Apache-2.0
// The binary chunk native ECG stages exchange: the samples travel as float32
// and are written in place into the output (no text formatting or parsing).
// Command functions still see the text chunk (ecg_text.h): the ECG module
// registers ChunkText as the converter for this format.
//
// Layout, little-endian, 40-byte header then the samples:
//   0  8  magic "\x89" "ECG\r\n\x1a\n" (PNG's scheme: the high-bit first byte
//         cannot start a text chunk, which begins with '#'; CR LF and ^Z
//         expose line-ending conversion and text-mode truncation)
//   8  4  version (kChunkVersion)
//  12  4  reserved, 0
//  16  8  fs, Hz (IEEE-754 double)
//  24  8  first_sample: stream index of the first sample (uint64, <= 2^48)
//  32  8  sample count
//  40  4n samples, mV (IEEE-754 float32)
// The stream name is not stored: a chunk belongs to the stream of its task.
#ifndef OVERLAY_FUNCTIONS_ECG_ECG_CHUNK_H_
#define OVERLAY_FUNCTIONS_ECG_ECG_CHUNK_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ecg_text.h"
#include "overlay/status.h"

namespace overlay::ecg {

inline constexpr std::string_view kChunkMagic{"\x89" "ECG\r\n\x1a\n", 8};
inline constexpr uint32_t kChunkVersion = 1;
inline constexpr size_t kChunkHeaderSize = 40;

// Bytes of a binary chunk holding `samples` samples.
constexpr size_t EncodedChunkSize(size_t samples) { return kChunkHeaderSize + 4 * samples; }

// True when `bytes` start with kChunkMagic (the rest is checked by DecodeChunk).
bool IsBinaryChunk(std::string_view bytes);

// Writes the chunk into `out`. Fails unless out.size() is
// EncodedChunkSize(mv.size()) and CheckTiming(fs, first_sample) holds.
Status EncodeChunk(double fs, int64_t first_sample, std::span<const float> mv,
                   std::span<char> out);

// Decodes a binary chunk (stream left empty). Corruption, naming what is wrong,
// for a bad magic, unknown version, truncated or oversized bytes, a bad fs,
// first_sample or non-finite sample.
Result<SignalChunk> DecodeChunk(std::string_view bytes);

// A chunk in either form: binary (DecodeChunk) or text (ParseChunk).
Result<SignalChunk> ReadChunk(std::string_view bytes);

// The text form of a binary chunk, as FormatChunk writes it for `stream`.
Result<std::string> ChunkText(std::string_view bytes, std::string_view stream);

}  // namespace overlay::ecg

#endif  // OVERLAY_FUNCTIONS_ECG_ECG_CHUNK_H_
