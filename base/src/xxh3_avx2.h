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

}  // namespace overlay::internal

#endif  // OVERLAY_BASE_SRC_XXH3_AVX2_H_
