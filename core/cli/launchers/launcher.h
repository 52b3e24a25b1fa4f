// SPDX-License-Identifier: Apache-2.0
// Launchers: how `overlay up` and `down` start and stop an endpoint where its
// ENDPOINT block says (launcher = local | ssh | slurm), through the cluster's
// own tools: a detached process, OpenSSH in batch mode, Slurm job steps.
#ifndef OVERLAY_CORE_CLI_LAUNCHERS_LAUNCHER_H_
#define OVERLAY_CORE_CLI_LAUNCHERS_LAUNCHER_H_

#include <chrono>
#include <memory>
#include <string>

#include "overlay/config.h"
#include "overlay/status.h"

namespace overlay::launch {

struct LaunchOptions {
  std::string config;      // the config file, absolute (every node reads the same path)
  std::string state_dir;   // `--state-dir`: empty for each host's default (StateDir)
  bool submit = false;     // slurm: an sbatch job per endpoint, not a step of this allocation
  // Longest wait for one ssh/srun/sbatch/scancel command.
  std::chrono::milliseconds command_timeout{60000};
  // Between SIGTERM and SIGKILL when stopping.
  std::chrono::milliseconds grace{10000};
};

// Thread-safety: one thread. Ownership: holds nothing but its options.
class Launcher {
 public:
  virtual ~Launcher() = default;
  // Starts the endpoint and returns a line saying how; it need not answer
  // yet (the caller waits for its heartbeat).
  virtual Result<std::string> Start(const EndpointDecl& e) = 0;
  // Asks it to stop (SIGTERM: it drains), waits, and returns a line saying
  // what happened.
  virtual Result<std::string> Stop(const EndpointDecl& e) = 0;
  // Where its log is, for messages.
  virtual std::string LogHint(const EndpointDecl& e) const = 0;
  // True when the endpoint Start began is known to have exited already
  // (only the local launcher can tell), so `up` need not wait for it.
  virtual bool Exited(const EndpointDecl&) const { return false; }
};

std::unique_ptr<Launcher> NewLocalLauncher(const LaunchOptions& options);
std::unique_ptr<Launcher> NewSshLauncher(const LaunchOptions& options);
std::unique_ptr<Launcher> NewSlurmLauncher(const LaunchOptions& options);

// The launcher for LaunchDecl::Effective().
std::unique_ptr<Launcher> NewLauncher(const std::string& kind, const LaunchOptions& options);

}  // namespace overlay::launch

#endif  // OVERLAY_CORE_CLI_LAUNCHERS_LAUNCHER_H_
