// SPDX-License-Identifier: Apache-2.0
// DataContainerImpl's set-up and put path; data_container_impl.h says where
// the rest lives.
#include "overlay/storage/data_container.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "data_container_impl.h"

namespace overlay::storage {
namespace {

// How long a put waits for L1 room while every object there is in use and no
// disk tier can take it; beyond that the put fails (a pipeline wider than its
// memory budget, e.g. disk = none with a tiny STORAGE.memory).
constexpr auto kRoomWait = std::chrono::seconds(120);

// Creates `dir` and its missing parents with mode 0700.
Status MakePrivateDirs(const std::string& dir) {
  for (size_t pos = 1; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::FromErrno("cannot create the disk tier's directory '" + part + "'", errno);
  }
  return Status::OK();
}

// A heap copy of bytes whose key is known.
Blob KeyedCopy(std::string_view bytes, const ObjectKey& key) {
  auto owned = std::make_shared<const std::string>(bytes);
  std::string_view view(*owned);
  return Blob(std::move(owned), view, key);
}

}  // namespace

DataContainerImpl::~DataContainerImpl() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  if (handoff_.joinable()) handoff_.join();
  if (l1_) l1_->SetEvictListener(nullptr);
}

Status DataContainerImpl::Init() {
  if (opt_.write == WriteMode::kThrough && opt_.disk == kNoDisk)
    return Status::InvalidArgument("STORAGE.write = through needs a disk tier, not disk = none");
  if (opt_.write == WriteMode::kBack && (opt_.disk == kNoDisk || opt_.cdn.empty()))
    return Status::InvalidArgument("STORAGE.write = back needs a disk tier and STORAGE.cdn");
  const std::string disk = DiskDir(opt_);
  if (opt_.segment.empty() && disk.empty())
    return Status::InvalidArgument("no local tier: set STORAGE.segment or STORAGE.disk");
  if (!opt_.segment.empty()) {
    ShmCacheOptions so;
    so.segment = opt_.segment;
    so.memory = opt_.memory;
    so.max_objects = opt_.max_objects;
    so.policy = opt_.policy;
    so.create = create_segment_;
    Result<std::shared_ptr<ShmCache>> l1 = ShmCache::Open(so);
    if (!l1.ok()) return l1.status();
    l1_ = std::move(*l1);
  }
  if (!disk.empty()) {
    OVERLAY_RETURN_IF_ERROR(MakePrivateDirs(disk));
    Result<std::unique_ptr<RocksTier>> l2 = NewRocksTier({disk, opt_.chunk});
    if (l2.ok()) {
      l2_ = std::move(*l2);
      disk_dir_ = disk;
    } else if (l2.status().IsBusy()) {
      // Another process on this node owns it (e.g. the endpoint beside a run).
      OVERLAY_RETURN_IF_ERROR(OpenDiskReader(disk, l2.status()));
    } else {
      return l2.status();
    }
  }
  if (!opt_.cdn.empty()) {
    CdnTierOptions co;
    co.base_url = opt_.cdn;
    co.timeout_ms = opt_.cdn_timeout_ms;
    co.connect_timeout_ms = std::min<uint64_t>(opt_.cdn_timeout_ms, 2000);
    Result<std::unique_ptr<CdnTier>> l3 = NewCdnTier(co);
    if (!l3.ok()) return l3.status();
    l3_ = std::move(*l3);
  }
  if (l1_ && l2_) {
    // Demotion: an object leaving L1 lands in L2 unless it is there already.
    l1_->SetEvictListener(
        [this](const ObjectKey& k, std::string_view bytes, const ObjectMeta& m) {
          return l2_->Head(k).ok() || l2_->Put(k, bytes, m).ok();
        });
  }
  if (Pushing() || opt_.ttl_ms > 0) worker_ = std::thread([this] { WorkerLoop(); });
  if (l1_ && (l2_ || l2_reader_)) handoff_ = std::thread([this] { HandoffLoop(); });
  return Status::OK();
}

Result<Blob> DataContainerImpl::Put(std::string_view bytes, const PutOptions& put) {
  return PutKeyed(ObjectKey::Of(bytes), bytes, put);
}

Result<Blob> DataContainerImpl::PutVerified(const ObjectKey& key, std::string_view bytes,
                                            const PutOptions& put) {
  return PutKeyed(key, bytes, put);
}

Result<PutLoan> DataContainerImpl::Loan(size_t size) {
  PutLoan loan;
  if (FitsL1(size)) {
    Result<WriteLoan> l = LoanL1(size);
    if (l.ok()) {
      loan.l1_ = std::move(*l);
      loan.in_l1_ = true;
      return loan;
    }
    if (!l2_) return l.status();
  }
  if (!l2_) return TooLarge(size);
  loan.heap_.resize(size);
  return loan;
}

Result<Blob> DataContainerImpl::Commit(PutLoan&& loan, const PutOptions& put) {
  return CommitKeyed(std::move(loan), nullptr, put);
}

Result<Blob> DataContainerImpl::CommitVerified(PutLoan&& loan, const ObjectKey& key,
                                               const PutOptions& put) {
  return CommitKeyed(std::move(loan), &key, put);
}

Result<Blob> DataContainerImpl::PutKeyed(const ObjectKey& key, std::string_view bytes,
                                         const PutOptions& put) {
  const ObjectMeta meta{bytes.size(), NowUnixMs(), ExpiryFor(put)};
  std::optional<Blob> stored;
  if (FitsL1(bytes.size())) {
    Result<Blob> have = l1_->Get(key);  // deduplication: no copy at all
    if (have.ok()) {
      stored = std::move(*have);
    } else {
      Result<WriteLoan> loan = LoanL1(bytes.size());
      if (!loan.ok() && !l2_) return loan.status();
      if (loan.ok()) {
        if (!bytes.empty()) std::memcpy(loan->data().data(), bytes.data(), bytes.size());
        Result<Blob> b = l1_->CommitBlob(std::move(*loan), meta.expiry_ms, &key, put.transient);
        if (!b.ok() && !l2_) return b.status();
        if (b.ok()) stored = std::move(*b);
      }
    }
  }
  OVERLAY_RETURN_IF_ERROR(StoreLower(key, bytes, meta, stored.has_value()));
  OVERLAY_RETURN_IF_ERROR(Finish(key, meta, put));
  if (!stored) return KeyedCopy(bytes, key);
  return std::move(*stored);
}

Result<Blob> DataContainerImpl::CommitKeyed(PutLoan&& loan, const ObjectKey* known,
                                            const PutOptions& put) {
  const uint64_t expiry = ExpiryFor(put);
  if (!loan.in_l1_) {
    const ObjectKey key = known != nullptr ? *known : ObjectKey::Of(loan.heap_);
    const ObjectMeta meta{loan.heap_.size(), NowUnixMs(), expiry};
    OVERLAY_RETURN_IF_ERROR(StoreLower(key, loan.heap_, meta, false));
    OVERLAY_RETURN_IF_ERROR(Finish(key, meta, put));
    auto owned = std::make_shared<const std::string>(std::move(loan.heap_));
    std::string_view view(*owned);
    return Blob(std::move(owned), view, key);
  }
  const size_t size = loan.l1_.size();
  Result<Blob> blob = l1_->CommitBlob(std::move(loan.l1_), expiry, known, put.transient);
  if (!blob.ok()) return blob;
  const ObjectKey key = *blob->key();
  const ObjectMeta meta{size, NowUnixMs(), expiry};
  OVERLAY_RETURN_IF_ERROR(StoreLower(key, blob->view(), meta, true));
  OVERLAY_RETURN_IF_ERROR(Finish(key, meta, put));
  return blob;
}

Result<WriteLoan> DataContainerImpl::LoanL1(size_t size) {
  Result<WriteLoan> l = l1_->Loan(size);
  if (l.ok() || l2_ || !(l.status().IsBusy() || l.status().IsTimeout())) return l;
  waiting_.fetch_add(1, std::memory_order_relaxed);
  const auto deadline = std::chrono::steady_clock::now() + kRoomWait;
  auto nap = std::chrono::milliseconds(1);
  while ((l.status().IsBusy() || l.status().IsTimeout()) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::milliseconds(50));
    l = l1_->Loan(size);
  }
  waiting_.fetch_sub(1, std::memory_order_relaxed);
  if (!l.ok() && l.status().IsBusy())
    return Status::Busy(std::string(l.status().message()) + "; waited " +
                        std::to_string(kRoomWait.count()) +
                        " s for room (no disk tier: STORAGE.disk = none)");
  return l;
}

uint64_t DataContainerImpl::ExpiryFor(const PutOptions& put) const {
  uint64_t ttl = put.ttl_ms.value_or(opt_.ttl_ms);
  return ttl == 0 ? 0 : NowUnixMs() + ttl;
}

bool DataContainerImpl::FitsL1(size_t size) const {
  if (!l1_) return false;
  const uint64_t cap = l1_->Stats().capacity_bytes;
  return size + 64 <= (l2_ ? cap / 2 : cap);
}

Status DataContainerImpl::TooLarge(size_t size) const {
  const std::string why =
      l2_reader_ ? "the disk tier belongs to another process (" + notice_ + ")"
                 : "there is no disk tier (STORAGE.disk = none)";
  return Status::InvalidArgument("object of " + std::to_string(size) +
                                 " bytes does not fit the L1 budget and " + why);
}

Status DataContainerImpl::StoreLower(const ObjectKey& key, std::string_view bytes,
                                     const ObjectMeta& meta, bool in_l1) {
  if (!write_refusal_.empty()) return Status::Busy(write_refusal_);
  if (!in_l1 && !l2_) return TooLarge(bytes.size());
  if (!l2_ || (in_l1 && opt_.write == WriteMode::kMemory)) return Status::OK();
  Status s = Pushing() ? l2_->PutJournaled(key, bytes, meta) : l2_->Put(key, bytes, meta);
  if (s.ok() && Pushing()) Kick();
  return s;
}

Result<std::unique_ptr<DataContainer>> DataContainer::Open(const StorageOptions& options) {
  auto c = std::make_unique<DataContainerImpl>(options);
  OVERLAY_RETURN_IF_ERROR(c->Init());
  return std::unique_ptr<DataContainer>(std::move(c));
}

Result<std::unique_ptr<DataContainer>> DataContainer::OpenExisting(const StorageOptions& options) {
  auto c = std::make_unique<DataContainerImpl>(options, /*create_segment=*/false);
  OVERLAY_RETURN_IF_ERROR(c->Init());
  return std::unique_ptr<DataContainer>(std::move(c));
}

}  // namespace overlay::storage
