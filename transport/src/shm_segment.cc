// SPDX-License-Identifier: Apache-2.0
#include "overlay/transport/shm_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "overlay/memory_room.h"
#include "overlay/private_file.h"

namespace overlay::transport {
namespace {

// Closes the descriptor on every path out of Create/Open.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<ShmSegment> ShmSegment::Create(const std::string& name, size_t size) {
  OVERLAY_RETURN_IF_ERROR(CheckSharedMemoryRoom(size, "shm channel segment " + name,
                                                "use fewer or smaller chunks (ShmChannelOptions)"));
  Fd fd{::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600)};
  if (fd.fd < 0) return Status::FromErrno("shm_open " + name, errno);
  // umask may only remove bits; make the mode exact anyway.
  if (::fchmod(fd.fd, 0600) != 0 || ::ftruncate(fd.fd, static_cast<off_t>(size)) != 0) {
    int err = errno;
    ::shm_unlink(name.c_str());
    return Status::FromErrno("sizing shm " + name, err);
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    ::shm_unlink(name.c_str());
    return Status::FromErrno("mmap shm " + name, err);
  }
  return ShmSegment(name, static_cast<std::byte*>(p), size, true);
}

Result<ShmSegment> ShmSegment::Open(const std::string& name) {
  Fd fd{::shm_open(name.c_str(), O_RDWR, 0)};
  if (fd.fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no shm segment " + name);
    return Status::FromErrno("shm_open " + name, errno);
  }
  // Another local user may have created it first, to read or rewrite our messages.
  OVERLAY_RETURN_IF_ERROR(CheckPrivate(fd.fd, "shm segment /dev/shm" + name, 0600));
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) return Status::FromErrno("fstat shm " + name, errno);
  auto size = static_cast<size_t>(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd, 0);
  if (p == MAP_FAILED) return Status::FromErrno("mmap shm " + name, errno);
  return ShmSegment(name, static_cast<std::byte*>(p), size, false);
}

ShmSegment::ShmSegment(ShmSegment&& other) noexcept
    : name_(std::move(other.name_)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      owner_(std::exchange(other.owner_, false)) {}

ShmSegment& ShmSegment::operator=(ShmSegment&& other) noexcept {
  if (this != &other) {
    Close();
    name_ = std::move(other.name_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
    owner_ = std::exchange(other.owner_, false);
  }
  return *this;
}

ShmSegment::~ShmSegment() { Close(); }

void ShmSegment::Close() {
  if (base_ != nullptr) ::munmap(base_, size_);
  if (owner_) ::shm_unlink(name_.c_str());
  base_ = nullptr;
  owner_ = false;
}

}  // namespace overlay::transport
