// SPDX-License-Identifier: Apache-2.0
#include "overlay/storage/container_store.h"

#include <utility>

namespace overlay::storage {
namespace {

class LoanSpace final : public WritableBlob::Space {
 public:
  LoanSpace(DataContainer* container, PutLoan loan, const PutOptions& put)
      : container_(container), loan_(std::move(loan)), put_(put) {}
  std::span<char> data() override { return loan_.data(); }
  Result<Blob> Publish() override { return container_->Commit(std::move(loan_), put_); }
  Result<Blob> PublishKeyed(const ObjectKey& key) override {
    return container_->CommitVerified(std::move(loan_), key, put_);
  }

 private:
  DataContainer* container_;
  PutLoan loan_;
  PutOptions put_;
};

}  // namespace

Result<WritableBlob> ContainerStore::Allocate(size_t size) {
  Result<PutLoan> loan = container_->Loan(size);
  if (!loan.ok()) return loan.status();
  return WritableBlob(std::make_unique<LoanSpace>(container_, std::move(*loan), put_));
}

}  // namespace overlay::storage
