// SPDX-License-Identifier: Apache-2.0
#include "detached.h"

#include <fmt/format.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "overlay/config.h"
#include "overlay/event_log.h"
#include "process.h"

namespace overlay::launch {
namespace {

constexpr auto kPoll = std::chrono::milliseconds(50);

std::string PidFile(const DetachedEndpoint& e) {
  return StateDir(e.state_dir, e.config) + "/" + e.name + ".pid";
}

pid_t ReadPid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  return in >> pid && pid > 1 ? static_cast<pid_t>(pid) : 0;
}

bool Alive(pid_t pid, const std::string& name) {
  return pid > 0 && ::kill(pid, 0) == 0 && IsEndpointProcess(pid, name);
}

}  // namespace

Result<std::string> StartDetached(const DetachedEndpoint& e) {
  namespace fs = std::filesystem;
  const std::string dir = StateDir(e.state_dir, e.config);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError(fmt::format("cannot create {}: {}", dir, ec.message()));
  fs::permissions(dir, fs::perms::owner_all, ec);
  const std::string pid_file = PidFile(e);
  if (const pid_t old = ReadPid(pid_file); Alive(old, e.name))
    return fmt::format("{}: already running (pid {})", e.name, old);
  std::vector<std::string> argv = {e.overlay.empty() ? fs::read_symlink("/proc/self/exe").string()
                                                     : e.overlay,
                                   "endpoint", "--config", fs::absolute(e.config).string(),
                                   "--name", e.name};
  if (!e.address.empty()) argv.insert(argv.end(), {"--address", e.address});
  std::string log = e.log;
  if (log.empty()) {
    auto spec = ParseConfigFile(e.config);
    if (!spec.ok()) return spec.status();
    const EndpointDecl* decl = spec->FindEndpoint(e.name);
    log = EndpointLogPath(decl != nullptr ? decl->log : "", e.name);
  }
  ec.clear();
  // Made as OpenEventLog would (mode 0700): the endpoint's stderr needs it first.
  if (const fs::path folder = fs::path(log).parent_path();
      !folder.empty() && fs::create_directories(folder, ec))
    fs::permissions(folder, fs::perms::owner_all, ec);
  if (ec) return Status::IOError(fmt::format("cannot create the folder of {}: {}", log, ec.message()));
  argv.insert(argv.end(), {"--log", log});
  auto pid = SpawnDetached(argv, log);
  if (!pid.ok()) return pid.status();
  const std::string tmp = pid_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << *pid << "\n";
    if (!out.flush()) return Status::IOError("cannot write " + tmp);
  }
  fs::rename(tmp, pid_file, ec);
  if (ec) return Status::IOError(fmt::format("cannot write {}: {}", pid_file, ec.message()));
  return fmt::format("{}: started (pid {}, log {})", e.name, *pid, log);
}

bool DetachedRunning(const DetachedEndpoint& e) { return Alive(ReadPid(PidFile(e)), e.name); }

Result<std::string> StopDetached(const DetachedEndpoint& e, std::chrono::milliseconds grace) {
  const std::string pid_file = PidFile(e);
  const pid_t pid = ReadPid(pid_file);
  std::error_code ec;
  if (!Alive(pid, e.name)) {
    std::filesystem::remove(pid_file, ec);
    return fmt::format("{}: not running", e.name);
  }
  ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (Alive(pid, e.name) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(kPoll);
  std::string how = "stopped";
  if (Alive(pid, e.name)) {
    ::kill(pid, SIGKILL);
    how = fmt::format("killed after {} ms without stopping", grace.count());
    for (int i = 0; i < 40 && Alive(pid, e.name); ++i) std::this_thread::sleep_for(kPoll);
  }
  std::filesystem::remove(pid_file, ec);
  return fmt::format("{}: {} (pid {})", e.name, how, pid);
}

}  // namespace overlay::launch
