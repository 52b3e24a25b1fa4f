// SPDX-License-Identifier: Apache-2.0
// Blob: an immutable byte range plus whatever keeps it alive (a heap string, or
// a pinned shared-memory handle in the data layer), so views are handed out
// without copying. A Blob that came from a data store carries its content key,
// so nobody hashes the same bytes twice.
//
// WritableBlob: space an object is built in and then published as a Blob (an
// L1 write loan under a data store, heap memory otherwise); iceoryx's
// loan -> publish.
//
// Thread-safety: a Blob is immutable after construction and copies share the
// bytes; a WritableBlob belongs to one thread.
#ifndef OVERLAY_BASE_BLOB_H_
#define OVERLAY_BASE_BLOB_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "overlay/object_key.h"
#include "overlay/status.h"

namespace overlay {

class Blob {
 public:
  Blob() = default;
  // Keeps `owner` alive as long as any copy of this Blob lives; `bytes` must
  // point into memory that `owner` keeps valid. `key`, when given, must be
  // ObjectKey::Of(bytes): the store that computed or verified it vouches for it.
  Blob(std::shared_ptr<const void> owner, std::string_view bytes,
       std::optional<ObjectKey> key = std::nullopt)
      : owner_(std::move(owner)), bytes_(bytes), key_(key) {}

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
  // The content key, when a data store stored or verified these bytes.
  const std::optional<ObjectKey>& key() const { return key_; }
  // This Blob marked with its key. REQUIRES: key == ObjectKey::Of(view()),
  // checked by the caller (a store that read verified bytes).
  Blob WithKey(const ObjectKey& key) const {
    Blob b = *this;
    b.key_ = key;
    return b;
  }

 private:
  std::shared_ptr<const void> owner_;
  std::string_view bytes_;
  std::optional<ObjectKey> key_;
};

// A blob with the file name it travels under (e.g. "101_00007.txt").
struct NamedBlob {
  std::string name;
  Blob data;
};

class WritableBlob {
 public:
  // What backs the space; implemented by data stores (an L1 loan) and the heap.
  class Space {
   public:
    virtual ~Space() = default;
    virtual std::span<char> data() = 0;
    // Makes the filled bytes an immutable Blob (for a store: commits and keys them).
    virtual Result<Blob> Publish() = 0;
    // Publish for a filler that hashed the bytes as it wrote them, so a store
    // keys them without reading them again. REQUIRES: key == ObjectKey::Of(data()).
    virtual Result<Blob> PublishKeyed(const ObjectKey& key) = 0;
  };

  WritableBlob() = default;
  explicit WritableBlob(std::unique_ptr<Space> space) : space_(std::move(space)) {}
  // `size` bytes of heap memory, published as an unkeyed Blob.
  static WritableBlob OnHeap(size_t size);

  std::span<char> data() { return space_ ? space_->data() : std::span<char>(); }
  size_t size() const { return space_ ? space_->data().size() : 0; }
  // Publishes the filled bytes; this WritableBlob is empty afterwards.
  // Dropping it unpublished returns the space.
  Result<Blob> Publish() &&;
  // Publish with the key the filler computed (Space::PublishKeyed). Heap
  // space ignores it: only a store vouches for a Blob's key.
  Result<Blob> Publish(const ObjectKey& key) &&;

 private:
  std::unique_ptr<Space> space_;
};

// Hands out WritableBlobs: a data store (L1 loans) or the heap.
// Thread-safety: implementations allow concurrent calls.
class BlobAllocator {
 public:
  virtual ~BlobAllocator() = default;
  // Space for an object of exactly `size` bytes. A store whose memory is held
  // by objects still in use waits for room (bounded) rather than failing.
  virtual Result<WritableBlob> Allocate(size_t size) = 0;
};

}  // namespace overlay

#endif  // OVERLAY_BASE_BLOB_H_
