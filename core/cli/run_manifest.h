// SPDX-License-Identifier: Apache-2.0
// What a run read and wrote, as JSON: `<out>/manifest.json` and `run --json`.
#ifndef OVERLAY_CORE_CLI_RUN_MANIFEST_H_
#define OVERLAY_CORE_CLI_RUN_MANIFEST_H_

#include <string>
#include <vector>

#include "overlay/config.h"
#include "overlay/executor.h"
#include "overlay/status.h"

namespace overlay {

// Every input file of the pipeline's directory sources, each once, with its size.
struct SizedInput {
  InputFile file;
  uint64_t size = 0;
};
Result<std::vector<SizedInput>> ListRunInputs(const PipelineSpec& spec);

// The run as one JSON object: config, inputs (path, stream, size, key),
// outputs (path relative to `out_dir`, size, key), counters, tasks
// ok/failed/reused, failures, stored names and the segment they are in (empty
// without a data container). Keys come from the data container: a run without
// one (--no-store) lists none.
std::string RunJson(const std::string& config, const std::vector<SizedInput>& inputs,
                    const RunReport& report, const std::string& out_dir,
                    const std::string& segment);

// Removes what earlier runs wrote to `out_dir`: the directory of every stage
// of `spec`, every stage directory an earlier manifest lists, and the manifest.
// Other files in `out_dir` are left alone.
Status ClearOut(const std::string& out_dir, const PipelineSpec& spec);

// Writes `json` to `<out_dir>/manifest.json`.
Status WriteManifest(const std::string& out_dir, const std::string& json);

}  // namespace overlay

#endif  // OVERLAY_CORE_CLI_RUN_MANIFEST_H_
