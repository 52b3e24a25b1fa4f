// SPDX-License-Identifier: Apache-2.0
// ContainerStore: a DataContainer seen through core's ObjectStore interface, so
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
  explicit ContainerStore(DataContainer* container) : container_(container) {}

  // Keys are the 32-hex-digit form of ObjectKey.
  Result<std::string> Put(std::string_view name, std::string_view bytes) override {
    PutOptions put;
    put.name = std::string(name);
    auto key = container_->Put(bytes, put);
    if (!key.ok()) return key.status();
    return key->ToHex();
  }

  Result<Blob> Get(const std::string& key) override {
    auto k = ObjectKey::FromHex(key);
    if (!k) return Status::InvalidArgument("malformed object key '" + key + "'");
    return container_->Get(*k);
  }

 protected:
  void set_container(DataContainer* container) { container_ = container; }

 private:
  DataContainer* container_;
};

}  // namespace overlay::storage

#endif  // OVERLAY_STORAGE_CONTAINER_STORE_H_
