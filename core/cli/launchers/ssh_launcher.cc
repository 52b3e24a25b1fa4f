// SPDX-License-Identifier: Apache-2.0
// launcher = ssh: OpenSSH in batch mode runs `overlay endpoint --detach` (or
// `--stop`) on ENDPOINT.host; the node's overlay detaches the daemon itself,
// so no ssh session stays open. Our side runs ssh by execve; the remote
// user's shell gets every word single-quoted.
#include <fmt/format.h>

#include "launcher.h"
#include "process.h"

namespace overlay::launch {
namespace {

class SshLauncher final : public Launcher {
 public:
  explicit SshLauncher(const LaunchOptions& options) : options_(options) {}

  Result<std::string> Start(const EndpointDecl& e) override { return Remote(e, {"--detach"}); }

  Result<std::string> Stop(const EndpointDecl& e) override {
    return Remote(e, {"--stop", "--grace-ms", std::to_string(options_.grace.count())});
  }

  // The node's DefaultLogPath as a login without XDG_STATE_HOME sees it.
  std::string LogHint(const EndpointDecl& e) const override {
    if (!e.log.empty()) return fmt::format("{}:{}", e.launch.host, e.log);
    const bool root = e.launch.host.rfind("root@", 0) == 0;
    return fmt::format("{}:{}/{}.log", e.launch.host,
                       root ? "/var/log/overlay" : "~/.local/state/overlay", e.name);
  }

 private:
  Result<std::string> Remote(const EndpointDecl& e, std::vector<std::string> action) {
    std::vector<std::string> remote = {
        e.launch.overlay_path.empty() ? "overlay" : e.launch.overlay_path, "endpoint", "--config",
        options_.config, "--name", e.name};
    if (!options_.state_dir.empty()) remote.insert(remote.end(), {"--state-dir", options_.state_dir});
    remote.insert(remote.end(), action.begin(), action.end());
    // BatchMode: fail rather than ask for a password; `--` ends ssh's options.
    std::vector<std::string> argv = {"ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
                                     "--", e.launch.host, ShellCommand(remote)};
    auto r = RunCommand(argv, options_.command_timeout);
    if (!r.ok()) return r.status();
    std::string out = r->output;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    if (r->exit_code != 0)
      return Status::Failed(fmt::format("ssh {} exited with {}: {}", e.launch.host, r->exit_code,
                                        out));
    return fmt::format("{} (on {})", out, e.launch.host);
  }

  LaunchOptions options_;
};

}  // namespace

std::unique_ptr<Launcher> NewSshLauncher(const LaunchOptions& options) {
  return std::make_unique<SshLauncher>(options);
}

}  // namespace overlay::launch
