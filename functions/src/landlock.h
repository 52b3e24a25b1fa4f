// SPDX-License-Identifier: Apache-2.0
// Landlock write confinement for commands (internal to functions/).
#ifndef OVERLAY_FUNCTIONS_SRC_LANDLOCK_H_
#define OVERLAY_FUNCTIONS_SRC_LANDLOCK_H_

#include <string>
#include <vector>

#include "overlay/status.h"

namespace overlay::detail {

// Restricts the calling thread, and every process it starts from now on, to
// writing only beneath `writable` (directories, or single files such as
// /dev/null); reading and executing stay allowed everywhere. Irreversible for
// this thread: call it on a thread that exists only to start one command.
// Sets no_new_privs on the thread, as Landlock requires. Fails with
// Unavailable when the kernel has no Landlock.
Status ConfineWritesOfThisThread(const std::vector<std::string>& writable);

}  // namespace overlay::detail

#endif  // OVERLAY_FUNCTIONS_SRC_LANDLOCK_H_
