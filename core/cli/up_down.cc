// SPDX-License-Identifier: Apache-2.0
// `overlay up` and `overlay down` (cluster_commands.h).
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "cluster_commands.h"
#include "endpoint_probe.h"
#include "launchers/launcher.h"

namespace overlay {
namespace {

constexpr int kExitSome = 1;
constexpr int kExitUsage = 2;
// One heartbeat's wait while `up` polls, and the pause between rounds.
constexpr auto kProbeTimeout = std::chrono::milliseconds(500);
constexpr auto kRoundPause = std::chrono::milliseconds(200);

struct UpFlags {
  std::string config;
  std::string state_dir;
  bool submit = false;
  double timeout_s = 60;
};

Result<PipelineSpec> Load(const std::string& command, const std::string& config) {
  auto spec = LoadConfig(config);
  if (!spec.ok()) return spec;
  std::vector<std::string> errors;
  for (const EndpointDecl* e : ManagedEndpoints(*spec)) {
    // A port of 0 is chosen at listen time: nobody could find the endpoint.
    if (!e->address.starts_with("ipc://") && e->address.ends_with(":0"))
      errors.push_back(fmt::format("{}:{}: endpoint '{}': `overlay {}` needs a fixed port in "
                                   "address '{}'", e->loc.file, e->key_lines.at("address"),
                                   e->name, command, e->address));
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& m : errors) msg += (msg.empty() ? "" : "\n") + m;
    return Status::InvalidArgument(msg);
  }
  return spec;
}

launch::LaunchOptions Options(const UpFlags& f) {
  launch::LaunchOptions o;
  o.config = std::filesystem::absolute(f.config).lexically_normal().string();
  o.state_dir = f.state_dir.empty() ? ""
                                    : std::filesystem::absolute(f.state_dir).lexically_normal().string();
  o.submit = f.submit;
  return o;
}

std::string Host(const EndpointDecl& e) {
  const std::string kind = e.launch.Effective();
  if (kind == "ssh") return e.launch.host;
  if (kind == "slurm") return e.launch.nodelist.empty() ? "slurm" : "slurm:" + e.launch.nodelist;
  return "local";
}

int Up(const UpFlags& flags) {
  auto spec = Load("up", flags.config);
  if (!spec.ok()) {
    fmt::print(stderr, "{}\n", spec.status().message());
    return kExitUsage;
  }
  const launch::LaunchOptions options = Options(flags);
  const auto endpoints = ManagedEndpoints(*spec);
  if (endpoints.empty()) {
    fmt::print("{}: no ENDPOINT has an address: nothing to start\n", flags.config);
    return 0;
  }
  std::map<std::string, std::unique_ptr<launch::Launcher>> launchers;
  std::map<std::string, std::string> state;        // endpoint → what up did
  std::map<std::string, uint64_t> incarnation;     // endpoints that answered
  int failures = 0;
  for (const EndpointDecl* e : endpoints) {
    // Already up: leave it alone, whoever started it.
    if (auto hb = ProbeEndpoint(*spec, *e, kProbeTimeout, false); hb.ok()) {
      incarnation[e->name] = hb->incarnation;
      state[e->name] = "already up";
      continue;
    }
    auto& launcher = launchers[e->launch.Effective()];
    if (!launcher) launcher = launch::NewLauncher(e->launch.Effective(), options);
    auto started = launcher->Start(*e);
    if (!started.ok()) {
      fmt::print(stderr, "overlay up: {}: {}\n", e->name, started.status().message());
      state[e->name] = "FAILED to start";
      ++failures;
      continue;
    }
    fmt::print(stderr, "overlay up: {}\n", *started);
    state[e->name] = "started";
  }
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(flags.timeout_s * 1000));
  for (bool waiting = true; waiting && std::chrono::steady_clock::now() < deadline;) {
    waiting = false;
    for (const EndpointDecl* e : endpoints) {
      if (state[e->name] != "started" || incarnation.contains(e->name)) continue;
      if (auto hb = ProbeEndpoint(*spec, *e, kProbeTimeout, false); hb.ok()) {
        incarnation[e->name] = hb->incarnation;
      } else if (launchers[e->launch.Effective()]->Exited(*e)) {
        state[e->name] = "EXITED";
        ++failures;
        fmt::print(stderr, "overlay up: endpoint '{}' exited without answering; see its log: {}\n",
                   e->name, launchers[e->launch.Effective()]->LogHint(*e));
      } else {
        waiting = true;
      }
    }
    if (waiting) std::this_thread::sleep_for(kRoundPause);
  }
  fmt::print("{:<20} {:<22} {:<28} {:<18} {}\n", "ENDPOINT", "HOST", "ADDRESS", "INCARNATION",
             "STATE");
  for (const EndpointDecl* e : endpoints) {
    auto it = incarnation.find(e->name);
    std::string& st = state[e->name];
    if (it == incarnation.end() && st == "started") {
      st = "NO HEARTBEAT";
      ++failures;
      fmt::print(stderr, "overlay up: endpoint '{}' did not answer a heartbeat at {} within "
                         "{} s; see its log: {}\n",
                 e->name, e->address, flags.timeout_s,
                 launchers[e->launch.Effective()]->LogHint(*e));
    }
    fmt::print("{:<20} {:<22} {:<28} {:<18} {}\n", e->name, Host(*e), e->address,
               it == incarnation.end() ? "-" : fmt::format("{:016x}", it->second), st);
  }
  return failures == 0 ? 0 : kExitSome;
}

int Down(const UpFlags& flags) {
  auto spec = Load("down", flags.config);
  if (!spec.ok()) {
    fmt::print(stderr, "{}\n", spec.status().message());
    return kExitUsage;
  }
  const launch::LaunchOptions options = Options(flags);
  int failures = 0;
  for (const EndpointDecl* e : ManagedEndpoints(*spec)) {
    auto launcher = launch::NewLauncher(e->launch.Effective(), options);
    auto stopped = launcher->Stop(*e);
    if (!stopped.ok()) {
      fmt::print(stderr, "overlay down: {}: {}\n", e->name, stopped.status().message());
      ++failures;
      continue;
    }
    fmt::print("{}\n", *stopped);
  }
  return failures == 0 ? 0 : kExitSome;
}

}  // namespace

std::vector<const EndpointDecl*> ManagedEndpoints(const PipelineSpec& spec) {
  std::vector<const EndpointDecl*> out;
  for (const auto& e : spec.endpoints)
    if (!e.address.empty()) out.push_back(&e);
  return out;
}

void AddClusterCommands(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<UpFlags>();
  auto json = std::make_shared<bool>(false);
  auto state_dir = [&](CLI::App* c) {
    c->add_option("config", flags->config, "pipeline config file")->required();
    c->add_option("--state-dir", flags->state_dir,
                  "where pid files and logs go on each host (default: "
                  "$XDG_STATE_HOME/overlay, else ~/.local/state/overlay)");
  };
  CLI::App* up = app.add_subcommand(
      "up", "start every ENDPOINT with an address where its launcher says, and wait until each "
            "answers a heartbeat");
  state_dir(up);
  up->add_flag("--submit", flags->submit,
               "launcher = slurm: submit a batch job per endpoint (sbatch) instead of running job "
               "steps in the current allocation");
  up->add_option("--timeout", flags->timeout_s, "seconds to wait for the heartbeats")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  up->callback([=] { *exit_code = Up(*flags); });
  CLI::App* down = app.add_subcommand(
      "down", "stop every ENDPOINT `up` started (SIGTERM through its launcher: they drain)");
  state_dir(down);
  down->callback([=] { *exit_code = Down(*flags); });
  CLI::App* status = app.add_subcommand(
      "status", "ask every ENDPOINT with an address how it is; exit 0 when all are up");
  status->add_option("config", flags->config, "pipeline config file")->required();
  status->add_flag("--json", *json, "one JSON object on stdout");
  status->callback([=] { *exit_code = RunStatus(flags->config, *json); });
}

}  // namespace overlay
