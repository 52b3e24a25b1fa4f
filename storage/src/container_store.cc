// SPDX-License-Identifier: Apache-2.0
#include "overlay/storage/container_store.h"

#include <utility>

namespace overlay::storage {
namespace {

class LoanSpace final : public WritableBlob::Space {
 public:
  LoanSpace(DataContainer* container, PutLoan loan)
      : container_(container), loan_(std::move(loan)) {}
  std::span<char> data() override { return loan_.data(); }
  Result<Blob> Publish() override { return container_->Commit(std::move(loan_)); }

 private:
  DataContainer* container_;
  PutLoan loan_;
};

}  // namespace

Result<WritableBlob> ContainerStore::Allocate(size_t size) {
  Result<PutLoan> loan = container_->Loan(size);
  if (!loan.ok()) return loan.status();
  return WritableBlob(std::make_unique<LoanSpace>(container_, std::move(*loan)));
}

}  // namespace overlay::storage
