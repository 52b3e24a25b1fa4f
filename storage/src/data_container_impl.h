// SPDX-License-Identifier: Apache-2.0
// DataContainerImpl: the DataContainer over L1 (ShmCache), L2 (RocksTier) and
// L3 (CdnTier). Internal to storage/; its definitions are split by concern:
//   data_container.cc          set-up and the put path (hash once, L1 then lower tiers)
//   data_container_tiers.cc    reads through the tiers: promotion into L1, stat,
//                              eviction (demotion), pinning, expiry
//   data_container_catalog.cc  names: binding, lookup, listing, removal
//   data_container_push.cc     write-back to L3: the journal and its worker thread
//
// Thread-safety: safe for concurrent use (DataContainer's contract); members
// below mu_ are guarded by it, the tiers synchronize themselves.
#ifndef OVERLAY_STORAGE_SRC_DATA_CONTAINER_IMPL_H_
#define OVERLAY_STORAGE_SRC_DATA_CONTAINER_IMPL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "overlay/storage/cdn_tier.h"
#include "overlay/storage/data_container.h"
#include "overlay/storage/rocks_tier.h"

namespace overlay::storage {

class DataContainerImpl final : public DataContainer {
 public:
  explicit DataContainerImpl(const StorageOptions& o, bool create_segment = true)
      : opt_(o), create_segment_(create_segment) {}
  ~DataContainerImpl() override;

  Status Init();

  Result<Blob> Put(std::string_view bytes, const PutOptions& put) override;
  Result<Blob> PutVerified(const ObjectKey& key, std::string_view bytes,
                           const PutOptions& put) override;
  Result<PutLoan> Loan(size_t size) override;
  Result<Blob> Commit(PutLoan&& loan, const PutOptions& put) override;
  Result<Blob> CommitVerified(PutLoan&& loan, const ObjectKey& key,
                              const PutOptions& put) override;
  Status Name(const std::string& name, const ObjectKey& key, uint64_t size) override;
  Result<Blob> Get(const ObjectKey& key) override;
  Result<CatalogEntry> Lookup(std::string_view name) override;
  Result<ObjectKey> Resolve(std::string_view text) override;
  Result<ObjectInfo> Stat(const ObjectKey& key) override;
  Result<std::vector<CatalogEntry>> List() override;
  Status Evict(const ObjectKey& key) override;
  Status Pin(const ObjectKey& key, bool pinned) override;
  Result<size_t> ExpireNow() override;
  Result<uint64_t> JournalBacklog() override;
  Status DrainJournal(std::chrono::milliseconds timeout) override;
  Result<bool> Remove(std::string_view name) override;

  size_t Waiting() const override { return waiting_.load(std::memory_order_relaxed); }
  TierReads reads() const override;
  const std::string& disk_dir() const override { return disk_dir_; }
  const std::string& notice() const override { return notice_; }

  ShmCache* l1() override { return l1_.get(); }
  RocksTier* l2() override { return l2_.get(); }
  CdnTier* l3() override { return l3_.get(); }

 private:
  bool Pushing() const { return l2_ && l3_ && opt_.write == WriteMode::kBack; }

  // ---- the put path (data_container.cc)
  Result<Blob> PutKeyed(const ObjectKey& key, std::string_view bytes, const PutOptions& put);
  // Commits a filled loan under `*known`, or the key of its bytes when null.
  Result<Blob> CommitKeyed(PutLoan&& loan, const ObjectKey* known, const PutOptions& put);
  // An L1 loan. Without a disk tier, a cache full of objects in use waits for
  // readers to let go (backpressure) instead of failing the put at once.
  Result<WriteLoan> LoanL1(size_t size);
  uint64_t ExpiryFor(const PutOptions& put) const;
  // Objects above half the budget bypass L1 when L2 can hold them, so one huge
  // put does not flush the whole cache.
  bool FitsL1(size_t size) const;
  Status TooLarge(size_t size) const;
  Status StoreLower(const ObjectKey& key, std::string_view bytes, const ObjectMeta& meta,
                    bool in_l1);

  // ---- tiers (data_container_tiers.cc)
  // NotFound when a local tier still holds the object past its expiry, or an L3
  // deletion of it (TTL) is pending in the journal.
  Status CheckNotExpired(const ObjectKey& key);
  void Promote(const ObjectKey& key, std::string_view bytes, const Result<ObjectMeta>& meta);

  // ---- catalog (data_container_catalog.cc)
  // Names live in L2 when there is one, so they never fill L1; without it
  // they are L1 records, and the object they name is pinned there, since its
  // L1 copy is the only one.
  Status StoreName(const CatalogEntry& e);
  // A stored object's pin and name, as `put` asks.
  Status Finish(const ObjectKey& key, const ObjectMeta& meta, const PutOptions& put);

  // ---- write-back to L3 (data_container_push.cc)
  void Kick();
  std::string LastPushError();
  // Pushes journaled operations to L3; false after the first failure.
  bool PushBatch(bool* more);
  void WorkerLoop();

  const StorageOptions opt_;
  std::string disk_dir_;
  std::string notice_;
  std::atomic<size_t> waiting_{0};
  // Get's counters (reads()), relaxed: they are statistics.
  std::array<std::atomic<uint64_t>, 3> hits_{}, misses_{}, hit_bytes_{};
  void CountHit(int tier, size_t bytes) {
    hits_[tier].fetch_add(1, std::memory_order_relaxed);
    hit_bytes_[tier].fetch_add(bytes, std::memory_order_relaxed);
  }
  void CountMiss(int tier) { misses_[tier].fetch_add(1, std::memory_order_relaxed); }
  std::shared_ptr<ShmCache> l1_;
  std::unique_ptr<RocksTier> l2_;
  std::unique_ptr<CdnTier> l3_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;            // guarded by mu_
  bool kick_ = false;            // guarded by mu_
  uint64_t failures_ = 0;        // guarded by mu_
  std::string last_push_error_;  // guarded by mu_
  std::thread worker_;
  const bool create_segment_;
};

}  // namespace overlay::storage

#endif  // OVERLAY_STORAGE_SRC_DATA_CONTAINER_IMPL_H_
