// SPDX-License-Identifier: Apache-2.0
// The checks `overlay run` makes before it starts anything, shared with
// `overlay validate` so the two cannot drift apart.
#ifndef OVERLAY_CORE_CLI_RUN_CHECK_H_
#define OVERLAY_CORE_CLI_RUN_CHECK_H_

#include <string>

#include "overlay/config.h"
#include "overlay/status.h"

namespace CLI {
class App;
}

namespace overlay {

// The flags of `run` that change what its config means; `validate` takes them too.
struct RunFlags {
  std::string input;    // replaces the directory sources
  std::string include;  // replaces STAGE.include of stages with directory sources
  std::string segment;  // replaces STORAGE.segment
  std::string memory;   // replaces STORAGE.memory
  std::string data_address;
  // --live: serve metrics at metrics_address while the run lasts.
  bool live = false;
  std::string metrics_address = "127.0.0.1:0";
  bool no_store = false, quiet = false, local = false, json = false;
};

// Adds --input, --include, --segment, --memory, --local and --no-store to `cmd`.
void AddCheckFlags(CLI::App* cmd, RunFlags* flags);

// Parses `path`, applies `flags` and checks the result as `run` would, short of
// opening the data container: names, sources, the DAG, every function a local
// stage runs built once (builtin names and args, command programs), addresses
// (in the parser), --input, --segment and --memory. All errors come back together, one
// per line, each naming file:line or the flag.
Result<PipelineSpec> CheckRun(const std::string& path, const RunFlags& flags);

}  // namespace overlay

#endif  // OVERLAY_CORE_CLI_RUN_CHECK_H_
