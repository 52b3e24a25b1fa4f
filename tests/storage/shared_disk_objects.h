// SPDX-License-Identifier: Apache-2.0
// The objects of the shared disk tier test, the same in the test and in each
// worker process: the bytes of object `i` of `tag` are a pure function of both,
// so any process can tell whether what it reads back is byte-identical.
#ifndef OVERLAY_TESTS_STORAGE_SHARED_DISK_OBJECTS_H_
#define OVERLAY_TESTS_STORAGE_SHARED_DISK_OBJECTS_H_

#include <cstdint>
#include <string>

namespace overlay::storage::testing {

constexpr int kSharedDiskPeers = 7;      // processes beside the owner
constexpr int kDistinctPerProcess = 40;  // objects only one process puts
constexpr int kShared = 12;              // objects every process puts
constexpr int kDemoted = 10;             // objects the owner demotes to L2 late

// 1 KiB to ~160 KiB of xorshift bytes: several L1 budgets in all, so puts
// evict, and some objects above the 64 KiB at which L2 uses blob files.
inline std::string SharedDiskObject(const std::string& tag, int i) {
  uint64_t s = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(i + 1);
  for (char c : tag) s = (s ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  auto next = [&s] {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  };
  std::string out(1024 + next() % (160 << 10), '\0');
  for (char& c : out) c = static_cast<char>(next() >> 56);
  return out;
}

}  // namespace overlay::storage::testing

#endif  // OVERLAY_TESTS_STORAGE_SHARED_DISK_OBJECTS_H_
