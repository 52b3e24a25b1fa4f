// SPDX-License-Identifier: Apache-2.0
// Checks of the ENDPOINT keys that say where `overlay up` starts it.
#ifndef OVERLAY_BASE_SRC_CONFIG_LAUNCH_H_
#define OVERLAY_BASE_SRC_CONFIG_LAUNCH_H_

#include <string>
#include <vector>

#include "overlay/config.h"

namespace overlay {

// Appends one "file:line: …" error per contradiction between an endpoint's
// launch keys (e.g. launcher = ssh without host, Slurm keys on ssh).
void ValidateLaunch(const EndpointDecl& e, std::vector<std::string>* errors);

}  // namespace overlay

#endif  // OVERLAY_BASE_SRC_CONFIG_LAUNCH_H_
