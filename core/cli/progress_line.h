// SPDX-License-Identifier: Apache-2.0
// The status line `overlay run` keeps on a terminal: per-stage counts, the share
// of the input consumed, the input rate and the time left.
#ifndef OVERLAY_CORE_CLI_PROGRESS_LINE_H_
#define OVERLAY_CORE_CLI_PROGRESS_LINE_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "overlay/config.h"
#include "overlay/executor.h"
#include "overlay/function_manager.h"

namespace overlay {

// One line of text for `p` after `seconds` of running; no terminal codes.
std::string ProgressText(const Progress& p, double seconds);

// The endpoints with tasks in flight that have been silent for a second or
// more, named as in `spec`, e.g. "waiting for cloud (4 s), fog (1 s)"; empty
// when none.
std::string WaitingText(const std::vector<EndpointContact>& contacts, const PipelineSpec& spec);

// Redraws the line on stderr every 200 ms from a thread of its own, from the
// moment it is made, when stderr is a terminal; elsewhere (logs, CI) it prints
// nothing. Thread-safety: Update may be called from any thread.
class ProgressLine {
 public:
  // `start` holds what is known before the first task: totals and stage names.
  explicit ProgressLine(Progress start, bool enabled);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Takes the executor's counts; totals it leaves at zero keep their start values.
  void Update(const Progress& p);
  // Text appended to the line at every redraw (e.g. WaitingText), when not empty.
  void SetSuffix(std::function<std::string()> suffix);
  // Draws the final state, ends the line and stops the thread; idempotent.
  void Done();

 private:
  void Draw();

  std::mutex mu_;
  std::condition_variable cv_;
  Progress last_;  // guarded by mu_
  bool stop_ = false;  // guarded by mu_
  std::function<std::string()> suffix_;  // guarded by mu_
  const std::chrono::steady_clock::time_point start_;
  std::thread ticker_;
};

}  // namespace overlay

#endif  // OVERLAY_CORE_CLI_PROGRESS_LINE_H_
