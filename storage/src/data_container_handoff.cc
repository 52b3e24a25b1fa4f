// SPDX-License-Identifier: Apache-2.0
// DataContainerImpl, a disk tier shared by the processes of one segment. The
// process that opened L2 first owns it (RocksDB's LOCK); the others read it
// through a read-only view and put into L1 only. Nothing is lost that way:
//  - the owner's eviction demotes any victim, whoever put it;
//  - a reader's eviction drops only objects L2 holds; any other victim it
//    pins and remembers (KeepForOwner), so it stays in L1;
//  - the owner copies pinned L1 objects that L2 lacks into L2 (HandoffPass:
//    within a pass of a reader's signal, an L1 record, and every second in
//    any case, since a reader cannot write the signal into an L1 full of
//    pinned objects), and the reader then unpins what it kept.
// Names a reader binds are L1 records marked for_owner, which the owner
// moves to L2 the same way. A reader that exits first leaves what it kept
// pinned unless L2 has it.
#include <sys/types.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "data_container_impl.h"

namespace overlay::storage {
namespace {

// How often the owner looks for a reader's signal, and a reader for objects
// to let go: about how long a reader's put waits for room it kept (plus the
// owner's copy and a reopen of the reader's view).
constexpr auto kPass = std::chrono::milliseconds(20);
// Every how many passes the owner scans L1 unasked (a scan reads every
// descriptor): once a second.
constexpr uint64_t kScanEveryPasses = 50;

// "Objects are kept for the owner": a catalog record no name maps to (names
// never contain a NUL byte).
const ObjectKey& KeptSignal() {
  static const ObjectKey key = ObjectKey::OfName(std::string_view("\0overlay/kept", 13));
  return key;
}

}  // namespace

Status DataContainerImpl::OpenDiskReader(const std::string& disk, const Status& busy) {
  // A store held by this very process (two containers on one disk) is busy
  // too, but /proc/locks cannot tell its pid from ours.
  const bool ours = busy.message().find("current process") != std::string_view::npos;
  Result<std::unique_ptr<RocksTier>> r = NewRocksTierReader({disk, opt_.chunk});
  if (!r.ok())
    return Status::Busy(std::string(busy.message()) + "; reading it failed too: " +
                        std::string(r.status().message()));
  l2_reader_ = std::move(*r);
  disk_owner_pid_ = ours ? static_cast<int>(::getpid()) : RocksTierOwnerPid(disk);
  const std::string owner =
      disk_owner_pid_ > 0 ? "process " + std::to_string(disk_owner_pid_) : "another process";
  notice_ = "the disk tier " + disk + " belongs to " + owner +
            "; this one reads it and keeps its puts in L1 until that process copies them";
  if (opt_.write != WriteMode::kMemory)
    write_refusal_ = "STORAGE.write = " +
                     std::string(opt_.write == WriteMode::kThrough ? "through" : "back") +
                     " needs the disk tier, which belongs to " + owner + " (" + disk +
                     "); this process only reads it";
  if (!l1_) {
    if (write_refusal_.empty())
      write_refusal_ = "the disk tier " + disk + " belongs to " + owner +
                       " and there is no L1 (STORAGE.segment) to put into";
  } else {
    l1_->SetEvictListener([this](const ObjectKey& k, std::string_view, const ObjectMeta&) {
      return KeepForOwner(k);
    });
  }
  return Status::OK();
}

bool DataContainerImpl::KeepForOwner(const ObjectKey& key) {
  if (l2_reader_->Head(key).ok()) return true;
  if (!l1_->SetPinned(key, true).ok()) return false;
  std::lock_guard<std::mutex> g(mu_);
  kept_for_owner_.insert(key);
  kept_since_signal_ = true;
  return false;
}

Status DataContainerImpl::StoreNameForOwner(const CatalogEntry& e) {
  if (!write_refusal_.empty()) return Status::Busy(write_refusal_);
  CatalogEntry marked = e;
  marked.for_owner = true;
  OVERLAY_RETURN_IF_ERROR(
      l1_->PutRecord(ObjectKey::OfName(e.name), marked.Encode(), e.expiry_ms));
  std::lock_guard<std::mutex> g(mu_);
  kept_since_signal_ = true;
  return Status::OK();
}

void DataContainerImpl::MoveNamesToL2(const std::vector<ShmEntry>& l1) {
  for (const ShmEntry& se : l1) {
    if (!se.record) continue;
    std::string bytes;
    {
      Result<ReadHandle> h = l1_->AcquireRecord(se.key);
      if (!h.ok()) continue;
      bytes = std::string(h->view());
    }
    std::optional<CatalogEntry> e = CatalogEntry::Decode(bytes);
    if (!e || !e->for_owner) continue;
    if (!l2_->Head(e->key).ok()) {
      Result<Blob> b = l1_->Get(e->key);
      if (!b.ok() || !l2_->Put(e->key, b->view(), ObjectMeta{b->size(), e->ctime_ms, e->expiry_ms})
                           .ok())
        continue;  // not stored yet, or L2 failed: next pass
    }
    Result<CatalogEntry> have = l2_->GetName(e->name);
    e->for_owner = false;
    if ((!have.ok() || have->ctime_ms <= e->ctime_ms) && !l2_->PutName(*e).ok()) continue;
    // Erased only if no newer binding replaced it meanwhile (that one is
    // moved next pass); the check and the erase are not one step, so a
    // binding written between them would be lost: a window of microseconds
    // against a reader rebinding the very same name.
    Result<ReadHandle> now = l1_->AcquireRecord(se.key);
    if (now.ok() && now->view() == bytes) {
      now->Release();
      (void)l1_->EraseRecord(se.key);
    }
  }
}

void DataContainerImpl::HandoffPass(bool scan) {
  if (l2_) {
    const bool signaled = l1_->AcquireRecord(KeptSignal()).ok();
    // Erased before the scan: a signal written during it is seen next pass.
    if (signaled) (void)l1_->EraseRecord(KeptSignal());
    if (!signaled && !scan) return;
    const std::vector<ShmEntry> l1 = l1_->List();
    for (const ShmEntry& e : l1) {
      if (e.record || !e.pinned || l2_->Head(e.key).ok()) continue;
      Result<Blob> b = l1_->Get(e.key);
      if (b.ok()) (void)l2_->Put(e.key, b->view(), e.meta);
    }
    MoveNamesToL2(l1);
    // Readers reopen L2 to see this, and a reopen replays the whole WAL:
    // flushed, it stays short.
    if (signaled) (void)l2_->Flush();
    return;
  }
  std::vector<ObjectKey> kept;
  bool signal = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    kept.assign(kept_for_owner_.begin(), kept_for_owner_.end());
    signal = kept_since_signal_;
    kept_since_signal_ = false;
  }
  // Written here, not by the eviction listener: a record needs an L1 loan,
  // which may evict and call the listener again.
  if (signal && !l1_->PutRecord(KeptSignal(), "", 0).ok()) {
    std::lock_guard<std::mutex> g(mu_);
    kept_since_signal_ = true;
  }
  for (const ObjectKey& k : kept) {
    const bool gone = !l1_->Head(k).ok();  // erased (rm, expiry) meanwhile
    if (!gone && !l2_reader_->Head(k).ok()) continue;
    if (!gone) (void)l1_->SetPinned(k, false);
    std::lock_guard<std::mutex> g(mu_);
    kept_for_owner_.erase(k);
  }
}

void DataContainerImpl::HandoffLoop() {
  bool stop = false;
  for (uint64_t pass = 0; !stop; ++pass) {
    HandoffPass(pass % kScanEveryPasses == 0);
    std::unique_lock<std::mutex> lock(mu_);
    stop = cv_.wait_for(lock, kPass, [this] { return stop_; });
  }
  // The owner copies what readers keep before it goes; a reader lets go of
  // what the owner has by now.
  HandoffPass(true);
}

}  // namespace overlay::storage
