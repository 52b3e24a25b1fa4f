// SPDX-License-Identifier: Apache-2.0
// Where the servers some benchmarks start (redis-server) write their logs, so
// those never mix into overlay-bench's own output.
#ifndef OVERLAY_BENCH_SERVER_LOG_H_
#define OVERLAY_BENCH_SERVER_LOG_H_

#include <string>

namespace overlay::bench {

// Default: $TMPDIR (else /tmp)/overlay-bench-servers.log. Set before the
// benchmarks run; not thread-safe.
const std::string& ServerLogPath();
void SetServerLogPath(std::string path);

// In a forked child before exec: stdout and stderr append to the log.
void RedirectToServerLog();

}  // namespace overlay::bench

#endif  // OVERLAY_BENCH_SERVER_LOG_H_
