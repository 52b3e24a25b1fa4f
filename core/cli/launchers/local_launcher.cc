// SPDX-License-Identifier: Apache-2.0
// launcher = local: a detached process on this machine (detached.h).
#include "detached.h"
#include "launcher.h"
#include "overlay/event_log.h"

namespace overlay::launch {
namespace {

class LocalLauncher final : public Launcher {
 public:
  explicit LocalLauncher(const LaunchOptions& options) : options_(options) {}

  Result<std::string> Start(const EndpointDecl& e) override {
    return StartDetached(Detached(e));
  }
  Result<std::string> Stop(const EndpointDecl& e) override {
    return StopDetached(Detached(e), options_.grace);
  }
  bool Exited(const EndpointDecl& e) const override { return !DetachedRunning(Detached(e)); }
  std::string LogHint(const EndpointDecl& e) const override {
    return EndpointLogPath(e.log, e.name);
  }

 private:
  DetachedEndpoint Detached(const EndpointDecl& e) const {
    return {options_.config, e.name, "", options_.state_dir, e.launch.overlay_path,
            EndpointLogPath(e.log, e.name)};
  }

  LaunchOptions options_;
};

}  // namespace

std::unique_ptr<Launcher> NewLocalLauncher(const LaunchOptions& options) {
  return std::make_unique<LocalLauncher>(options);
}

std::unique_ptr<Launcher> NewLauncher(const std::string& kind, const LaunchOptions& options) {
  if (kind == "ssh") return NewSshLauncher(options);
  if (kind == "slurm") return NewSlurmLauncher(options);
  return NewLocalLauncher(options);
}

}  // namespace overlay::launch
