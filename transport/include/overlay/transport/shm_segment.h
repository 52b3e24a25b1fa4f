// SPDX-License-Identifier: Apache-2.0
// ShmSegment: a POSIX shared-memory object (shm_open + mmap), mode 0600, mapped
// read-write. Processes exchange positions inside it as offsets, never pointers,
// because each process maps it at its own address.
//
// Thread-safety: the object is immutable after construction; the mapped bytes
// are shared and need their own synchronization.
// Ownership: move-only; unmaps on destruction; the creator also unlinks the name.
#ifndef OVERLAY_TRANSPORT_SHM_SEGMENT_H_
#define OVERLAY_TRANSPORT_SHM_SEGMENT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "overlay/status.h"

namespace overlay::transport {

class ShmSegment {
 public:
  // Creates `name` ("/overlay-…") exclusively with `size` bytes, zero-filled.
  // Errors: IOError (exists, no space, permission).
  static Result<ShmSegment> Create(const std::string& name, size_t size);
  // Maps an existing segment. Errors: NotFound, IOError, InvalidArgument (not
  // owned by this user with mode 0600: another user may have planted it).
  static Result<ShmSegment> Open(const std::string& name);

  ShmSegment(ShmSegment&& other) noexcept;
  ShmSegment& operator=(ShmSegment&& other) noexcept;
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;
  ~ShmSegment();

  std::byte* base() const { return base_; }
  size_t size() const { return size_; }
  const std::string& name() const { return name_; }
  bool owner() const { return owner_; }

 private:
  ShmSegment(std::string name, std::byte* base, size_t size, bool owner)
      : name_(std::move(name)), base_(base), size_(size), owner_(owner) {}
  void Close();

  std::string name_;
  std::byte* base_ = nullptr;
  size_t size_ = 0;
  bool owner_ = false;
};

}  // namespace overlay::transport

#endif  // OVERLAY_TRANSPORT_SHM_SEGMENT_H_
