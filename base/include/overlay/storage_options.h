// SPDX-License-Identifier: Apache-2.0
// StorageOptions: the settings of a node's data container, one field per key of
// the config's [STORAGE] block. Each field names its key, unit, range and
// default; the default sits in the declaration so comment and code agree.
// None of the options can be reloaded: they are read when a container opens.
//
// Thread-safety: a plain value; no internal synchronization.
#ifndef OVERLAY_BASE_STORAGE_OPTIONS_H_
#define OVERLAY_BASE_STORAGE_OPTIONS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "overlay/status.h"

namespace overlay {

// Which L1 object is evicted when the memory budget is full.
enum class EvictionPolicy {
  // Least recently read or written. Use case: recency-heavy pipelines.
  kLru,
  // Least frequently read (ties: oldest). Use case: a few hot inputs reused often.
  kLfu,
  // SIEVE (NSDI'24): FIFO order with a visited bit and a moving hand.
  // Use case: scan-resistant caching with no work on the read path beyond a bit.
  kSieve,
};

// Where a put lands before it returns.
enum class WriteMode {
  // L1 only; evictions still demote to L2 when `disk` is set.
  kMemory,
  // L1 and L2 (RocksDB) synchronously. REQUIRES: disk.
  kThrough,
  // L1 and L2 synchronously, plus an asynchronous push to L3 journaled in L2.
  // REQUIRES: disk and cdn.
  kBack,
};

// The segment of a data container whose STORAGE block and flags name none:
// $OVERLAY_SEGMENT when it is a valid, non-empty segment name, else "overlay".
std::string DefaultSegment();

struct StorageOptions {
  // STORAGE.memory: L1 byte budget (shared-memory segment data area).
  // Units: bytes, suffixes KiB/MiB/GiB (or K/M/G). Range: 1 MiB .. 1 TiB.
  // Default: 256 MiB.
  uint64_t memory = 256ull << 20;

  // STORAGE.policy: L1 eviction policy, lru | lfu | sieve. Default: lru.
  // A second process opening an existing segment uses the segment's policy.
  EvictionPolicy policy = EvictionPolicy::kLru;

  // STORAGE.ttl: lifetime of new objects and names; 0 keeps them forever.
  // Units: seconds unless suffixed ms/s/m/h/d. Range: 0 .. 10 years. Default: 0.
  uint64_t ttl_ms = 0;

  // STORAGE.disk: directory of the L2 RocksDB store; "none" disables L2.
  // Default (empty): DefaultDiskDir(segment), created on first use.
  std::string disk;

  // STORAGE.cdn: base URL of the L3 origin (http://host:port/path) that accepts
  // PUT/GET/HEAD/DELETE; empty disables L3. Default: "".
  std::string cdn;

  // STORAGE.write: memory | through | back (see WriteMode). Default: memory.
  WriteMode write = WriteMode::kMemory;

  // STORAGE.segment: name of the L1 shared-memory segment (/dev/shm/<name>);
  // processes naming the same segment share L1. Letters, digits, '-', '_', '.'
  // only; empty disables L1. Default: DefaultSegment().
  std::string segment = DefaultSegment();

  // STORAGE.objects: capacity of the L1 object table (objects plus names).
  // Range: 64 .. 16M. Default: 65536.
  uint32_t max_objects = 65536;

  // STORAGE.chunk: L2 chunk size for large values. Units: bytes (suffixes as for
  // memory). Range: 64 KiB .. 256 MiB. Default: 4 MiB.
  uint64_t chunk = 4ull << 20;

  // STORAGE.cdn_timeout: limit on one CDN request. Units: as for ttl (suffixes as for
  // ttl). Range: 100 ms .. 1 h. Default: 30 s.
  uint64_t cdn_timeout_ms = 30000;

  // STORAGE.retry_min / STORAGE.retry_max: backoff of journal replay to the CDN,
  // doubling from min to max after each failure. Units: as for ttl. Range: 1 ms .. 1 h.
  // Defaults: 100 ms and 30 s.
  uint64_t retry_min_ms = 100;
  uint64_t retry_max_ms = 30000;
};

// STORAGE.disk's value that disables the disk tier.
inline constexpr std::string_view kNoDisk = "none";

// Where a node's disk tier lives when STORAGE.disk is not set:
// $XDG_DATA_HOME/overlay/<segment>, else /var/lib/overlay/<segment> for root,
// else $HOME/.local/share/overlay/<segment>.
std::string DefaultDiskDir(std::string_view segment);

// The L2 directory `options` asks for: STORAGE.disk, the default one, or ""
// for none.
std::string DiskDir(const StorageOptions& options);

// Sets the field named by `key` (without the "STORAGE." prefix) from its config
// text. Returns InvalidArgument naming the key, the bad value and, for unknown
// keys, a "did you mean" suggestion; `*options` is unchanged on error.
Status SetStorageOption(StorageOptions* options, std::string_view key, std::string_view value);

// Every key SetStorageOption accepts, for help texts and suggestions.
std::vector<std::string> StorageOptionKeys();

// Parses "256MiB", "4k", "1048576" into bytes.
Result<uint64_t> ParseByteSize(std::string_view text);
// Parses "0", "250ms", "30s", "10m", "2h", "1d" into milliseconds (bare = s).
Result<uint64_t> ParseDurationMs(std::string_view text);

}  // namespace overlay

#endif  // OVERLAY_BASE_STORAGE_OPTIONS_H_
