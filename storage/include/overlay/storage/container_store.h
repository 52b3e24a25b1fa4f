// SPDX-License-Identifier: Apache-2.0
// ContainerStore: a DataContainer seen through base's ObjectStore interface, so
// the executor and the function manager use the data layer without its internals.
//
// Thread-safety: as DataContainer (safe for concurrent use). Ownership: does not
// own the container, which must outlive it.
#ifndef OVERLAY_STORAGE_CONTAINER_STORE_H_
#define OVERLAY_STORAGE_CONTAINER_STORE_H_

#include <string>
#include <string_view>

#include "overlay/object_store.h"
#include "overlay/storage/data_container.h"

namespace overlay::storage {

class ContainerStore : public ObjectStore {
 public:
  // `transient`: what is stored here is a run's intermediate, dropped rather
  // than demoted once nobody reads it (until named).
  explicit ContainerStore(DataContainer* container, bool transient = true)
      : container_(container) {
    put_.transient = transient;
  }

  Result<Blob> Put(std::string_view bytes) override { return container_->Put(bytes, put_); }
  Result<Blob> PutVerified(const ObjectKey& key, std::string_view bytes) override {
    return container_->PutVerified(key, bytes, put_);
  }
  Status Name(const std::string& name, const Blob& object) override {
    if (!object.key()) return Status::InvalidArgument("naming an object that was not stored");
    return container_->Name(name, *object.key(), object.size());
  }
  Result<ObjectKey> Lookup(const std::string& name) override {
    Result<CatalogEntry> e = container_->Lookup(name);
    if (!e.ok()) return e.status();
    return e->key;
  }
  Result<Blob> Get(const ObjectKey& key) override { return container_->Get(key); }
  size_t Waiting() const override { return container_->Waiting(); }
  // An L1 loan (a heap buffer for objects L1 cannot take); Publish commits it.
  Result<WritableBlob> Allocate(size_t size) override;

 protected:
  void set_container(DataContainer* container) { container_ = container; }

 private:
  DataContainer* container_;
  PutOptions put_;
};

}  // namespace overlay::storage

#endif  // OVERLAY_STORAGE_CONTAINER_STORE_H_
