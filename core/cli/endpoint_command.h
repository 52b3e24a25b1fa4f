// SPDX-License-Identifier: Apache-2.0
// `overlay endpoint --config CFG --name NAME`: runs the endpoint daemon until
// SIGTERM or SIGINT.
#ifndef OVERLAY_CORE_CLI_ENDPOINT_COMMAND_H_
#define OVERLAY_CORE_CLI_ENDPOINT_COMMAND_H_

#include <string>

namespace overlay {

// Serves ENDPOINT `name` of `config` (listening on `address` when non-empty,
// else on ENDPOINT.address), logging events to `log` when non-empty, else to
// ENDPOINT.log, else to DefaultLogPath. Returns the exit status: 0 after a clean shutdown
// on SIGTERM/SIGINT, 2 when the config or the endpoint cannot be set up.
// Installs handlers for SIGTERM and SIGINT; call once per process.
int RunEndpoint(const std::string& config, const std::string& name, const std::string& address,
                const std::string& log);

}  // namespace overlay

#endif  // OVERLAY_CORE_CLI_ENDPOINT_COMMAND_H_
