// SPDX-License-Identifier: Apache-2.0
// DataContainerImpl, the tiers: reads fall through L1 -> L2 -> L3 and promote
// what they find; eviction demotes (never dropping a last copy); pins; expiry.
#include <map>
#include <unordered_set>

#include "data_container_impl.h"

namespace overlay::storage {

TierReads DataContainerImpl::reads() const {
  TierReads r;
  for (size_t i = 0; i < 3; ++i) {
    r.hits[i] = hits_[i].load(std::memory_order_relaxed);
    r.misses[i] = misses_[i].load(std::memory_order_relaxed);
    r.bytes[i] = hit_bytes_[i].load(std::memory_order_relaxed);
  }
  return r;
}

Result<Blob> DataContainerImpl::Get(const ObjectKey& key) {
  if (l1_) {
    Result<Blob> b = l1_->Get(key);
    if (b.ok()) {
      CountHit(0, b->size());
      return b;
    }
    CountMiss(0);
  }
  Status worst = Status::NotFound("object " + key.ToHex() + " is in no tier");
  bool l2_bad = false;
  if (l2_) {
    Result<Blob> b = l2_->Get(key);
    if (b.ok()) {
      CountHit(1, b->size());
      Promote(key, b->view(), l2_->Head(key));
      return b->WithKey(key);
    }
    CountMiss(1);
    if (b.status().IsCorruption()) {
      l2_bad = true;
      worst = b.status();
    } else if (!b.status().IsNotFound()) {
      worst = b.status();
    }
  }
  if (l3_) {
    // An object that expired here must not come back from the CDN.
    OVERLAY_RETURN_IF_ERROR(CheckNotExpired(key));
    Result<Blob> b = l3_->Get(key);
    if (b.ok()) {
      CountHit(2, b->size());
      const ObjectMeta meta{b->size(), NowUnixMs(), 0};
      if (l2_) {
        if (l2_bad) (void)l2_->Erase(key);  // replace the corrupt copy
        (void)l2_->Put(key, b->view(), meta);
      }
      Promote(key, b->view(), meta);
      return b->WithKey(key);
    }
    CountMiss(2);
    if (b.status().IsCorruption() || (worst.IsNotFound() && !b.status().IsNotFound()))
      worst = b.status();
  }
  return worst;
}

void DataContainerImpl::Promote(const ObjectKey& key, std::string_view bytes,
                                const Result<ObjectMeta>& meta) {
  if (!FitsL1(bytes.size())) return;
  ObjectMeta m = meta.ok() ? *meta : ObjectMeta{bytes.size(), NowUnixMs(), 0};
  (void)l1_->Put(key, bytes, m);
}

Status DataContainerImpl::CheckNotExpired(const ObjectKey& key) {
  const uint64_t now = NowUnixMs();
  Status expired = Status::NotFound("object " + key.ToHex() + " has expired");
  if (l1_) {
    Result<ObjectMeta> m = l1_->Head(key);
    if (m.ok() && Expired(*m, now)) return expired;
  }
  if (l2_) {
    Result<ObjectMeta> m = l2_->Head(key);
    if (m.ok() && Expired(*m, now)) return expired;
    Result<std::optional<JournalOp>> op = l2_->JournalPending(key);
    if (op.ok() && *op == JournalOp::kDelete) return expired;
  }
  return Status::OK();
}

Result<ObjectInfo> DataContainerImpl::Stat(const ObjectKey& key) {
  ObjectInfo info;
  info.key = key;
  bool found = false;
  const uint64_t now = NowUnixMs();
  if (l1_) {
    Result<ObjectMeta> m = l1_->Head(key);
    if (m.ok() && !Expired(*m, now)) {
      info.in_l1 = found = true;
      info.meta = *m;
      for (const ShmEntry& e : l1_->List())
        if (!e.record && e.key == key) info.pinned = e.pinned;
    }
  }
  if (l2_) {
    Result<ObjectMeta> m = l2_->Head(key);
    if (m.ok() && !Expired(*m, now)) {
      info.in_l2 = true;
      if (!found) info.meta = *m;
      found = true;
    } else if (!m.ok() && !m.status().IsNotFound()) {
      return m.status();
    }
  }
  if (l3_) {
    Result<ObjectMeta> m = l3_->Head(key);
    if (m.ok()) {
      info.in_l3 = true;
      if (!found) info.meta = *m;
      found = true;
    } else if (!m.status().IsNotFound()) {
      info.l3_error = std::string(m.status().message());
    }
  }
  if (!found && info.l3_error.empty())
    return Status::NotFound("object " + key.ToHex() + " is in no tier");
  if (!found) return Status::Unavailable(info.l3_error);
  return info;
}

Status DataContainerImpl::Evict(const ObjectKey& key) {
  if (!l1_) return Status::InvalidArgument("no L1 configured (STORAGE.segment)");
  if (!l2_ && l1_->Head(key).ok() && !(l3_ && l3_->Head(key).ok()))
    return Status::Failed("object " + key.ToHex() +
                          " not evicted: L1 holds its only copy (no lower tier holds it: "
                          "disk = none, and no CDN copy)");
  return l1_->Evict(key);
}

Status DataContainerImpl::Pin(const ObjectKey& key, bool pinned) {
  if (!l1_) return Status::InvalidArgument("no L1 configured (STORAGE.segment)");
  Status s = l1_->SetPinned(key, pinned);
  if (s.IsNotFound() && pinned) {
    Result<Blob> b = Get(key);  // promotes into L1
    if (!b.ok()) return b.status();
    if (!FitsL1(b->size()))
      return Status::InvalidArgument("object of " + std::to_string(b->size()) +
                                     " bytes is too large to pin in L1");
    (void)l1_->Put(key, b->view(), ObjectMeta{b->size(), NowUnixMs(), 0});
    s = l1_->SetPinned(key, pinned);
  }
  if (!s.ok() && !(s.IsNotFound() && !pinned)) return s;
  Result<std::vector<CatalogEntry>> names = List();
  if (!names.ok()) return names.status();
  for (CatalogEntry& e : *names) {
    if (!(e.key == key) || e.pinned == pinned) continue;
    e.pinned = pinned;
    OVERLAY_RETURN_IF_ERROR(StoreName(e));
  }
  return Status::OK();
}

Result<size_t> DataContainerImpl::ExpireNow() {
  const uint64_t now = NowUnixMs();
  std::unordered_set<ObjectKey> gone;
  if (l1_)
    for (const ObjectKey& k : l1_->ExpireNow(now)) gone.insert(k);
  if (l2_) {
    Result<std::vector<ObjectKey>> ks = l2_->ExpireNow(now);
    if (!ks.ok()) return ks.status();
    gone.insert(ks->begin(), ks->end());
  }
  if (Pushing())
    for (const ObjectKey& k : gone)
      OVERLAY_RETURN_IF_ERROR(l2_->JournalAdd(k, JournalOp::kDelete));
  std::vector<CatalogEntry> names;
  if (l2_) {
    Result<std::vector<CatalogEntry>> all = l2_->ListNames();
    if (all.ok()) names = std::move(*all);
  }
  if (l1_)
    for (const ShmEntry& se : l1_->List())
      if (se.record && se.meta.expiry_ms != 0 && se.meta.expiry_ms <= now)
        (void)l1_->EraseRecord(se.key);
  for (const CatalogEntry& e : names)
    if (e.expiry_ms != 0 && e.expiry_ms <= now) (void)l2_->EraseName(e.name);
  if (!gone.empty()) Kick();
  return gone.size();
}

}  // namespace overlay::storage
