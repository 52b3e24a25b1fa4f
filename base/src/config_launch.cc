// SPDX-License-Identifier: Apache-2.0
// The ENDPOINT keys of a LaunchDecl: launcher, host, overlay_path and the
// Slurm options.
#include "config_launch.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "overlay/suggest.h"

namespace overlay {
namespace {

const std::vector<std::string> kLaunchers = {"local", "ssh", "slurm"};
const std::vector<std::string> kSlurmKeys = {"partition", "nodelist", "constraint", "time_limit",
                                             "account"};

bool HasSpace(const std::string& v) {
  return std::any_of(v.begin(), v.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

int LineOf(const EndpointDecl& e, const std::string& key) {
  auto it = e.key_lines.find(key);
  return it == e.key_lines.end() ? e.loc.line : it->second;
}

}  // namespace

const std::vector<std::string>& LaunchKeys() {
  static const std::vector<std::string> kKeys = [] {
    std::vector<std::string> keys = {"launcher", "host", "overlay_path"};
    keys.insert(keys.end(), kSlurmKeys.begin(), kSlurmKeys.end());
    return keys;
  }();
  return kKeys;
}

Status SetLaunchOption(LaunchDecl* launch, const std::string& key, const std::string& value) {
  // Each value becomes one argv word of ssh, srun or sbatch: a leading '-'
  // would be read as an option of theirs.
  if (value.front() == '-' || HasSpace(value))
    return Status::InvalidArgument(
        fmt::format("{} '{}' may not start with '-' nor hold white space", key, value));
  if (key == "launcher") {
    if (std::find(kLaunchers.begin(), kLaunchers.end(), value) == kLaunchers.end())
      return Status::InvalidArgument(fmt::format("launcher '{}' is not local, ssh or slurm{}",
                                                 value, DidYouMean(value, kLaunchers)));
    launch->launcher = value;
  } else if (key == "host") {
    launch->host = value;
  } else if (key == "overlay_path") {
    launch->overlay_path = value;
  } else if (key == "partition") {
    launch->partition = value;
  } else if (key == "nodelist") {
    launch->nodelist = value;
  } else if (key == "constraint") {
    launch->constraint = value;
  } else if (key == "account") {
    launch->account = value;
  } else if (key == "time_limit") {
    const bool slurm_time = value == "UNLIMITED" || value == "infinite" ||
                            std::all_of(value.begin(), value.end(), [](char c) {
                              return std::isdigit(static_cast<unsigned char>(c)) || c == ':' ||
                                     c == '-';
                            });
    if (!slurm_time)
      return Status::InvalidArgument(fmt::format(
          "time_limit '{}' is not in Slurm's format: MINUTES, HH:MM:SS or D-HH:MM:SS", value));
    launch->time_limit = value;
  } else {
    return Status::InvalidArgument(fmt::format("unknown launch key '{}'{}", key,
                                               DidYouMean(key, LaunchKeys())));
  }
  return Status::OK();
}

void ValidateLaunch(const EndpointDecl& e, std::vector<std::string>* errors) {
  const LaunchDecl& l = e.launch;
  auto error = [&](const std::string& key, const std::string& msg) {
    errors->push_back(fmt::format("{}:{}: endpoint '{}': {}", e.loc.file, LineOf(e, key), e.name,
                                  msg));
  };
  const std::string launcher = l.Effective();
  const std::pair<std::string, const std::string*> slurm[] = {
      {"partition", &l.partition},   {"nodelist", &l.nodelist}, {"constraint", &l.constraint},
      {"time_limit", &l.time_limit}, {"account", &l.account}};
  bool any = !l.launcher.empty() || !l.host.empty() || !l.overlay_path.empty();
  for (const auto& [key, value] : slurm) any = any || !value->empty();
  if (any && e.address.empty()) {
    error("launcher", "has no address: it runs inside the client, so there is nothing to launch");
    return;
  }
  if (launcher == "ssh" && l.host.empty())
    error("launcher", "launcher = ssh needs host (an ssh destination such as root@10.77.0.2)");
  if (launcher != "ssh" && !l.host.empty())
    error("host", fmt::format("host applies to launcher = ssh, not {}", launcher));
  if (launcher != "slurm")
    for (const auto& [key, value] : slurm)
      if (!value->empty())
        error(key, fmt::format("{} applies to launcher = slurm, not {}", key, launcher));
}

}  // namespace overlay
