// SPDX-License-Identifier: Apache-2.0
// Built with -mavx2 (see base/CMakeLists.txt); only called when the CPU has AVX2.
#define XXH_INLINE_ALL
#include "xxh3_avx2.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace overlay::internal {
namespace {

// XXH3-128 (seed 0) in pieces, computed as the one-shot hashLong computes it:
// whole 1024-byte blocks run through the same accumulate loop straight from
// the caller's memory. (libxxhash 0.8.1's XXH3_128bits_update goes 256 bytes
// at a time through a function pointer and runs 3-5x slower.)
constexpr size_t kSecretSize = sizeof(XXH3_kSecret);
constexpr size_t kStripesPerBlock = (kSecretSize - XXH_STRIPE_LEN) / XXH_SECRET_CONSUME_RATE;
constexpr size_t kBlockLen = XXH_STRIPE_LEN * kStripesPerBlock;

struct Stream {
  alignas(XXH_ACC_ALIGN) xxh_u64 acc[XXH_ACC_NB] = XXH3_INIT_ACC;
  uint64_t total = 0;                   // bytes seen
  unsigned char pending[kBlockLen];     // bytes after the last block folded into acc
  size_t pending_len = 0;
  unsigned char last[XXH_STRIPE_LEN];   // the last stripe of the last block folded in
};

// Folds `n` blocks into `acc` (a local copy, so the compiler keeps it in
// registers) and keeps the last stripe. The one-shot folds a block only once
// more bytes follow it.
XXH_FORCE_INLINE void FoldBlocks(Stream& s, xxh_u64* XXH_RESTRICT acc,
                                 const unsigned char* XXH_RESTRICT blocks, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    XXH3_accumulate(acc, blocks + i * kBlockLen, XXH3_kSecret, kStripesPerBlock,
                    XXH3_accumulate_512);
    XXH3_scrambleAcc(acc, XXH3_kSecret + kSecretSize - XXH_STRIPE_LEN);
  }
  std::memcpy(s.last, blocks + n * kBlockLen - XXH_STRIPE_LEN, XXH_STRIPE_LEN);
}

}  // namespace

bool HaveAvx2() {
  static const bool have = __builtin_cpu_supports("avx2");
  return have;
}

Hash128 Xxh3Avx2(const void* data, size_t size, uint64_t seed) {
  XXH128_hash_t h = XXH3_128bits_withSeed(data, size, seed);
  return Hash128{h.high64, h.low64};
}

void* Xxh3Avx2NewState() { return new Stream; }

void Xxh3Avx2FreeState(void* state) { delete static_cast<Stream*>(state); }

void Xxh3Avx2Update(void* state, const void* data, size_t size) {
  Stream& s = *static_cast<Stream*>(state);
  auto in = static_cast<const unsigned char*>(data);
  s.total += size;
  alignas(XXH_ACC_ALIGN) xxh_u64 acc[XXH_ACC_NB];
  std::memcpy(acc, s.acc, sizeof acc);
  while (size > 0) {
    if (s.pending_len == kBlockLen) {  // more bytes follow it now
      FoldBlocks(s, acc, s.pending, 1);
      s.pending_len = 0;
    }
    if (s.pending_len == 0 && size > kBlockLen) {
      const size_t n = (size - 1) / kBlockLen;
      FoldBlocks(s, acc, in, n);
      in += n * kBlockLen;
      size -= n * kBlockLen;
    }
    const size_t take = std::min(size, kBlockLen - s.pending_len);
    std::memcpy(s.pending + s.pending_len, in, take);
    s.pending_len += take;
    in += take;
    size -= take;
  }
  std::memcpy(s.acc, acc, sizeof acc);
}

Hash128 Xxh3Avx2Digest(const void* state) {
  const Stream& s = *static_cast<const Stream*>(state);
  if (s.total <= XXH3_MIDSIZE_MAX) {  // short inputs have their own paths; all are pending
    XXH128_hash_t h = XXH3_128bits(s.pending, s.pending_len);
    return Hash128{h.high64, h.low64};
  }
  alignas(XXH_ACC_ALIGN) xxh_u64 acc[XXH_ACC_NB];
  std::memcpy(acc, s.acc, sizeof acc);
  XXH3_accumulate(acc, s.pending, XXH3_kSecret, (s.pending_len - 1) / XXH_STRIPE_LEN,
                  XXH3_accumulate_512);
  // The last stripe: the input's last 64 bytes, partly from the last block
  // when fewer are pending.
  unsigned char stripe[XXH_STRIPE_LEN];
  const unsigned char* p = s.pending + s.pending_len - XXH_STRIPE_LEN;
  if (s.pending_len < XXH_STRIPE_LEN) {
    const size_t from_last = XXH_STRIPE_LEN - s.pending_len;
    std::memcpy(stripe, s.last + s.pending_len, from_last);
    std::memcpy(stripe + from_last, s.pending, s.pending_len);
    p = stripe;
  }
  XXH3_accumulate_512(acc, p,
                      XXH3_kSecret + kSecretSize - XXH_STRIPE_LEN - XXH_SECRET_LASTACC_START);
  const xxh_u64 len = s.total;
  const xxh_u64 lo = XXH3_mergeAccs(acc, XXH3_kSecret + XXH_SECRET_MERGEACCS_START,
                                    len * XXH_PRIME64_1);
  const xxh_u64 hi = XXH3_mergeAccs(
      acc, XXH3_kSecret + kSecretSize - sizeof(acc) - XXH_SECRET_MERGEACCS_START,
      ~(len * XXH_PRIME64_2));
  return Hash128{hi, lo};
}

}  // namespace overlay::internal
