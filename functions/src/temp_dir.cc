// SPDX-License-Identifier: Apache-2.0
#include "temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <utility>
#include <vector>

namespace overlay::detail {

Result<TempDir> TempDir::Create(std::string_view root, std::string_view prefix) {
  std::string templ = std::string(root) + "/" + std::string(prefix) + "XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  // mkdtemp creates the directory with mode 0700.
  if (::mkdtemp(buf.data()) == nullptr)
    return Status::FromErrno("cannot create a directory under '" + std::string(root) + "'", errno);
  return TempDir(std::string(buf.data()));
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    Remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

TempDir::~TempDir() { Remove(); }

void TempDir::Remove() {
  if (path_.empty()) return;
  std::error_code ec;  // best effort: a destructor has no one to report to
  std::filesystem::remove_all(path_, ec);
  path_.clear();
}

}  // namespace overlay::detail
