// SPDX-License-Identifier: Apache-2.0
// Running the cluster's own tools (ssh, srun, sbatch, scancel, squeue) and
// detached endpoint processes: always execve of an argv, never a shell here.
#ifndef OVERLAY_CORE_CLI_LAUNCHERS_PROCESS_H_
#define OVERLAY_CORE_CLI_LAUNCHERS_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "overlay/status.h"

namespace overlay::launch {

struct CommandResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string output;  // stdout and stderr together, at most 64 KiB kept
};

// Runs argv[0] (looked up on PATH) with stdin from /dev/null, waits at most
// `timeout` (then kills it: Timeout). NotFound when the program is missing.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout);

// Starts argv in a session of its own (setsid), stdin and stdout /dev/null,
// stderr appended to `log` (its folder must exist), and returns its pid
// without waiting: it outlives this process.
Result<pid_t> SpawnDetached(const std::vector<std::string>& argv, const std::string& log);

// The argv word quoted for a POSIX shell ('…', with ' as '\''), for the
// command line ssh hands to the remote user's shell.
std::string ShellQuote(const std::string& word);
std::string ShellCommand(const std::vector<std::string>& argv);

// Where `overlay up` keeps the pid files (and Slurm's files) of a config's
// endpoints on a host: DIR/<config stem>-<hash of its absolute path>/. DIR is `state_dir`,
// else $XDG_STATE_HOME/overlay, else $HOME/.local/state/overlay.
std::string StateDir(const std::string& state_dir, const std::string& config);

// True when process `pid` runs `overlay endpoint` for endpoint `name`
// (guards against a recycled pid).
bool IsEndpointProcess(pid_t pid, const std::string& name);

}  // namespace overlay::launch

#endif  // OVERLAY_CORE_CLI_LAUNCHERS_PROCESS_H_
