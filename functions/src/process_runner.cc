// SPDX-License-Identifier: Apache-2.0
// posix_spawn (glibc: clone(CLONE_VFORK) + execve) rather than fork: nothing
// runs in the child between fork and exec but glibc's own file actions, so a
// multi-threaded caller is safe, and exec failures come back as an errno.
// Landlock, which would otherwise be set in the child before execve, is set
// on a short-lived thread that then spawns the child: a Landlock domain binds
// the thread that enforces it and every process it starts.
#include "overlay/process_runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "landlock.h"
#include "unique_fd.h"

extern char** environ;

namespace overlay {
namespace {

using Clock = std::chrono::steady_clock;
using detail::UniqueFd;

// After the child exits, how long descendants that left its process group may
// keep our pipes open before we stop reading.
constexpr auto kDrainAfterExit = std::chrono::milliseconds(1000);
// Exit polling interval when the kernel has no pidfd_open (before Linux 5.3).
constexpr int kPollSliceMs = 10;

// Every child RunProcess started and has not reaped yet, and the
// cancellation state. Never destroyed: a process being interrupted may still
// use it on its way to _exit.
struct Registry {
  std::mutex mu;
  std::set<pid_t> children;  // guarded by mu; a pid stays until it is reaped
  std::atomic<bool> cancelled{false};
  std::atomic<int64_t> grace_ms{2000};
  // Readable once cancelled, so every RunProcess loop wakes up.
  const int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
};

Registry& Reg() {
  static Registry* const registry = new Registry;
  return *registry;
}

// Owns a child process: the destructor kills its process group and reaps it,
// so no path out of RunProcess leaves a zombie or a runaway child.
// Thread-safety: none; one owner at a time. Move-only (a copy would reap twice).
class ChildProcess {
 public:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  ChildProcess(ChildProcess&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}
  ChildProcess& operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
      KillAndReap();
      pid_ = std::exchange(other.pid_, -1);
    }
    return *this;
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { KillAndReap(); }

  // The child leads its own group, whose id is its pid.
  void SignalGroup(int sig) const {
    if (pid_ > 0) ::kill(-pid_, sig);
  }

  // True once the child has exited; it stays a zombie (WNOWAIT), so its pid and
  // process-group id cannot be reused before Reap.
  bool HasExited() const {
    siginfo_t info{};
    return pid_ > 0 && ::waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == pid_;
  }

  // Kills what the child left in its group, reaps the child and returns its
  // wait status. Idempotent. The pid leaves the registry as it is reaped, so
  // CancelAllProcesses never signals a reused pid.
  int KillAndReap() {
    int status = 0;
    if (pid_ <= 0) return status;
    SignalGroup(SIGKILL);
    siginfo_t info{};
    while (::waitid(P_PID, pid_, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
    Registry& reg = Reg();
    std::lock_guard lock(reg.mu);
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reg.children.erase(pid_);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
};

// RAII for the two posix_spawn attribute objects.
class SpawnAttr {
 public:
  SpawnAttr() { posix_spawnattr_init(&attr_); }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
  ~SpawnAttr() { posix_spawnattr_destroy(&attr_); }
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

class FileActions {
 public:
  FileActions() { posix_spawn_file_actions_init(&fa_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  ~FileActions() { posix_spawn_file_actions_destroy(&fa_); }
  posix_spawn_file_actions_t* get() { return &fa_; }

 private:
  posix_spawn_file_actions_t fa_;
};

Status CannotExecute(std::string_view program, int err, std::string_view note = "") {
  std::string msg = "cannot execute '" + std::string(program) + "': " + std::strerror(err);
  msg += note;
  return err == ENOENT ? Status::NotFound(msg) : Status::IOError(msg);
}

std::string_view KeyOf(std::string_view kv) { return kv.substr(0, kv.find('=')); }

// The caller's environment with `extra` added; a later entry replaces an
// earlier one of the same name.
std::vector<std::string> MergeEnv(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  for (const auto& [name, value] : extra) {
    // A copy of the binding for the lambda: clang before 16 cannot capture one.
    const std::string_view key = name;
    std::erase_if(env, [&](const std::string& kv) { return KeyOf(kv) == key; });
    env.push_back(name + "=" + value);
  }
  return env;
}

std::string PathFor(const std::vector<std::pair<std::string, std::string>>& extra) {
  for (auto it = extra.rbegin(); it != extra.rend(); ++it)
    if (it->first == "PATH") return it->second;
  const char* path = std::getenv("PATH");
  return path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
}

void Append(CapturedOutput& out, const char* p, size_t n, size_t max) {
  out.total_bytes += n;
  if (max == 0) return;
  if (n >= max) {
    out.tail.assign(p + (n - max), max);
    return;
  }
  out.tail.append(p, n);
  // Trim lazily: at most 2*max bytes are ever held.
  if (out.tail.size() > 2 * max) out.tail.erase(0, out.tail.size() - max);
}

int MillisUntil(Clock::time_point t, Clock::time_point now) {
  if (t <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(t - now).count();
  return static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

}  // namespace

std::string RunResult::Describe() const {
  if (cancelled) return "cancelled";
  if (timed_out) return "timed out after " + std::to_string(elapsed_ms) + " ms";
  if (term_signal != 0) {
    const char* abbrev = sigabbrev_np(term_signal);
    return abbrev != nullptr
               ? "killed by SIG" + std::string(abbrev) + " (signal " + std::to_string(term_signal) + ")"
               : "killed by signal " + std::to_string(term_signal);
  }
  return "exit code " + std::to_string(exit_code);
}

std::string RunResult::StderrTail(size_t max_bytes) const {
  std::string_view s = err.tail;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.remove_suffix(1);
  bool cut = err.truncated();
  if (s.size() > max_bytes) {
    s = s.substr(s.size() - max_bytes);
    cut = true;
    // Start at a line boundary when one is close, so the first line is whole.
    size_t nl = s.find('\n');
    if (nl != std::string_view::npos && nl < max_bytes / 4) s.remove_prefix(nl + 1);
  }
  return cut ? "…" + std::string(s) : std::string(s);
}

Result<std::string> ResolveProgram(std::string_view program, std::string_view path_env) {
  if (program.empty()) return Status::InvalidArgument("cannot execute '': empty program name");
  if (program.find('/') != std::string_view::npos) return std::string(program);
  while (true) {
    size_t colon = path_env.find(':');
    std::string_view dir = path_env.substr(0, colon);
    std::string candidate =
        dir.empty() ? std::string(program) : std::string(dir) + "/" + std::string(program);
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return dir.empty() ? "./" + candidate : candidate;
    if (colon == std::string_view::npos) break;
    path_env.remove_prefix(colon + 1);
  }
  return CannotExecute(program, ENOENT, " (not found on PATH)");
}

Result<RunResult> RunProcess(const RunOptions& options) {
  if (options.argv.empty()) return Status::InvalidArgument("RunProcess: empty argv");
  Result<std::string> resolved = ResolveProgram(options.argv[0], PathFor(options.env));
  if (!resolved.ok()) return resolved.status();
  std::string exe = std::move(resolved).value();
  if (!options.cwd.empty()) {
    // The child chdirs before execve; keep a relative program relative to us.
    if (exe.front() != '/') {
      std::error_code ec;
      exe = (std::filesystem::current_path(ec) / exe).string();
    }
    struct stat st;
    if (::stat(options.cwd.c_str(), &st) != 0)
      return Status::FromErrno("working directory '" + options.cwd + "'", errno);
    if (!S_ISDIR(st.st_mode))
      return Status::InvalidArgument("working directory '" + options.cwd + "' is not a directory");
  }

  std::vector<char*> argv;
  for (const std::string& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env = MergeEnv(options.env);
  std::vector<char*> envp;
  for (std::string& kv : env) envp.push_back(kv.data());
  envp.push_back(nullptr);

  int out_fds[2], err_fds[2];
  if (::pipe2(out_fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  UniqueFd out_r(out_fds[0]), out_w(out_fds[1]);
  if (::pipe2(err_fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  UniqueFd err_r(err_fds[0]), err_w(err_fds[1]);

  FileActions fa;
  posix_spawn_file_actions_addopen(fa.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(fa.get(), out_w.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(fa.get(), err_w.get(), STDERR_FILENO);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(fa.get(), options.cwd.c_str());
  // Descriptors another thread opened without O_CLOEXEC must not leak in.
  posix_spawn_file_actions_addclosefrom_np(fa.get(), STDERR_FILENO + 1);

  SpawnAttr attr;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setflags(attr.get(),
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(attr.get(), 0);
  posix_spawnattr_setsigmask(attr.get(), &none);
  posix_spawnattr_setsigdefault(attr.get(), &all);

  pid_t pid = -1;
  Registry& reg = Reg();
  {
    // Registered before anyone can see it as an orphan (KillAdoptedOrphans).
    std::lock_guard lock(reg.mu);
    if (reg.cancelled) return Status::Failed("cancelled");
    int rc = 0;
    auto spawn = [&] {
      rc = ::posix_spawn(&pid, exe.c_str(), fa.get(), attr.get(), argv.data(), envp.data());
    };
    if (!options.writable_paths.empty() && LandlockAbi() > 0) {
      // Landlock binds the thread that enforces it, and what it starts: a
      // thread of its own, so the caller's stays free.
      Status confined;
      std::thread([&] {
        confined = detail::ConfineWritesOfThisThread(options.writable_paths);
        if (confined.ok()) spawn();
      }).join();
      if (!confined.ok()) return confined;
    } else {
      spawn();
    }
    if (rc != 0) return CannotExecute(options.argv[0], rc);
    reg.children.insert(pid);
  }
  ChildProcess child(pid);
  out_w.Close();
  err_w.Close();

  // Readable when the child exits; absent on old kernels (then we poll).
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

  RunResult result;
  const Clock::time_point start = Clock::now();
  constexpr Clock::time_point kNever = Clock::time_point::max();
  Clock::time_point deadline =
      options.timeout_ms > 0 ? start + std::chrono::milliseconds(options.timeout_ms) : kNever;
  Clock::time_point kill_at = kNever, drain_until = kNever;
  bool exited = false;
  bool cancel_seen = false;
  int wait_status = 0;
  UniqueFd* pipes[2] = {&out_r, &err_r};
  CapturedOutput* sinks[2] = {&result.out, &result.err};
  char buf[32 * 1024];

  while (true) {
    Clock::time_point now = Clock::now();
    if (!exited && child.HasExited()) {
      wait_status = child.KillAndReap();
      exited = true;
      drain_until = now + kDrainAfterExit;
    }
    if (exited && (!out_r.valid() && !err_r.valid())) break;
    if (exited && now >= drain_until) break;
    if (!exited && !result.timed_out && now >= deadline) {
      result.timed_out = true;
      child.SignalGroup(SIGTERM);
      kill_at = now + std::chrono::milliseconds(std::max<int64_t>(options.kill_grace_ms, 0));
    }
    if (!exited && !cancel_seen && reg.cancelled) {
      cancel_seen = result.cancelled = true;
      child.SignalGroup(SIGTERM);
      kill_at = std::min(kill_at, now + std::chrono::milliseconds(reg.grace_ms.load()));
    }
    if (!exited && now >= kill_at) {
      child.SignalGroup(SIGKILL);
      kill_at = kNever;
    }

    pollfd fds[4];
    int which[4];  // index into pipes, -1 for the pidfd, -2 for the wake-up
    nfds_t n = 0;
    for (int i = 0; i < 2; ++i)
      if (pipes[i]->valid()) {
        fds[n] = {pipes[i]->get(), POLLIN, 0};
        which[n++] = i;
      }
    if (!exited && pidfd.valid()) {
      fds[n] = {pidfd.get(), POLLIN, 0};
      which[n++] = -1;
    }
    if (!exited && !cancel_seen && reg.wake_fd >= 0) {
      fds[n] = {reg.wake_fd, POLLIN, 0};
      which[n++] = -2;
    }
    int wait_ms = MillisUntil(drain_until, now);
    if (!exited) {
      wait_ms = MillisUntil(std::min(result.timed_out ? kNever : deadline, kill_at), now);
      if (!pidfd.valid() || reg.wake_fd < 0) wait_ms = std::min(wait_ms, kPollSliceMs);
    }
    if (::poll(fds, n, wait_ms) < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("poll", errno);  // `child` kills and reaps
    }
    for (nfds_t k = 0; k < n; ++k) {
      if (which[k] < 0 || (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      UniqueFd& fd = *pipes[which[k]];
      ssize_t got = ::read(fd.get(), buf, sizeof buf);
      if (got > 0)
        Append(*sinks[which[k]], buf, static_cast<size_t>(got), options.max_output_bytes);
      else if (got == 0 || (errno != EINTR && errno != EAGAIN))
        fd.Close();
    }
  }

  for (CapturedOutput* s : sinks)
    if (s->tail.size() > options.max_output_bytes)
      s->tail.erase(0, s->tail.size() - options.max_output_bytes);
  result.elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  if (WIFSIGNALED(wait_status)) {
    result.term_signal = WTERMSIG(wait_status);
  } else {
    result.exit_code = WEXITSTATUS(wait_status);
  }
  return result;
}

Status AdoptOrphans() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    return Status::FromErrno("prctl(PR_SET_CHILD_SUBREAPER)", errno);
  return Status::OK();
}

void CancelAllProcesses(int64_t grace_ms) {
  Registry& reg = Reg();
  reg.grace_ms = std::max<int64_t>(grace_ms, 0);
  reg.cancelled = true;
  std::lock_guard lock(reg.mu);
  // Registered pids are not reaped yet, so none of them names another process.
  for (pid_t pid : reg.children) ::kill(-pid, grace_ms > 0 ? SIGTERM : SIGKILL);
  if (reg.wake_fd >= 0) {
    const uint64_t one = 1;
    ssize_t n = ::write(reg.wake_fd, &one, sizeof one);
    (void)n;
  }
  if (grace_ms > 0) return;
  // Until they are dead (bounded), so what they started has been re-parented
  // here by the time KillAdoptedOrphans looks.
  for (int i = 0; i < 400; ++i) {  // 400 × 5 ms
    bool alive = false;
    for (pid_t pid : reg.children) {
      siginfo_t info{};
      alive |= ::waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
    }
    if (!alive) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool ProcessesCancelled() { return Reg().cancelled; }

namespace {

// The children of this process that RunProcess did not start: orphans
// re-parented here. REQUIRES: Reg().mu held, so no new child is half-registered.
std::vector<pid_t> AdoptedChildren() {
  std::vector<pid_t> found;
  const pid_t self = ::getpid();
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return found;
  while (const dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0' || Reg().children.count(static_cast<pid_t>(pid))) continue;
    std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // "pid (comm) state ppid …"; comm may hold spaces and parentheses.
    const size_t paren = line.rfind(')');
    if (paren == std::string::npos || paren + 4 > line.size()) continue;
    const long ppid = std::strtol(line.c_str() + paren + 4, nullptr, 10);
    if (ppid == self) found.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  return found;
}

}  // namespace

size_t KillAdoptedOrphans() {
  size_t killed = 0;
  // Each round kills what the previous round's victims had started.
  for (int round = 0; round < 64; ++round) {
    std::vector<pid_t> orphans;
    {
      std::lock_guard lock(Reg().mu);
      orphans = AdoptedChildren();
      for (pid_t pid : orphans) ::kill(pid, SIGKILL);
    }
    if (orphans.empty()) break;
    for (pid_t pid : orphans) {
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ++killed;
    }
  }
  return killed;
}

}  // namespace overlay
