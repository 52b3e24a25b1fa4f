// SPDX-License-Identifier: Apache-2.0
#include "temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "overlay/function.h"

namespace overlay::detail {
namespace {

// Every TempDir that exists now, for RemoveCommandDirectories. Never
// destroyed: a process on its way to _exit may still use it.
struct Live {
  std::mutex mu;
  std::set<std::string> paths;  // guarded by mu
};

Live& LiveDirs() {
  static Live* const live = new Live;
  return *live;
}

}  // namespace

Result<TempDir> TempDir::Create(std::string_view root, std::string_view prefix) {
  std::string templ = std::string(root) + "/" + std::string(prefix) + "XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  // mkdtemp creates the directory with mode 0700.
  if (::mkdtemp(buf.data()) == nullptr)
    return Status::FromErrno("cannot create a directory under '" + std::string(root) + "'", errno);
  std::lock_guard lock(LiveDirs().mu);
  LiveDirs().paths.insert(buf.data());
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
  std::lock_guard lock(LiveDirs().mu);
  LiveDirs().paths.erase(path_);
  path_.clear();
}

}  // namespace overlay::detail

namespace overlay {

size_t RemoveCommandDirectories() {
  detail::Live& live = detail::LiveDirs();
  std::lock_guard lock(live.mu);
  size_t removed = 0;
  for (const std::string& path : live.paths) {
    std::error_code ec;
    removed += std::filesystem::remove_all(path, ec) > 0 ? 1 : 0;
  }
  live.paths.clear();
  return removed;
}

}  // namespace overlay
