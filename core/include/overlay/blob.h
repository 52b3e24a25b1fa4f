// SPDX-License-Identifier: Apache-2.0
// Blob: an immutable byte range plus whatever keeps it alive (a heap string today,
// a pinned shared-memory handle in the data layer), so views are handed out
// without copying.
//
// Thread-safety: immutable after construction; copies share the bytes.
#ifndef OVERLAY_CORE_BLOB_H_
#define OVERLAY_CORE_BLOB_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace overlay {

class Blob {
 public:
  Blob() = default;
  // Keeps `owner` alive as long as any copy of this Blob lives; `bytes` must
  // point into memory that `owner` keeps valid.
  Blob(std::shared_ptr<const void> owner, std::string_view bytes)
      : owner_(std::move(owner)), bytes_(bytes) {}

  // Takes ownership of `s` without copying its bytes.
  static Blob FromString(std::string s) {
    auto owned = std::make_shared<const std::string>(std::move(s));
    std::string_view view(*owned);
    return Blob(std::move(owned), view);
  }

  std::string_view view() const { return bytes_; }
  const char* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }

 private:
  std::shared_ptr<const void> owner_;
  std::string_view bytes_;
};

// A blob with the file name it travels under (e.g. "101_00007.txt").
struct NamedBlob {
  std::string name;
  Blob data;
};

}  // namespace overlay

#endif  // OVERLAY_CORE_BLOB_H_
