// SPDX-License-Identifier: Apache-2.0
#include "overlay/memory_room.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

namespace overlay {
namespace {

// A limit file holds a byte count, or "max" (v2) / a huge value (v1) for none.
std::optional<uint64_t> ReadLimit(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string word;
  if (!(in >> word) || word == "max") return std::nullopt;
  try {
    const uint64_t v = std::stoull(word);
    // v1 writes "no limit" as the largest page-aligned signed 64-bit value.
    if (v >= (1ull << 62)) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The smallest limit in `dir` and its ancestors up to `root`.
std::optional<uint64_t> SmallestOnPath(const std::filesystem::path& root,
                                       const std::string& cgroup_path, const char* file) {
  std::optional<uint64_t> best;
  std::filesystem::path rel = std::filesystem::path(cgroup_path).relative_path();
  for (int depth = 0; depth < 64; ++depth) {
    if (auto v = ReadLimit(root / rel / file)) best = best ? std::min(*best, *v) : *v;
    if (rel.empty()) break;
    rel = rel.parent_path();
  }
  return best;
}

}  // namespace

std::optional<uint64_t> CgroupMemoryLimit(const std::string& cgroup_root) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  std::optional<uint64_t> best;
  for (int n = 0; n < 64 && std::getline(in, line); ++n) {
    // "ID:controllers:path"; v2 is "0::path", v1's memory line lists "memory".
    const size_t a = line.find(':');
    const size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string path = line.substr(b + 1);
    std::optional<uint64_t> v;
    if (controllers.empty()) {
      v = SmallestOnPath(cgroup_root, path, "memory.max");
    } else {
      bool memory = false;
      for (size_t p = 0; p <= controllers.size();) {
        const size_t e = std::min(controllers.find(',', p), controllers.size());
        memory |= controllers.compare(p, e - p, "memory") == 0;
        p = e + 1;
      }
      if (memory)
        v = SmallestOnPath(std::filesystem::path(cgroup_root) / "memory", path,
                           "memory.limit_in_bytes");
    }
    if (v) best = best ? std::min(*best, *v) : *v;
  }
  return best;
}

std::string FormatBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) v /= 1024, ++u;
  if (u == 0 || v >= 100 || v == static_cast<double>(static_cast<uint64_t>(v)))
    return fmt::format("{:.0f} {}", v, kUnits[u]);
  return fmt::format("{:.1f} {}", v, kUnits[u]);
}

Status CheckSharedMemoryRoom(uint64_t bytes, std::string_view what, std::string_view remedy) {
  struct statvfs vfs {};
  if (::statvfs("/dev/shm", &vfs) == 0) {
    const uint64_t room = uint64_t{vfs.f_bavail} * vfs.f_frsize;
    if (bytes > room)
      return Status::InvalidArgument(fmt::format(
          "{} needs {} of shared memory but /dev/shm has {} free; {}, or enlarge /dev/shm "
          "(a container's --shm-size)",
          what, FormatBytes(bytes), FormatBytes(room), remedy));
  }
  if (std::optional<uint64_t> limit = CgroupMemoryLimit(); limit && bytes + kProcessHeadroom > *limit)
    return Status::InvalidArgument(fmt::format(
        "{} needs {} of shared memory but this process's cgroup may use {} in all (and {} "
        "stays for the process itself); {}, or raise the memory limit",
        what, FormatBytes(bytes), FormatBytes(*limit), FormatBytes(kProcessHeadroom), remedy));
  return Status::OK();
}

}  // namespace overlay
