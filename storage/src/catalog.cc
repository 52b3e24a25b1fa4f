// SPDX-License-Identifier: Apache-2.0
#include "overlay/storage/catalog.h"

#include <cstring>

namespace overlay::storage {
namespace {

constexpr char kMagic[4] = {'O', 'V', 'C', '1'};
constexpr size_t kFixed = 4 + 16 + 8 * 3 + 1;

void Put64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t Get64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

std::string CatalogEntry::Encode() const {
  std::string out(kMagic, 4);
  out.reserve(kFixed + name.size());
  Put64(&out, key.hi);
  Put64(&out, key.lo);
  Put64(&out, size);
  Put64(&out, ctime_ms);
  Put64(&out, expiry_ms);
  out.push_back(static_cast<char>((pinned ? 1 : 0) | (for_owner ? 2 : 0)));
  out += name;
  return out;
}

std::optional<CatalogEntry> CatalogEntry::Decode(std::string_view bytes) {
  if (bytes.size() < kFixed || std::memcmp(bytes.data(), kMagic, 4) != 0) return std::nullopt;
  const char* p = bytes.data() + 4;
  CatalogEntry e;
  e.key.hi = Get64(p);
  e.key.lo = Get64(p + 8);
  e.size = Get64(p + 16);
  e.ctime_ms = Get64(p + 24);
  e.expiry_ms = Get64(p + 32);
  e.pinned = (p[40] & 1) != 0;
  e.for_owner = (p[40] & 2) != 0;
  e.name = std::string(bytes.substr(kFixed));
  return e;
}

}  // namespace overlay::storage
