// SPDX-License-Identifier: Apache-2.0
// Test helper: a long-running program (an `overlay endpoint`) started inside a
// named network namespace through `ip netns exec` (posix_spawn, no shell), its
// stdout and stderr appended to a log file. `ip netns exec` execs the program
// in place, so the pid is the program's own and a signal reaches it directly.
#ifndef OVERLAY_TESTS_MULTIHOST_NETNS_DAEMON_H_
#define OVERLAY_TESTS_MULTIHOST_NETNS_DAEMON_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "overlay/status.h"

namespace overlay::testing {

// Thread-safety: one thread. Ownership: owns the child; kills (SIGKILL) and
// reaps it on destruction.
class NetnsDaemon {
 public:
  // `ip` is the path of the iproute2 binary; `argv` the program and its
  // arguments; `log` the file its output is appended to.
  NetnsDaemon(std::string ip, std::string netns, std::vector<std::string> argv, std::string log);
  ~NetnsDaemon();
  NetnsDaemon(const NetnsDaemon&) = delete;
  NetnsDaemon& operator=(const NetnsDaemon&) = delete;

  // Spawns the program and waits, at most `wait`, until its log holds one more
  // line containing `ready` than before the start. Errors: it could not be
  // spawned, it exited, or it did not get ready in time (it is killed then).
  Status Start(std::string_view ready, std::chrono::milliseconds wait);

  // Sends `sig` and reaps the child (SIGKILL after 5 s); returns the wait
  // status, or -1 when nothing was running.
  int Signal(int sig);

  bool running() const { return pid_ > 0; }
  const std::string& log() const { return log_; }

 private:
  // Lines of the log containing `text`.
  int CountInLog(std::string_view text) const;

  std::string ip_, netns_;
  std::vector<std::string> argv_;
  std::string log_;
  pid_t pid_ = -1;
};

}  // namespace overlay::testing

#endif  // OVERLAY_TESTS_MULTIHOST_NETNS_DAEMON_H_
