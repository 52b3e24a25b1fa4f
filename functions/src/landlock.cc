// SPDX-License-Identifier: Apache-2.0
// glibc 2.36 has no Landlock wrappers: the three system calls are made
// directly. Debian 12's header stops at ABI 2; the later write rights are
// defined here by their kernel values.
#include "landlock.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "overlay/process_runner.h"
#include "unique_fd.h"

namespace overlay {
namespace {

constexpr uint64_t kTruncate = 1ULL << 14;  // LANDLOCK_ACCESS_FS_TRUNCATE, ABI 3

// Every right that creates, changes or removes a file; reading, listing and
// executing are not handled, so they stay allowed everywhere.
uint64_t WriteRights(int abi) {
  uint64_t rights = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
                    LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                    LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
  if (abi >= 2) rights |= LANDLOCK_ACCESS_FS_REFER;  // renames and links across directories
  if (abi >= 3) rights |= kTruncate;
  return rights;
}

// The rights a rule on a file (not a directory) may carry.
constexpr uint64_t kFileRights = LANDLOCK_ACCESS_FS_WRITE_FILE | kTruncate;

}  // namespace

int LandlockAbi() {
  static const int abi = [] {
    long v = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v > 0 ? static_cast<int>(v) : 0;
  }();
  return abi;
}

namespace detail {

Status ConfineWritesOfThisThread(const std::vector<std::string>& writable) {
  const int abi = LandlockAbi();
  if (abi == 0) return Status::Unavailable("the kernel has no Landlock");
  const uint64_t rights = WriteRights(abi);
  landlock_ruleset_attr attr{};
  attr.handled_access_fs = rights;
  UniqueFd ruleset(static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0)));
  if (!ruleset.valid()) return Status::FromErrno("landlock_create_ruleset", errno);
  for (const std::string& path : writable) {
    UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!fd.valid()) return Status::FromErrno("landlock: cannot open '" + path + "'", errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return Status::FromErrno("landlock: '" + path + "'", errno);
    landlock_path_beneath_attr rule{};
    rule.allowed_access = S_ISDIR(st.st_mode) ? rights : rights & kFileRights;
    rule.parent_fd = fd.get();
    if (::syscall(SYS_landlock_add_rule, ruleset.get(), LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0)
      return Status::FromErrno("landlock_add_rule '" + path + "'", errno);
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return Status::FromErrno("prctl(PR_SET_NO_NEW_PRIVS)", errno);
  if (::syscall(SYS_landlock_restrict_self, ruleset.get(), 0) != 0)
    return Status::FromErrno("landlock_restrict_self", errno);
  return Status::OK();
}

}  // namespace detail
}  // namespace overlay
