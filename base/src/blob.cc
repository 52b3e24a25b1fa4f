// SPDX-License-Identifier: Apache-2.0
#include "overlay/blob.h"

namespace overlay {
namespace {

class HeapSpace final : public WritableBlob::Space {
 public:
  explicit HeapSpace(size_t size) : bytes_(size, '\0') {}
  std::span<char> data() override { return std::span<char>(bytes_); }
  Result<Blob> Publish() override { return Blob::FromString(std::move(bytes_)); }
  Result<Blob> PublishKeyed(const ObjectKey&) override { return Publish(); }

 private:
  std::string bytes_;
};

}  // namespace

WritableBlob WritableBlob::OnHeap(size_t size) {
  return WritableBlob(std::make_unique<HeapSpace>(size));
}

Result<Blob> WritableBlob::Publish() && {
  if (!space_) return Status::InvalidArgument("publishing an empty WritableBlob");
  std::unique_ptr<Space> space = std::move(space_);
  return space->Publish();
}

Result<Blob> WritableBlob::Publish(const ObjectKey& key) && {
  if (!space_) return Status::InvalidArgument("publishing an empty WritableBlob");
  std::unique_ptr<Space> space = std::move(space_);
  return space->PublishKeyed(key);
}

}  // namespace overlay
