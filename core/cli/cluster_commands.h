// SPDX-License-Identifier: Apache-2.0
// `overlay up | down | status CFG`: start, stop and ask after every ENDPOINT
// with an address, where its launcher says (launchers/launcher.h). Exit
// codes: 0 all up (up, status) or all stopped (down), 1 otherwise, 2 for a
// config or usage error. docs/operations.md describes them.
#ifndef OVERLAY_CORE_CLI_CLUSTER_COMMANDS_H_
#define OVERLAY_CORE_CLI_CLUSTER_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "overlay/config.h"

namespace overlay {

// Registers up, down and status on `app`; the one that runs stores its exit
// status in *exit_code. REQUIRES: `exit_code` outlives `app`.
void AddClusterCommands(CLI::App& app, int* exit_code);

// The endpoints up/down/status manage: those with an address (the others
// run inside the client).
std::vector<const EndpointDecl*> ManagedEndpoints(const PipelineSpec& spec);

// `overlay status`: prints a table (or JSON) of every managed endpoint.
int RunStatus(const std::string& config, bool json);

}  // namespace overlay

#endif  // OVERLAY_CORE_CLI_CLUSTER_COMMANDS_H_
