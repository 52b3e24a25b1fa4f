// SPDX-License-Identifier: Apache-2.0
// Built with -mavx2 (see base/CMakeLists.txt); only called when the CPU has AVX2.
#define XXH_INLINE_ALL
#include "xxh3_avx2.h"

#include <xxhash.h>

namespace overlay::internal {

bool HaveAvx2() {
  static const bool have = __builtin_cpu_supports("avx2");
  return have;
}

Hash128 Xxh3Avx2(const void* data, size_t size, uint64_t seed) {
  XXH128_hash_t h = XXH3_128bits_withSeed(data, size, seed);
  return Hash128{h.high64, h.low64};
}

void* Xxh3Avx2NewState() {
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  return state;
}

void Xxh3Avx2FreeState(void* state) { XXH3_freeState(static_cast<XXH3_state_t*>(state)); }

void Xxh3Avx2Update(void* state, const void* data, size_t size) {
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state), data, size);
}

Hash128 Xxh3Avx2Digest(const void* state) {
  XXH128_hash_t h = XXH3_128bits_digest(static_cast<const XXH3_state_t*>(state));
  return Hash128{h.high64, h.low64};
}

}  // namespace overlay::internal
