// SPDX-License-Identifier: Apache-2.0
// UniqueFd: owns one file descriptor (internal to functions/).
#ifndef OVERLAY_FUNCTIONS_SRC_UNIQUE_FD_H_
#define OVERLAY_FUNCTIONS_SRC_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace overlay::detail {

// Move-only owner of a descriptor; closes it on destruction. Copying is
// deleted: two owners would close the same number twice, possibly after the
// kernel reused it for another file.
// Thread-safety: none; one owner at a time.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Close(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Idempotent. close() is not retried on EINTR: on Linux the fd is gone anyway.
  void Close() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

 private:
  int fd_ = -1;
};

}  // namespace overlay::detail

#endif  // OVERLAY_FUNCTIONS_SRC_UNIQUE_FD_H_
