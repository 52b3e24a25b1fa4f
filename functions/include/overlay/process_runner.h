// SPDX-License-Identifier: Apache-2.0
// The process runner: runs one external program with execve (never through a
// shell), captures the tail of its stdout and stderr, and enforces a timeout on
// the program and everything it started.
#ifndef OVERLAY_FUNCTIONS_PROCESS_RUNNER_H_
#define OVERLAY_FUNCTIONS_PROCESS_RUNNER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "overlay/status.h"

namespace overlay {

// What to run and how. A plain value (no locking; copy it to share); every
// field has its default here.
struct RunOptions {
  // argv[0] is a path (relative ones resolve against the caller's working
  // directory, not `cwd`) or a bare name searched on PATH (the PATH in `env`
  // if set there, else the caller's). Must not be empty.
  std::vector<std::string> argv;
  // Working directory of the child. Default: empty, the caller's.
  std::string cwd;
  // Added to (or replacing entries of) the caller's environment.
  std::vector<std::pair<std::string, std::string>> env;
  // Wall-clock limit in milliseconds. Default: 0, no limit.
  int64_t timeout_ms = 0;
  // After the timeout, SIGTERM goes to the child's process group; SIGKILL
  // follows when it is still alive this many milliseconds later. Default: 2000.
  int64_t kill_grace_ms = 2000;
  // Bytes kept of each of stdout and stderr: the last ones. Default: 64 KiB.
  size_t max_output_bytes = 64 * 1024;
  // When non-empty and the kernel has Landlock (LandlockAbi() > 0), the child
  // and everything it starts may create, change or remove files only beneath
  // these paths (directories, or single files such as /dev/null); reading
  // and executing stay allowed everywhere. Without Landlock the child runs
  // unconfined (the caller says so; see LandlockAbi). Default: empty, no
  // confinement.
  std::vector<std::string> writable_paths;
};

// Captured output of one stream: its last bytes. A plain value.
struct CapturedOutput {
  std::string tail;          // at most RunOptions::max_output_bytes
  uint64_t total_bytes = 0;  // everything the child wrote
  bool truncated() const { return total_bytes > tail.size(); }
};

// How a run ended. A plain value; it owns its captured output.
struct RunResult {
  int exit_code = -1;      // valid when term_signal == 0
  int term_signal = 0;     // the signal that ended the child, or 0
  bool timed_out = false;  // the runner killed it at RunOptions::timeout_ms
  bool cancelled = false;  // CancelAllProcesses stopped it
  int64_t elapsed_ms = 0;
  CapturedOutput out;  // stdout
  CapturedOutput err;  // stderr

  bool success() const { return term_signal == 0 && exit_code == 0 && !timed_out; }
  // "exit code 3", "killed by SIGKILL (signal 9)", "timed out after 500 ms"
  // or "cancelled".
  std::string Describe() const;
  // The last `max_bytes` of stderr, starting at a line boundary when one is
  // near, prefixed with "…" when cut.
  std::string StderrTail(size_t max_bytes = 2000) const;
};

// Runs `options.argv` to completion and returns how it ended; a non-zero exit,
// a signal or a timeout are results, not errors. Errors (no child ran): a
// program that cannot be executed ("cannot execute 'x': No such file or
// directory"), a missing `cwd`, or a failing pipe/spawn.
//
// The child: is its own process-group leader; reads stdin from /dev/null;
// inherits no descriptors beyond 0-2; has default signal dispositions and an
// empty signal mask. When it exits, whatever it left running in its process
// group is killed, so no helper outlives the run; a timeout sends SIGTERM then
// SIGKILL to that group. The child is always reaped: no zombie is left.
//
// Thread-safety: safe to call from several threads at once. The caller must
// not reap children it did not start (waitpid(-1) elsewhere would steal ours).
Result<RunResult> RunProcess(const RunOptions& options);

// The Landlock ABI version of the running kernel (1, 2, …), or 0 when it has
// none (before Linux 5.13, or Landlock not enabled in the LSM list).
int LandlockAbi();

// Stopping every command at once, for a caller that is being interrupted
// (`overlay run` on SIGINT/SIGTERM). Process-wide; thread-safe.
//
// Makes this process the subreaper of what its commands start
// (PR_SET_CHILD_SUBREAPER): a descendant that left its command's process
// group (setsid, double fork) is re-parented here rather than to init when
// its parent exits, so KillAdoptedOrphans can find it. Call once, early.
Status AdoptOrphans();

// Every running command's process group gets SIGTERM now and SIGKILL
// `grace_ms` later (from the RunProcess call that owns it); their results
// say `cancelled`. With `grace_ms` 0: SIGKILL now, and it returns once they
// are dead (within 2 s). From now on RunProcess fails at once ("cancelled") without
// starting anything. Not async-signal-safe: call it from a normal thread.
void CancelAllProcesses(int64_t grace_ms = 2000);
bool ProcessesCancelled();

// SIGKILLs and reaps the processes re-parented here (see AdoptOrphans) that
// RunProcess did not start itself, with whatever they start meanwhile, until
// none is left (bounded). Returns how many were killed. Only for a process
// whose other children are all RunProcess's: any other child is killed too.
size_t KillAdoptedOrphans();

// Where execve would find `program`: itself when it contains a '/', else the
// first executable regular file named so in `path_env` (colon-separated;
// empty entries mean the working directory). NotFound names the program.
Result<std::string> ResolveProgram(std::string_view program, std::string_view path_env);

}  // namespace overlay

#endif  // OVERLAY_FUNCTIONS_PROCESS_RUNNER_H_
