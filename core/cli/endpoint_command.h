// SPDX-License-Identifier: Apache-2.0
// `overlay endpoint --config CFG --name NAME`: runs the endpoint daemon until
// SIGTERM or SIGINT.
#ifndef OVERLAY_CORE_CLI_ENDPOINT_COMMAND_H_
#define OVERLAY_CORE_CLI_ENDPOINT_COMMAND_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace overlay {

// Serves ENDPOINT `name` of `config` (listening on `address` when non-empty,
// else on ENDPOINT.address), logging events to `log` when non-empty, else to
// ENDPOINT.log, else to DefaultLogPath. Returns the exit status: 0 after a clean shutdown
// on SIGTERM/SIGINT, 2 when the config or the endpoint cannot be set up.
// Installs handlers for SIGTERM and SIGINT; call once per process.
int RunEndpoint(const std::string& config, const std::string& name, const std::string& address,
                const std::string& log);

// The flags of `overlay endpoint`.
struct EndpointFlags {
  std::string config, name, address;
  std::string log;        // --log: the event log, instead of ENDPOINT log
  bool detach = false;    // --detach: start it in the background (launchers/detached.h)
  bool stop = false;      // --stop: stop the one --detach started
  std::string state_dir;  // --state-dir, for --detach and --stop
  int64_t grace_ms = 10000;
};

// Registers `overlay endpoint` on `app`, its flags stored in *flags.
// REQUIRES: `flags` outlives `app`.
CLI::App* AddEndpointCommand(CLI::App& app, EndpointFlags* flags);

// Runs the parsed command: RunEndpoint, or --detach/--stop (exit 0 when done,
// 1 when it failed).
int EndpointMain(const EndpointFlags& flags);

}  // namespace overlay

#endif  // OVERLAY_CORE_CLI_ENDPOINT_COMMAND_H_
