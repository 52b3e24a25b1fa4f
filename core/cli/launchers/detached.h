// SPDX-License-Identifier: Apache-2.0
// An endpoint daemon detached on this host, with a pid file in the config's
// state directory (StateDir): what `overlay endpoint --detach` and `--stop`
// do, locally or at the far end of ssh. Its one log is its event log, where
// its stderr goes too (what cannot go through the logger: a crash).
#ifndef OVERLAY_CORE_CLI_LAUNCHERS_DETACHED_H_
#define OVERLAY_CORE_CLI_LAUNCHERS_DETACHED_H_

#include <chrono>
#include <string>

#include "overlay/status.h"

namespace overlay::launch {

struct DetachedEndpoint {
  std::string config;     // the config file (made absolute)
  std::string name;       // its ENDPOINT
  std::string address;    // listen here instead of ENDPOINT address, if set
  std::string state_dir;  // StateDir's argument: empty for the default
  std::string overlay;    // the overlay binary; empty: this one
  std::string log;        // its log instead of ENDPOINT log (EndpointLogPath)
};

// Starts `overlay endpoint` for `e` in a session of its own (it outlives the
// caller), its event log and stderr in the same file (e.log, else
// EndpointLogPath), its pid in STATE/NAME.pid. Returns a line saying what
// happened; a live endpoint already named by the pid file is left alone
// ("already running"). The config must parse (the log may be set there).
Result<std::string> StartDetached(const DetachedEndpoint& e);

// True when the pid file names a live `overlay endpoint` for `e`.
bool DetachedRunning(const DetachedEndpoint& e);

// SIGTERM to the endpoint of the pid file (the daemon drains: it finishes
// its accepted tasks), then waits up to `grace`, then SIGKILL. Returns a
// line saying what happened ("not running" when nothing was).
Result<std::string> StopDetached(const DetachedEndpoint& e, std::chrono::milliseconds grace);

}  // namespace overlay::launch

#endif  // OVERLAY_CORE_CLI_LAUNCHERS_DETACHED_H_
