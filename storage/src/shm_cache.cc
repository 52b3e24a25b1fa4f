// SPDX-License-Identifier: Apache-2.0
// L1 shared-memory cache: the public API over ShmCache::Impl (shm_impl.h,
// which also lists where each part of the implementation lives).
#include "overlay/storage/shm_cache.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "shm_impl.h"

namespace overlay::storage {

using namespace shm;  // NOLINT: the layout vocabulary is used throughout

uint64_t NowUnixMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// ---- handles ----

ReadHandle& ReadHandle::operator=(ReadHandle&& o) noexcept {
  if (this != &o) {
    Release();
    cache_ = std::exchange(o.cache_, nullptr);
    desc_ = o.desc_;
    pin_ = o.pin_;
    view_ = std::exchange(o.view_, {});
  }
  return *this;
}

void ReadHandle::Release() {
  if (cache_ == nullptr) return;
  std::exchange(cache_, nullptr)->ReleasePin(desc_, pin_);
  view_ = {};
}

WriteLoan& WriteLoan::operator=(WriteLoan&& o) noexcept {
  if (this != &o) {
    Abort();
    cache_ = std::exchange(o.cache_, nullptr);
    desc_ = o.desc_;
    data_ = std::exchange(o.data_, {});
  }
  return *this;
}

void WriteLoan::Abort() {
  if (cache_ == nullptr) return;
  std::exchange(cache_, nullptr)->AbortLoan(desc_);
  data_ = {};
}

// ---- ShmCache ----

ShmCache::ShmCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ShmCache::~ShmCache() = default;

void ShmCache::ReleasePin(uint32_t desc, uint32_t pin) const {
  impl_->ReleaseRecordedPin(desc, pin);
}

void ShmCache::AbortLoan(uint32_t desc) const {
  Impl::Lock lock(impl_.get());
  impl_->FreeLoanLocked(desc);
}

Result<std::shared_ptr<ShmCache>> ShmCache::Open(const ShmCacheOptions& options) {
  Result<std::unique_ptr<Impl>> impl = Impl::Map(options);
  if (!impl.ok()) return impl.status();
  {
    // A process opening the segment (e.g. a restarted daemon) first drops
    // the pins that dead processes left.
    Impl::Lock lock(impl->get());
    (*impl)->ReclaimDeadOpenersLocked();
    (*impl)->ClaimOpenerLocked();
  }
  return std::shared_ptr<ShmCache>(new ShmCache(std::move(*impl)));
}

Result<WriteLoan> ShmCache::Loan(size_t size) {
  Impl& m = *impl_;
  const uint64_t units = 1 + RoundUp(size, kUnit) / kUnit;
  if (units * kUnit > m.hdr->arena_bytes)
    return Status::InvalidArgument("object of " + std::to_string(size) +
                                   " bytes exceeds the L1 budget of " +
                                   std::to_string(m.hdr->arena_bytes) + " bytes");
  uint32_t di = 0;
  uint64_t off = 0;
  OVERLAY_RETURN_IF_ERROR(m.LoanUnits(units, &di, &off));
  m.D(di).block.store(off, std::memory_order_relaxed);
  m.D(di).size.store(size, std::memory_order_relaxed);
  WriteLoan loan;
  loan.cache_ = this;
  loan.desc_ = di;
  loan.data_ = std::span<char>(m.arena + off + kUnit, size);
  return loan;
}

Result<ObjectKey> ShmCache::Commit(WriteLoan&& loan, uint64_t expiry_ms) {
  if (loan.cache_ != this) return Status::InvalidArgument("loan is empty or from another cache");
  const std::span<char> bytes = loan.data_;
  const ObjectKey key = ObjectKey::Of(std::string_view(bytes.data(), bytes.size()));
  // The key's index slot is a cache miss; let it load while the lock is taken.
  __builtin_prefetch(&impl_->index[key.lo & impl_->hdr->index_mask]);
  impl_->PrepareLoan(loan.desc_, key, expiry_ms, 0);
  Impl::Lock lock(impl_.get());
  uint32_t existing = 0;
  if (impl_->FindLocked(key, false, &existing)) {
    impl_->FreeLoanLocked(loan.desc_);
  } else {
    OVERLAY_RETURN_IF_ERROR(impl_->PublishLocked(loan.desc_, key));
  }
  loan.cache_ = nullptr;
  return key;
}

Status ShmCache::Put(const ObjectKey& key, std::string_view bytes, const ObjectMeta& meta) {
  uint32_t di = 0;
  if (impl_->Pin(key, false, &di)) {
    impl_->Unpin(di);
    return Status::OK();
  }
  Result<WriteLoan> loan = Loan(bytes.size());
  if (!loan.ok()) return loan.status();
  if (!bytes.empty()) std::memcpy(loan->data().data(), bytes.data(), bytes.size());
  Result<ObjectKey> got = Commit(std::move(*loan), meta.expiry_ms);
  if (!got.ok()) return got.status();
  if (!(*got == key)) {
    (void)Erase(*got);
    return Status::InvalidArgument("bytes do not hash to key " + key.ToHex());
  }
  return Status::OK();
}

Result<ReadHandle> ShmCache::Acquire(const ObjectKey& key) const {
  uint32_t di = 0;
  if (!impl_->Pin(key, false, &di)) return Status::NotFound("L1 miss: " + key.ToHex());
  uint64_t expiry = impl_->D(di).expiry_ms.load(std::memory_order_relaxed);
  if (expiry != 0 && NowUnixMs() >= expiry) {
    impl_->Unpin(di);
    return Status::NotFound("L1: expired: " + key.ToHex());
  }
  impl_->Touch(di);
  ReadHandle h;
  h.cache_ = this;
  h.desc_ = di;
  h.pin_ = impl_->RecordPin(di);
  h.view_ = impl_->ViewOf(di);
  return h;
}

Result<Blob> ShmCache::Get(const ObjectKey& key) {
  Result<ReadHandle> h = Acquire(key);
  if (!h.ok()) return h.status();
  return BlobOf(std::move(*h), key);
}

Blob ShmCache::BlobOf(ReadHandle&& handle, const ObjectKey& key) const {
  struct Owner {
    std::shared_ptr<const ShmCache> cache;
    ReadHandle handle;  // destroyed before `cache`
  };
  std::string_view view = handle.view();
  auto owner = std::make_shared<Owner>(Owner{shared_from_this(), std::move(handle)});
  return Blob(std::move(owner), view, key);
}

Result<Blob> ShmCache::CommitBlob(WriteLoan&& loan, uint64_t expiry_ms, const ObjectKey* known,
                                  bool transient) {
  if (loan.cache_ != this) return Status::InvalidArgument("loan is empty or from another cache");
  const std::span<char> bytes = loan.data_;
  const ObjectKey key =
      known != nullptr ? *known : ObjectKey::Of(std::string_view(bytes.data(), bytes.size()));
  __builtin_prefetch(&impl_->index[key.lo & impl_->hdr->index_mask]);
  impl_->PrepareLoan(loan.desc_, key, expiry_ms, transient ? uint32_t{kTransient} : 0u);
  uint32_t di = loan.desc_;
  {
    Impl::Lock lock(impl_.get());
    uint32_t existing = 0;
    if (impl_->FindLocked(key, false, &existing)) {
      impl_->FreeLoanLocked(loan.desc_);
      // Under the writer mutex a kLive descriptor cannot be removed, so a plain
      // increment pins it.
      impl_->D(existing).ctl.fetch_add(kRefOne, std::memory_order_acq_rel);
      impl_->Touch(existing);
      di = existing;
    } else {
      // Published with our pin already taken, so no eviction can come between.
      OVERLAY_RETURN_IF_ERROR(impl_->PublishLocked(loan.desc_, key, 1));
    }
  }
  loan.cache_ = nullptr;
  ReadHandle h;
  h.cache_ = this;
  h.desc_ = di;
  h.pin_ = impl_->RecordPin(di);
  h.view_ = impl_->ViewOf(di);
  return BlobOf(std::move(h), key);
}

Result<ObjectMeta> ShmCache::Head(const ObjectKey& key) {
  uint32_t di = 0;
  if (!impl_->Pin(key, false, &di)) return Status::NotFound("L1 miss: " + key.ToHex());
  ObjectMeta meta = impl_->MetaOf(di);
  impl_->Unpin(di);
  return meta;
}

Status ShmCache::Erase(const ObjectKey& key) {
  Impl::Lock lock(impl_.get());
  uint32_t di = 0;
  if (impl_->FindLocked(key, false, &di)) impl_->RemoveLocked(di);
  return Status::OK();
}

Status ShmCache::Keep(const ObjectKey& key) {
  Impl::Lock lock(impl_.get());
  uint32_t di = 0;
  if (!impl_->FindLocked(key, false, &di)) return Status::NotFound("not in L1: " + key.ToHex());
  impl_->D(di).flags.fetch_and(~uint32_t{kTransient});
  return Status::OK();
}

Status ShmCache::SetPinned(const ObjectKey& key, bool pinned) {
  Impl::Lock lock(impl_.get());
  uint32_t di = 0;
  if (!impl_->FindLocked(key, false, &di)) return Status::NotFound("not in L1: " + key.ToHex());
  if (pinned)
    impl_->D(di).flags.fetch_or(kPinned);
  else
    impl_->D(di).flags.fetch_and(~uint32_t{kPinned});
  return Status::OK();
}

Status ShmCache::Evict(const ObjectKey& key) {
  uint32_t di = 0;
  if (!impl_->Pin(key, false, &di)) return Status::NotFound("not in L1: " + key.ToHex());
  if (impl_->D(di).flags.load() & kPinned) {
    impl_->Unpin(di);
    return Status::Busy("object is pinned: " + key.ToHex());
  }
  if (impl_->EvictPinned({di}) == 0)
    return Status::Busy("object is being read and no lower tier took it: " + key.ToHex());
  return Status::OK();
}

std::vector<ObjectKey> ShmCache::ExpireNow(uint64_t now_ms) {
  std::vector<ObjectKey> out;
  Impl::Lock lock(impl_.get());
  const uint32_t high = impl_->High();
  for (uint32_t i = 0; i < high; ++i) {
    const Desc& d = impl_->D(i);
    if (StateOf(d.ctl.load(std::memory_order_acquire)) != kLive) continue;
    uint64_t e = d.expiry_ms.load(std::memory_order_relaxed);
    if (e == 0 || e > now_ms) continue;
    if (!(d.flags.load(std::memory_order_relaxed) & kRecord)) out.push_back(impl_->KeyOf(i));
    impl_->RemoveLocked(i);
  }
  return out;
}

Status ShmCache::PutRecord(const ObjectKey& key, std::string_view bytes, uint64_t expiry_ms) {
  Result<WriteLoan> loan = Loan(bytes.size());
  if (!loan.ok()) return loan.status();
  if (!bytes.empty()) std::memcpy(loan->data().data(), bytes.data(), bytes.size());
  impl_->PrepareLoan(loan->desc_, key, expiry_ms, kRecord | kPinned);
  Impl::Lock lock(impl_.get());
  uint32_t old = 0;
  if (impl_->FindLocked(key, true, &old)) impl_->RemoveLocked(old);
  Status s = impl_->PublishLocked(loan->desc_, key);
  if (!s.ok()) {
    impl_->FreeLoanLocked(loan->desc_);
  }
  loan->cache_ = nullptr;
  return s;
}

Result<ReadHandle> ShmCache::AcquireRecord(const ObjectKey& key) const {
  uint32_t di = 0;
  if (!impl_->Pin(key, true, &di)) return Status::NotFound("no L1 record " + key.ToHex());
  uint64_t expiry = impl_->D(di).expiry_ms.load(std::memory_order_relaxed);
  if (expiry != 0 && NowUnixMs() >= expiry) {
    impl_->Unpin(di);
    return Status::NotFound("L1 record expired: " + key.ToHex());
  }
  ReadHandle h;
  h.cache_ = this;
  h.desc_ = di;
  h.pin_ = impl_->RecordPin(di);
  h.view_ = impl_->ViewOf(di);
  return h;
}

Status ShmCache::EraseRecord(const ObjectKey& key) {
  Impl::Lock lock(impl_.get());
  uint32_t di = 0;
  if (impl_->FindLocked(key, true, &di)) impl_->RemoveLocked(di);
  return Status::OK();
}

std::vector<ShmEntry> ShmCache::List() const {
  std::vector<ShmEntry> out;
  const uint32_t high = impl_->High();
  for (uint32_t i = 0; i < high; ++i) {
    const Desc& d = impl_->D(i);
    uint64_t c = d.ctl.load(std::memory_order_acquire);
    if (StateOf(c) != kLive) continue;
    uint32_t f = d.flags.load(std::memory_order_relaxed);
    out.push_back(ShmEntry{impl_->KeyOf(i), impl_->MetaOf(i), (f & kPinned) != 0,
                           (f & kRecord) != 0, static_cast<uint32_t>(RefsOf(c))});
  }
  return out;
}

ShmStats ShmCache::Stats() const {
  const Header& h = *impl_->hdr;
  return ShmStats{impl_->policy(),       h.arena_bytes,      h.live_bytes.load(),
                  h.live_objects.load(), h.evictions.load(), h.recoveries.load(),
                  h.reclaimed_pins.load()};
}

void ShmCache::SetEvictListener(EvictListener listener) {
  std::lock_guard<std::mutex> g(impl_->listener_mu);
  impl_->can_demote.store(static_cast<bool>(listener), std::memory_order_relaxed);
  impl_->listener = std::move(listener);
}

}  // namespace overlay::storage
