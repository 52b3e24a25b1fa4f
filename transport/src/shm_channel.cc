// SPDX-License-Identifier: Apache-2.0
#include "overlay/transport/shm_channel.h"

#include <atomic>
#include <bit>
#include <cassert>
#include <utility>

#include "spsc_ring.h"

namespace overlay::transport {

using detail::SpscRing;

// Segment header. Every field but the atomics is written once by Create; Open
// checks them against the segment size before use.
struct ShmChannel::Layout {
  static constexpr uint64_t kMagic = 0x4f564c5953484d31;  // "OVLYSHM1"
  static constexpr uint32_t kVersion = 2;  // 2: rings keep each side's last look

  uint64_t magic;
  uint32_t version;
  uint32_t segment_id;
  uint64_t chunk_bytes;
  uint32_t chunk_count;
  uint32_t capacity;  // of both rings
  uint64_t published_offset;
  uint64_t free_offset;
  uint64_t chunks_offset;
  std::atomic<uint64_t> overflows;
  std::atomic<uint64_t> corrupt;

  SpscRing* published() { return At<SpscRing>(published_offset); }
  SpscRing* free_ring() { return At<SpscRing>(free_offset); }
  std::byte* chunk(uint32_t i) { return At<std::byte>(chunks_offset + uint64_t{i} * chunk_bytes); }

 private:
  template <typename T>
  T* At(uint64_t offset) {
    return reinterpret_cast<T*>(reinterpret_cast<std::byte*>(this) + offset);
  }
};

namespace {

constexpr uint64_t kAlign = 64;
uint64_t AlignUp(uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

}  // namespace

ShmLoan::ShmLoan(ShmLoan&& other) noexcept
    : channel_(std::exchange(other.channel_, nullptr)), desc_(other.desc_), bytes_(other.bytes_) {}

ShmLoan& ShmLoan::operator=(ShmLoan&& other) noexcept {
  if (this != &other) {
    if (channel_ != nullptr) channel_->ReturnLoan(desc_.chunk);
    channel_ = std::exchange(other.channel_, nullptr);
    desc_ = other.desc_;
    bytes_ = other.bytes_;
  }
  return *this;
}

ShmLoan::~ShmLoan() {
  if (channel_ != nullptr) channel_->ReturnLoan(desc_.chunk);
}

ShmSample::ShmSample(ShmSample&& other) noexcept
    : channel_(std::exchange(other.channel_, nullptr)), desc_(other.desc_), bytes_(other.bytes_) {}

ShmSample& ShmSample::operator=(ShmSample&& other) noexcept {
  if (this != &other) {
    Release();
    channel_ = std::exchange(other.channel_, nullptr);
    desc_ = other.desc_;
    bytes_ = other.bytes_;
  }
  return *this;
}

void ShmSample::Release() {
  if (channel_ != nullptr) std::exchange(channel_, nullptr)->ReleaseChunk(desc_.chunk);
  bytes_ = {};
}

Result<std::unique_ptr<ShmChannel>> ShmChannel::Create(const std::string& name,
                                                       const ShmChannelOptions& options) {
  if (options.chunk_count == 0 || options.chunk_bytes == 0 || options.chunk_count > (1u << 24)) {
    return Status::InvalidArgument("shm channel needs 1..2^24 chunks of at least one byte");
  }
  const uint64_t capacity = std::bit_ceil(uint64_t{options.chunk_count});
  const uint64_t chunk_bytes = AlignUp(options.chunk_bytes);
  const uint64_t published = AlignUp(sizeof(Layout));
  const uint64_t free_ring = AlignUp(published + SpscRing::BytesFor(capacity));
  const uint64_t chunks = AlignUp(free_ring + SpscRing::BytesFor(capacity));
  const uint64_t total = chunks + chunk_bytes * options.chunk_count;
  auto segment = ShmSegment::Create(name, total);
  if (!segment.ok()) return segment.status();

  auto* layout = new (segment->base()) Layout;
  layout->magic = Layout::kMagic;
  layout->version = Layout::kVersion;
  layout->segment_id = options.segment_id;
  layout->chunk_bytes = chunk_bytes;
  layout->chunk_count = options.chunk_count;
  layout->capacity = static_cast<uint32_t>(capacity);
  layout->published_offset = published;
  layout->free_offset = free_ring;
  layout->chunks_offset = chunks;
  layout->overflows.store(0);
  layout->corrupt.store(0);
  SpscRing::Construct(layout->published(), capacity);
  SpscRing* free_list = SpscRing::Construct(layout->free_ring(), capacity);
  for (uint32_t i = 0; i < options.chunk_count; ++i) free_list->TryPush(ShmDescriptor{.chunk = i});
  return std::unique_ptr<ShmChannel>(new ShmChannel(std::move(segment).value(), options.spin));
}

Result<std::unique_ptr<ShmChannel>> ShmChannel::Open(const std::string& name,
                                                     const ShmChannelOptions& options) {
  auto segment = ShmSegment::Open(name);
  if (!segment.ok()) return segment.status();
  const uint64_t size = segment->size();
  if (size < sizeof(Layout)) return Status::Corruption(name + " is too small for a channel");
  const auto* l = reinterpret_cast<const Layout*>(segment->base());
  const uint64_t ring = SpscRing::BytesFor(l->capacity);
  const bool fits = l->magic == Layout::kMagic && l->version == Layout::kVersion &&
                    std::has_single_bit(l->capacity) && l->capacity >= l->chunk_count &&
                    l->published_offset + ring <= size && l->free_offset + ring <= size &&
                    l->chunk_bytes > 0 && l->chunks_offset <= size &&
                    (size - l->chunks_offset) / l->chunk_bytes >= l->chunk_count;
  if (!fits) return Status::Corruption(name + " is not a valid shm channel segment");
  return std::unique_ptr<ShmChannel>(new ShmChannel(std::move(segment).value(), options.spin));
}

ShmChannel::ShmChannel(ShmSegment segment, std::chrono::microseconds spin)
    : segment_(std::move(segment)),
      layout_(reinterpret_cast<Layout*>(segment_.base())),
      spin_(spin) {}

ShmChannel::~ShmChannel() = default;

Result<ShmLoan> ShmChannel::Loan(size_t size, std::chrono::microseconds wait) {
  if (size > layout_->chunk_bytes) {
    return Status::InvalidArgument("loan of " + std::to_string(size) + " bytes exceeds chunks of " +
                                   std::to_string(layout_->chunk_bytes));
  }
  std::optional<uint32_t> chunk;
  if (!stash_.empty()) {
    chunk = stash_.back();
    stash_.pop_back();
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (!chunk) {
    if (auto d = layout_->free_ring()->TryPop()) {
      if (d->chunk < layout_->chunk_count) {
        chunk = d->chunk;
        break;
      }
      layout_->corrupt.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (!layout_->free_ring()->WaitNonEmpty(spin_, deadline)) {
      layout_->overflows.fetch_add(1, std::memory_order_relaxed);
      return Status::Busy("no free shm chunk: the consumer is too slow");
    }
  }
  ShmDescriptor desc{layout_->segment_id, *chunk,
                     layout_->chunks_offset + uint64_t{*chunk} * layout_->chunk_bytes, size, 0};
  return ShmLoan(this, desc, std::span(layout_->chunk(*chunk), size));
}

void ShmChannel::Publish(ShmLoan&& loan) {
  assert(loan.channel_ == this);
  ShmDescriptor desc = loan.desc_;
  desc.length = loan.bytes_.size();
  desc.sequence = next_sequence_++;
  loan.channel_ = nullptr;
  // Never full: both rings hold every chunk at once.
  [[maybe_unused]] bool pushed = layout_->published()->TryPush(desc);
  assert(pushed);
}

std::optional<ShmSample> ShmChannel::TryTake() {
  while (auto d = layout_->published()->TryPop()) {
    const bool valid =
        d->segment == layout_->segment_id && d->chunk < layout_->chunk_count &&
        d->offset == layout_->chunks_offset + uint64_t{d->chunk} * layout_->chunk_bytes &&
        d->length <= layout_->chunk_bytes;
    if (valid) {
      return ShmSample(this, *d,
                       std::span<const std::byte>(segment_.base() + d->offset, d->length));
    }
    layout_->corrupt.fetch_add(1, std::memory_order_relaxed);
  }
  return std::nullopt;
}

Result<ShmSample> ShmChannel::Take(std::chrono::microseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto s = TryTake()) return std::move(*s);
    if (!layout_->published()->WaitNonEmpty(spin_, deadline)) {
      return Status::Timeout("nothing published on " + segment_.name());
    }
  }
}

void ShmChannel::ReturnLoan(uint32_t chunk) { stash_.push_back(chunk); }

void ShmChannel::ReleaseChunk(uint32_t chunk) {
  [[maybe_unused]] bool pushed = layout_->free_ring()->TryPush(ShmDescriptor{.chunk = chunk});
  assert(pushed);
}

uint64_t ShmChannel::overflows() const {
  return layout_->overflows.load(std::memory_order_relaxed);
}
uint64_t ShmChannel::corrupt() const { return layout_->corrupt.load(std::memory_order_relaxed); }
uint64_t ShmChannel::sleeps() const {
  return layout_->published()->sleeps.load(std::memory_order_relaxed) +
         layout_->free_ring()->sleeps.load(std::memory_order_relaxed);
}
size_t ShmChannel::chunk_bytes() const { return layout_->chunk_bytes; }

}  // namespace overlay::transport
