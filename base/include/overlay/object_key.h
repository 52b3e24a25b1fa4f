// SPDX-License-Identifier: Apache-2.0
// ObjectKey: the content address of an immutable object, XXH3-128 of its bytes.
// The key doubles as the object's checksum where bytes arrive from outside
// (L1 commits, L3 gets); L2 relies on RocksDB's own checksums instead.
//
// Thread-safety: a plain value.
#ifndef OVERLAY_BASE_OBJECT_KEY_H_
#define OVERLAY_BASE_OBJECT_KEY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace overlay {

struct ObjectKey {
  uint64_t hi = 0;
  uint64_t lo = 0;

  // The key of `bytes` (XXH3-128, seed 0).
  static ObjectKey Of(std::string_view bytes);
  // Content hashes computed so far in this process (Of and KeyHasher::Finish),
  // so tests can assert that an object is hashed once per node.
  static uint64_t HashCount();
  // The key under which the catalog record of `name` is stored; hashed with a
  // different seed so it never equals a content key in practice.
  static ObjectKey OfName(std::string_view name);
  // Parses the 32-digit lower- or upper-case hex form; nullopt otherwise.
  static std::optional<ObjectKey> FromHex(std::string_view hex);

  // 32 lower-case hex digits, hi first (the CLI and CDN form).
  std::string ToHex() const;

  friend bool operator==(const ObjectKey&, const ObjectKey&) = default;
};

// Incremental XXH3-128 for objects that arrive in pieces; Finish() equals
// ObjectKey::Of(concatenation of all Update() inputs).
//
// Thread-safety: one thread at a time. Ownership: owns its hash state.
class KeyHasher {
 public:
  KeyHasher();
  ~KeyHasher();
  KeyHasher(const KeyHasher&) = delete;
  KeyHasher& operator=(const KeyHasher&) = delete;

  void Update(std::string_view bytes);
  ObjectKey Finish() const;

 private:
  void* state_;  // XXH3_state_t, kept opaque so users need not include xxhash.h
};

}  // namespace overlay

template <>
struct std::hash<overlay::ObjectKey> {
  size_t operator()(const overlay::ObjectKey& k) const noexcept { return k.lo; }
};

#endif  // OVERLAY_BASE_OBJECT_KEY_H_
