// SPDX-License-Identifier: Apache-2.0
// Checks that a new shared-memory segment fits where its pages will live before
// it is made. Its pages are taken when first written: past the free room of the
// tmpfs (/dev/shm) the process dies of SIGBUS, past its cgroup's memory limit
// the OOM killer ends it, in both cases without a word.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "overlay/status.h"

namespace overlay {

// Memory a process needs beside its segments (heap, stacks, libraries), kept
// free under a cgroup limit.
inline constexpr uint64_t kProcessHeadroom = 32ull << 20;

// OK if `bytes` of shared memory fit in /dev/shm's free room and, with
// kProcessHeadroom, under this process's cgroup memory limit (v1 or v2, the
// smallest on the path to the root). Else InvalidArgument naming `what`,
// both sizes and `remedy` (what the user can lower). Thread-safe.
Status CheckSharedMemoryRoom(uint64_t bytes, std::string_view what, std::string_view remedy);

// The smallest memory limit of this process's cgroup and its ancestors, as
// /proc/self/cgroup names it under `cgroup_root` (v2) or
// `cgroup_root`/memory (v1); nullopt when there is none. Exposed for tests.
std::optional<uint64_t> CgroupMemoryLimit(const std::string& cgroup_root = "/sys/fs/cgroup");

// "256 MiB", "1.5 GiB", "512 KiB", "100 B".
std::string FormatBytes(uint64_t bytes);

}  // namespace overlay
