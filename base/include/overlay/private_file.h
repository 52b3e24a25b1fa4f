// SPDX-License-Identifier: Apache-2.0
// Checks that a node's shared-memory segment or disk directory belongs to the
// user running this process and nobody else can use it: another local user could
// otherwise create it first (squatting) and read or rewrite what we store there.
#pragma once

#include <sys/types.h>

#include <string_view>

#include "overlay/status.h"

namespace overlay {

// OK if the open file `fd` is owned by the effective user and its permission
// bits are exactly `mode` (e.g. 0600); else InvalidArgument naming `what`, the
// file's owner and its mode. Thread-safe.
Status CheckPrivate(int fd, std::string_view what, mode_t mode);

}  // namespace overlay
