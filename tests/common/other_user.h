// SPDX-License-Identifier: Apache-2.0
// Test helper: a second local user, made with useradd for one test and removed
// with userdel afterwards, and a way to run code as that user (a forked child
// that drops to its uid). Needs root; otherwise ok() is false and why() says so.
#ifndef OVERLAY_TESTS_COMMON_OTHER_USER_H_
#define OVERLAY_TESTS_COMMON_OTHER_USER_H_

#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

extern char** environ;

namespace overlay::testing_common {

// Runs `argv` (execve through PATH, no shell); true if it exited with 0.
inline bool RunCommand(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return false;
  int status = 0;
  return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

class OtherUser {
 public:
  OtherUser() : name_("ovltest" + std::to_string(getpid())) {
    if (geteuid() != 0) {
      why_ = "needs root to add a second local user";
      return;
    }
    if (!RunCommand({"useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name_})) {
      why_ = "useradd " + name_ + " failed";
      return;
    }
    added_ = true;
    if (passwd* pw = getpwnam(name_.c_str())) {
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
    } else {
      why_ = "no passwd entry for " + name_ + " after useradd";
    }
  }
  ~OtherUser() {
    if (added_) RunCommand({"userdel", name_});
  }
  OtherUser(const OtherUser&) = delete;
  OtherUser& operator=(const OtherUser&) = delete;

  bool ok() const { return why_.empty(); }
  const std::string& why() const { return why_; }
  const std::string& name() const { return name_; }
  uid_t uid() const { return uid_; }

  // Runs `fn` in a child process as this user; true if it returned true.
  bool Run(const std::function<bool()>& fn) const {
    pid_t pid = fork();
    if (pid == 0) {
      bool ok = setgroups(0, nullptr) == 0 && setgid(gid_) == 0 && setuid(uid_) == 0 && fn();
      _exit(ok ? 0 : 1);
    }
    int status = 0;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
  }

 private:
  std::string name_;
  std::string why_;
  bool added_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

}  // namespace overlay::testing_common

#endif  // OVERLAY_TESTS_COMMON_OTHER_USER_H_
