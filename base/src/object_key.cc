// SPDX-License-Identifier: Apache-2.0
#include "overlay/object_key.h"

#include <xxhash.h>

#include <atomic>

#include "xxh3_avx2.h"

namespace overlay {
namespace {

// Seed of name keys: any constant other than 0 separates them from content keys.
constexpr XXH64_hash_t kNameSeed = 0x6f7665726c61796eull;  // "overlayn"

// Relaxed: a statistic, read after the work it counts has been joined.
std::atomic<uint64_t> hash_count{0};

ObjectKey FromHash(XXH128_hash_t h) { return ObjectKey{h.high64, h.low64}; }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

uint64_t ObjectKey::HashCount() { return hash_count.load(std::memory_order_relaxed); }

ObjectKey ObjectKey::Of(std::string_view bytes) {
  hash_count.fetch_add(1, std::memory_order_relaxed);
  if (internal::HaveAvx2()) {
    internal::Hash128 h = internal::Xxh3Avx2(bytes.data(), bytes.size(), 0);
    return ObjectKey{h.hi, h.lo};
  }
  return FromHash(XXH3_128bits(bytes.data(), bytes.size()));
}

ObjectKey ObjectKey::OfName(std::string_view name) {
  if (internal::HaveAvx2()) {
    internal::Hash128 h = internal::Xxh3Avx2(name.data(), name.size(), kNameSeed);
    return ObjectKey{h.hi, h.lo};
  }
  return FromHash(XXH3_128bits_withSeed(name.data(), name.size(), kNameSeed));
}

std::optional<ObjectKey> ObjectKey::FromHex(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  ObjectKey k;
  for (size_t i = 0; i < 32; ++i) {
    int d = HexDigit(hex[i]);
    if (d < 0) return std::nullopt;
    uint64_t& half = i < 16 ? k.hi : k.lo;
    half = (half << 4) | static_cast<uint64_t>(d);
  }
  return k;
}

std::string ObjectKey::ToHex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[15 - i] = kDigits[(hi >> (4 * i)) & 15];
    out[31 - i] = kDigits[(lo >> (4 * i)) & 15];
  }
  return out;
}

// The AVX2 state when the CPU has it (HaveAvx2() is fixed for the process),
// else libxxhash's; the two never mix.
KeyHasher::KeyHasher() {
  if (internal::HaveAvx2()) {
    state_ = internal::Xxh3Avx2NewState();
    return;
  }
  state_ = XXH3_createState();
  XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_));
}

KeyHasher::~KeyHasher() {
  if (internal::HaveAvx2()) {
    internal::Xxh3Avx2FreeState(state_);
  } else {
    XXH3_freeState(static_cast<XXH3_state_t*>(state_));
  }
}

void KeyHasher::Update(std::string_view bytes) {
  if (internal::HaveAvx2()) {
    internal::Xxh3Avx2Update(state_, bytes.data(), bytes.size());
  } else {
    XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), bytes.data(), bytes.size());
  }
}

ObjectKey KeyHasher::Finish() const {
  hash_count.fetch_add(1, std::memory_order_relaxed);
  if (internal::HaveAvx2()) {
    internal::Hash128 h = internal::Xxh3Avx2Digest(state_);
    return ObjectKey{h.hi, h.lo};
  }
  return FromHash(XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_)));
}

}  // namespace overlay
