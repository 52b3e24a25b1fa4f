// SPDX-License-Identifier: Apache-2.0
// XXH3-128 compiled for AVX2 (the Debian libxxhash is built for SSE2 only and
// hashes about 3x slower). Internal to base/; callers must check
// HaveAvx2() first.
#ifndef OVERLAY_BASE_SRC_XXH3_AVX2_H_
#define OVERLAY_BASE_SRC_XXH3_AVX2_H_

#include <cstddef>
#include <cstdint>

namespace overlay::internal {

struct Hash128 {
  uint64_t hi, lo;
};

bool HaveAvx2();
// REQUIRES: HaveAvx2().
Hash128 Xxh3Avx2(const void* data, size_t size, uint64_t seed);

// The streaming form (seed 0), for KeyHasher. REQUIRES: HaveAvx2(). A state
// from Xxh3Avx2NewState is freed by Xxh3Avx2FreeState.
void* Xxh3Avx2NewState();
void Xxh3Avx2FreeState(void* state);
void Xxh3Avx2Update(void* state, const void* data, size_t size);
Hash128 Xxh3Avx2Digest(const void* state);

}  // namespace overlay::internal

#endif  // OVERLAY_BASE_SRC_XXH3_AVX2_H_
