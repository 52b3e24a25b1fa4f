// SPDX-License-Identifier: Apache-2.0
// TempDir: a private directory removed with everything in it (internal to
// functions/).
#ifndef OVERLAY_FUNCTIONS_SRC_TEMP_DIR_H_
#define OVERLAY_FUNCTIONS_SRC_TEMP_DIR_H_

#include <string>
#include <string_view>

#include "overlay/status.h"

namespace overlay::detail {

// Owns a fresh directory (mode 0700) and removes it recursively on
// destruction, so every path out of a task cleans up its workspace.
// Move-only: a copy would delete the tree under the other owner.
// Thread-safety: none; one owner at a time.
class TempDir {
 public:
  // Creates `<root>/<prefix>XXXXXX` with a unique suffix.
  static Result<TempDir> Create(std::string_view root, std::string_view prefix);

  TempDir() = default;
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  // Empty when this owns nothing.
  const std::string& path() const { return path_; }
  // Removes the tree now. Idempotent.
  void Remove();

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace overlay::detail

#endif  // OVERLAY_FUNCTIONS_SRC_TEMP_DIR_H_
