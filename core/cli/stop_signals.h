// SPDX-License-Identifier: Apache-2.0
// SIGINT and SIGTERM during `overlay run`: handled on a thread of their own
// (a signalfd), so the clean-up runs in normal context, never in a handler
// nor in exit handlers.
#ifndef OVERLAY_CORE_CLI_STOP_SIGNALS_H_
#define OVERLAY_CORE_CLI_STOP_SIGNALS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "overlay/status.h"

namespace overlay {

// The first SIGINT/SIGTERM sets cancel() and stops every running command
// (CancelAllProcesses: SIGTERM, SIGKILL after `grace_ms`); the run then winds
// down in its own threads. A second signal, or `force_after_ms` without the
// process having exited, stops at once: commands and their adopted orphans
// SIGKILLed, workspaces and state directories removed, `remove_on_force`
// removed, one line on stderr, then _exit(128 + signal) without running exit
// handlers (a library's could block).
//
// Thread-safety: cancel() and signal() may be read from any thread.
// Move-less; destroying it stops the thread (signals stay blocked).
class StopSignals {
 public:
  // Blocks SIGINT and SIGTERM in the calling thread, and so in every thread
  // it starts later. REQUIRES: no other thread of the process runs with them
  // unblocked (call before starting any).
  static Result<std::unique_ptr<StopSignals>> Start(int64_t grace_ms, int64_t force_after_ms);
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  ~StopSignals();

  // Paths (files or trees) a forced stop removes, e.g. a run's results.
  void RemoveOnForce(std::vector<std::string> paths);
  // While the returned lock is held, a forced stop waits (at most 1 s) before
  // removing those paths, so a result being written cannot land after them.
  std::unique_lock<std::timed_mutex> HoldResults() { return std::unique_lock(mu_); }

  const std::atomic<bool>* cancel() const { return &cancel_; }
  // The signal that stopped the run, or 0.
  int signal() const { return signal_; }

 private:
  StopSignals(int signal_fd, int wake_fd, int64_t grace_ms, int64_t force_after_ms);
  void Watch();
  [[noreturn]] void Force(int sig);

  const int signal_fd_;
  const int wake_fd_;  // written by the destructor to end Watch
  const int64_t grace_ms_;
  const int64_t force_after_ms_;
  std::timed_mutex mu_;
  std::vector<std::string> remove_on_force_;  // guarded by mu_
  std::atomic<bool> cancel_{false};
  std::atomic<int> signal_{0};
  std::thread thread_;
};

// "SIGINT", "SIGTERM", "SIGSEGV", or "signal N".
std::string SignalName(int sig);

}  // namespace overlay

#endif  // OVERLAY_CORE_CLI_STOP_SIGNALS_H_
