// SPDX-License-Identifier: Apache-2.0
#include "overlay/private_file.h"

#include <fmt/format.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace overlay {
namespace {

// "alice (uid 1001)", or "uid 1001" for a uid without a passwd entry.
std::string UserName(uid_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  char buf[1024];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found != nullptr)
    return fmt::format("{} (uid {})", found->pw_name, uid);
  return fmt::format("uid {}", uid);
}

}  // namespace

Status CheckPrivate(int fd, std::string_view what, mode_t mode) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::FromErrno(fmt::format("fstat {}", what), errno);
  const mode_t bits = st.st_mode & 07777;
  if (st.st_uid == ::geteuid() && bits == mode) return Status::OK();
  return Status::InvalidArgument(
      fmt::format("{} is owned by {} with mode {:04o}; refusing to use it: it must be owned by "
                  "{} with mode {:04o} (remove it if another user created it)",
                  what, UserName(st.st_uid), bits, UserName(::geteuid()), mode));
}

}  // namespace overlay
