// SPDX-License-Identifier: Apache-2.0
// The event log of an endpoint daemon (spdlog): one line per event, with a
// timestamp and a level: start, stop, clients lost and regained, every
// failed task with its reason. Until OpenEventLog, events are dropped (an
// endpoint embedded in a test or in `overlay run` logs nothing).
#ifndef OVERLAY_CORE_EVENT_LOG_H_
#define OVERLAY_CORE_EVENT_LOG_H_

#include <spdlog/logger.h>

#include <string>
#include <string_view>

#include "overlay/status.h"

namespace overlay {

// Where ENDPOINT `log` defaults to: $XDG_STATE_HOME/overlay/<endpoint>.log
// when XDG_STATE_HOME is absolute, else /var/log/overlay/<endpoint>.log for
// root, else $HOME/.local/state/overlay/<endpoint>.log.
std::string DefaultLogPath(std::string_view endpoint);

// The log of endpoint `endpoint` whose ENDPOINT `log` is `configured`: that
// path when set, else DefaultLogPath.
std::string EndpointLogPath(const std::string& configured, std::string_view endpoint);

// Appends events to `path` from now on (its folder made, mode 0700; the file
// 0600), each line flushed as it is written. Errors: IOError.
// REQUIRES: called before other threads log (once per process).
Status OpenEventLog(const std::string& path);

// The process's event log. Thread-safe.
spdlog::logger& EventLog();

}  // namespace overlay

#endif  // OVERLAY_CORE_EVENT_LOG_H_
