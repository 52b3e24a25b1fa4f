// SPDX-License-Identifier: Apache-2.0
#include "stop_signals.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "overlay/function.h"
#include "overlay/process_runner.h"

namespace overlay {
namespace {

sigset_t StopSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// stdio may be locked by a thread that is stuck; write(2) is not.
void Say(const std::string& line) {
  ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  (void)n;
}

}  // namespace

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? "SIG" + std::string(abbrev) : "signal " + std::to_string(sig);
}

Result<std::unique_ptr<StopSignals>> StopSignals::Start(int64_t grace_ms, int64_t force_after_ms) {
  const sigset_t set = StopSet();
  if (int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0)
    return Status::FromErrno("pthread_sigmask", rc);
  const int sfd = ::signalfd(-1, &set, SFD_CLOEXEC);
  if (sfd < 0) return Status::FromErrno("signalfd", errno);
  const int wfd = ::eventfd(0, EFD_CLOEXEC);
  if (wfd < 0) {
    ::close(sfd);
    return Status::FromErrno("eventfd", errno);
  }
  return std::unique_ptr<StopSignals>(new StopSignals(sfd, wfd, grace_ms, force_after_ms));
}

StopSignals::StopSignals(int signal_fd, int wake_fd, int64_t grace_ms, int64_t force_after_ms)
    : signal_fd_(signal_fd),
      wake_fd_(wake_fd),
      grace_ms_(grace_ms),
      force_after_ms_(force_after_ms) {
  thread_ = std::thread([this] { Watch(); });
}

StopSignals::~StopSignals() {
  const uint64_t one = 1;
  ssize_t n = ::write(wake_fd_, &one, sizeof one);
  (void)n;
  thread_.join();
  ::close(signal_fd_);
  ::close(wake_fd_);
}

void StopSignals::RemoveOnForce(std::vector<std::string> paths) {
  std::lock_guard lock(mu_);
  remove_on_force_ = std::move(paths);
}

void StopSignals::Watch() {
  // Until the first signal: wait for ever; then at most force_after_ms.
  int timeout_ms = -1;
  while (true) {
    pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int ready = ::poll(fds, 2, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || fds[1].revents != 0) return;
    if (ready == 0) Force(signal_);  // the wind-down took too long
    signalfd_siginfo info{};
    if (::read(signal_fd_, &info, sizeof info) != sizeof info) continue;
    const int sig = static_cast<int>(info.ssi_signo);
    if (signal_ != 0) Force(sig);
    signal_ = sig;
    cancel_ = true;
    CancelAllProcesses(grace_ms_);
    Say("\noverlay run: " + SignalName(sig) +
        ": stopping (running commands get SIGTERM, then SIGKILL; signal again to stop at "
        "once)\n");
    timeout_ms = static_cast<int>(force_after_ms_);
  }
}

void StopSignals::Force(int sig) {
  CancelAllProcesses(0);
  const size_t orphans = KillAdoptedOrphans();
  const size_t dirs = RemoveCommandDirectories();
  // Bounded: a forced stop waits only for a results write in progress.
  std::unique_lock lock(mu_, std::chrono::seconds(1));
  for (const std::string& path : lock.owns_lock() ? remove_on_force_ : std::vector<std::string>{}) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  Say("overlay run: interrupted by " + SignalName(sig) + ", stopped at once: commands killed (" +
      std::to_string(orphans) + " orphaned), " + std::to_string(dirs) +
      " workspaces removed, no results kept\n");
  ::_exit(128 + sig);
}

}  // namespace overlay
