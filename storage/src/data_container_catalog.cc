// SPDX-License-Identifier: Apache-2.0
// DataContainerImpl, the catalog: names bound to objects, kept in L2 (or as
// L1 records without a disk tier), looked up, listed and removed.
#include <map>
#include <optional>

#include "data_container_impl.h"

namespace overlay::storage {

Status DataContainerImpl::Name(const std::string& name, const ObjectKey& key, uint64_t size) {
  PutOptions put;
  put.name = name;
  return Finish(key, ObjectMeta{size, NowUnixMs(), ExpiryFor(put)}, put);
}

Status DataContainerImpl::Finish(const ObjectKey& key, const ObjectMeta& meta,
                                 const PutOptions& put) {
  if (put.pin && l1_) {
    Status s = l1_->SetPinned(key, true);
    if (!s.ok() && !s.IsNotFound()) return s;
  }
  if (put.name.empty()) return Status::OK();
  return StoreName(
      CatalogEntry{put.name, key, meta.size, meta.ctime_ms, meta.expiry_ms, put.pin});
}

Status DataContainerImpl::StoreName(const CatalogEntry& e) {
  if (l1_) {
    Status kept = l1_->Keep(e.key);  // a named object is never just dropped
    if (!kept.ok() && !kept.IsNotFound()) return kept;
  }
  if (l2_) return l2_->PutName(e);
  if (l2_reader_) return StoreNameForOwner(e);
  if (!l1_) return Status::OK();
  Status pin = l1_->SetPinned(e.key, true);
  if (!pin.ok() && !pin.IsNotFound()) return pin;
  return l1_->PutRecord(ObjectKey::OfName(e.name), e.Encode(), e.expiry_ms);
}

Result<CatalogEntry> DataContainerImpl::Lookup(std::string_view name) {
  // L1 records (names bound by a process without the disk tier) first: the
  // owner moves a record to L2 before erasing it, so a record gone by now is
  // in L2 by now (handoff_ of data_container_handoff.cc).
  std::optional<CatalogEntry> record;
  if (l1_) {
    Result<ReadHandle> h = l1_->AcquireRecord(ObjectKey::OfName(name));
    if (h.ok()) record = CatalogEntry::Decode(h->view());
  }
  std::optional<CatalogEntry> e;
  if (RocksTier* l2 = L2Read()) {
    Result<CatalogEntry> r = l2->GetName(name);
    if (r.ok()) {
      e = std::move(*r);
    } else if (!r.status().IsNotFound()) {
      return r.status();
    }
  }
  if (record && (!e || record->ctime_ms > e->ctime_ms)) e = std::move(record);
  if (!e || e->name != name)
    return Status::NotFound("no object named '" + std::string(name) + "'");
  if (e->expiry_ms != 0 && NowUnixMs() >= e->expiry_ms)
    return Status::NotFound("name '" + std::string(name) + "' has expired");
  return *e;
}

Result<ObjectKey> DataContainerImpl::Resolve(std::string_view text) {
  Result<CatalogEntry> e = Lookup(text);
  if (e.ok()) return e->key;
  if (std::optional<ObjectKey> k = ObjectKey::FromHex(text)) return *k;
  return Status::NotFound("'" + std::string(text) +
                          "' is neither a 32-hex-digit object key nor a known name");
}

Result<std::vector<CatalogEntry>> DataContainerImpl::List() {
  // L1 records before L2, as in Lookup.
  std::map<std::string, CatalogEntry> records;
  if (l1_) {
    for (const ShmEntry& se : l1_->List()) {
      if (!se.record) continue;
      Result<ReadHandle> h = l1_->AcquireRecord(se.key);
      if (!h.ok()) continue;
      std::optional<CatalogEntry> e = CatalogEntry::Decode(h->view());
      if (e) records[e->name] = std::move(*e);
    }
  }
  std::map<std::string, CatalogEntry> by_name;
  if (RocksTier* l2 = L2Read()) {
    Result<std::vector<CatalogEntry>> names = l2->ListNames();
    if (!names.ok()) return names.status();
    for (CatalogEntry& e : *names) by_name[e.name] = std::move(e);
  }
  for (auto& [name, e] : records) {
    auto it = by_name.find(name);
    if (it == by_name.end() || e.ctime_ms > it->second.ctime_ms) by_name[name] = std::move(e);
  }
  const uint64_t now = NowUnixMs();
  std::vector<CatalogEntry> out;
  for (auto& [name, e] : by_name)
    if (e.expiry_ms == 0 || e.expiry_ms > now) out.push_back(std::move(e));
  return out;
}

Result<bool> DataContainerImpl::Remove(std::string_view name) {
  Result<CatalogEntry> e = Lookup(name);
  if (!e.ok()) return e.status();
  if (l2_reader_ && l2_reader_->GetName(name).ok())
    return Status::Busy("'" + std::string(name) + "' is named on the disk tier, which process " +
                        std::to_string(disk_owner_pid_) +
                        " owns: remove it there, or once that process has exited");
  if (l1_) OVERLAY_RETURN_IF_ERROR(l1_->EraseRecord(ObjectKey::OfName(name)));
  if (l2_) OVERLAY_RETURN_IF_ERROR(l2_->EraseName(name));
  Result<std::vector<CatalogEntry>> names = List();
  if (!names.ok()) return names.status();
  for (const CatalogEntry& other : *names)
    if (other.key == e->key) return false;
  if (l1_) OVERLAY_RETURN_IF_ERROR(l1_->Erase(e->key));
  if (l2_) OVERLAY_RETURN_IF_ERROR(l2_->Erase(e->key));
  if (Pushing()) {
    OVERLAY_RETURN_IF_ERROR(l2_->JournalAdd(e->key, JournalOp::kDelete));
    Kick();
  }
  return true;
}

}  // namespace overlay::storage
