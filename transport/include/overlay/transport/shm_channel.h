// SPDX-License-Identifier: Apache-2.0
// ShmChannel: a one-way, zero-copy link between two processes on one node, in
// the iceoryx style. The segment holds a pool of fixed-size chunks and two
// lock-free SPSC descriptor rings: "published" (producer → consumer) and "free"
// (consumer → producer). The producer loans a chunk, fills it in place and
// publishes its descriptor; the consumer takes the descriptor, reads the bytes
// where the producer wrote them, and releases the chunk. Bytes are never copied.
//
//   segment: [header][published ring][free ring][chunk 0][chunk 1]...[chunk n-1]
//
// Waiting spins for ShmChannelOptions::spin, then sleeps on a futex word in the
// segment, so an idle consumer burns no CPU and a hot one never enters the kernel.
//
// Thread-safety: single producer, single consumer: at most one thread (in any
// process) calls the producer methods (Loan, Publish) and at most one the
// consumer methods (TryTake, Take) of a given segment; the two may run concurrently.
// Ownership: the creating ShmChannel unlinks the segment name on destruction;
// loans and samples refer to their channel, which must outlive them.
#ifndef OVERLAY_TRANSPORT_SHM_CHANNEL_H_
#define OVERLAY_TRANSPORT_SHM_CHANNEL_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "overlay/status.h"
#include "overlay/transport/shm_segment.h"

namespace overlay::transport {

// A position in a shared segment: what travels through the rings (no pointers).
struct ShmDescriptor {
  uint32_t segment = 0;   // ShmChannelOptions::segment_id of the segment
  uint32_t chunk = 0;     // chunk index in the pool
  uint64_t offset = 0;    // byte offset of the payload from the segment base
  uint64_t length = 0;    // payload bytes
  uint64_t sequence = 0;  // producer's publish counter, starting at 0
};

struct ShmChannelOptions {
  // Bytes per chunk (largest message). Default: 64 KiB.
  size_t chunk_bytes = size_t{64} << 10;
  // Chunks in the pool: messages in flight or held by the consumer. Default: 64.
  uint32_t chunk_count = 64;
  // Written into every descriptor; lets a reader holding several segments tell
  // them apart. Default: 1.
  uint32_t segment_id = 1;
  // How long a waiting side busy-polls before sleeping on the futex. A hand-off
  // within this window costs well under a microsecond; after it, a wake-up costs
  // tens of microseconds. Default: 50 µs. Not stored in the segment.
  std::chrono::microseconds spin{50};
};

class ShmChannel;

// A chunk loaned to the producer, writable until published.
// Thread-safety: owned by the producer thread. Ownership: move-only; a loan
// destroyed unpublished returns its chunk to the producer's pool.
class ShmLoan {
 public:
  ShmLoan(ShmLoan&& other) noexcept;
  ShmLoan& operator=(ShmLoan&& other) noexcept;
  ShmLoan(const ShmLoan&) = delete;
  ShmLoan& operator=(const ShmLoan&) = delete;
  ~ShmLoan();

  std::span<std::byte> bytes() const { return bytes_; }
  // Shrinks the payload that Publish will announce. REQUIRES: size <= bytes().size()
  void Truncate(size_t size) { bytes_ = bytes_.first(size); }
  const ShmDescriptor& descriptor() const { return desc_; }

 private:
  friend class ShmChannel;
  ShmLoan(ShmChannel* channel, ShmDescriptor desc, std::span<std::byte> bytes)
      : channel_(channel), desc_(desc), bytes_(bytes) {}
  ShmChannel* channel_ = nullptr;
  ShmDescriptor desc_;
  std::span<std::byte> bytes_;
};

// A published chunk taken by the consumer: read-only, in place.
// Thread-safety: owned by the consumer thread. Ownership: move-only; destruction
// (or Release) hands the chunk back to the producer.
class ShmSample {
 public:
  ShmSample(ShmSample&& other) noexcept;
  ShmSample& operator=(ShmSample&& other) noexcept;
  ShmSample(const ShmSample&) = delete;
  ShmSample& operator=(const ShmSample&) = delete;
  ~ShmSample() { Release(); }

  std::span<const std::byte> bytes() const { return bytes_; }
  const ShmDescriptor& descriptor() const { return desc_; }
  // Returns the chunk now; the sample is empty afterwards. Idempotent.
  void Release();

 private:
  friend class ShmChannel;
  ShmSample(ShmChannel* channel, ShmDescriptor desc, std::span<const std::byte> bytes)
      : channel_(channel), desc_(desc), bytes_(bytes) {}
  ShmChannel* channel_ = nullptr;
  ShmDescriptor desc_;
  std::span<const std::byte> bytes_;
};

class ShmChannel {
 public:
  // Creates the segment `name` (mode 0600) with all chunks free.
  // Errors: InvalidArgument (bad options), IOError (e.g. the name exists).
  static Result<std::unique_ptr<ShmChannel>> Create(const std::string& name,
                                                    const ShmChannelOptions& options);
  // Attaches to a segment made by Create (possibly in another process). Only
  // options.spin is used. Errors: NotFound, Corruption (not a channel segment).
  static Result<std::unique_ptr<ShmChannel>> Open(const std::string& name,
                                                  const ShmChannelOptions& options = {});
  ~ShmChannel();
  ShmChannel(const ShmChannel&) = delete;
  ShmChannel& operator=(const ShmChannel&) = delete;

  // Producer: a free chunk with room for `size` bytes, waiting up to `wait` for
  // the consumer to release one. Errors: InvalidArgument (size > chunk_bytes),
  // Busy (no chunk freed in time; counted in overflows()).
  Result<ShmLoan> Loan(size_t size, std::chrono::microseconds wait = {});
  // Producer: hands the loan's chunk to the consumer and wakes it if asleep.
  // REQUIRES: the loan came from this channel.
  void Publish(ShmLoan&& loan);

  // Consumer: the next published sample, or nullopt at once when there is none.
  // A descriptor pointing outside the pool is dropped and counted as corrupt.
  std::optional<ShmSample> TryTake();
  // Consumer: waits up to `timeout` (spin, then futex sleep). Errors: Timeout.
  Result<ShmSample> Take(std::chrono::microseconds timeout);

  // Loans refused for lack of a free chunk (the consumer was too slow).
  uint64_t overflows() const;
  // Descriptors the consumer dropped because they failed validation.
  uint64_t corrupt() const;
  // Times a waiting side went to sleep on the futex (for tests and tuning).
  uint64_t sleeps() const;
  const ShmSegment& segment() const { return segment_; }
  size_t chunk_bytes() const;

  struct Layout;  // the segment's header; defined in shm_channel.cc

 private:
  friend class ShmLoan;
  friend class ShmSample;
  ShmChannel(ShmSegment segment, std::chrono::microseconds spin);
  void ReturnLoan(uint32_t chunk);
  void ReleaseChunk(uint32_t chunk);

  ShmSegment segment_;
  Layout* layout_;
  const std::chrono::microseconds spin_;
  uint64_t next_sequence_ = 0;
  // Chunks the producer holds (returned by unpublished loans); producer-only.
  std::vector<uint32_t> stash_;
};

}  // namespace overlay::transport

#endif  // OVERLAY_TRANSPORT_SHM_CHANNEL_H_
