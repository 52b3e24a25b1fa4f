// SPDX-License-Identifier: Apache-2.0
// The stage graph of a pipeline, resolved from its config.
//
// Thread-safety: immutable after BuildDag; share freely.
#ifndef OVERLAY_BASE_DAG_H_
#define OVERLAY_BASE_DAG_H_

#include <string>
#include <vector>

#include "overlay/config.h"

namespace overlay {

// One entry of a stage's `source` list: an earlier stage or a directory.
struct DagSource {
  int stage = -1;   // index into Dag::stages, or -1 for a directory
  std::string dir;  // resolved directory path when stage == -1
};

struct DagStage {
  const StageDecl* decl = nullptr;
  std::vector<DagSource> sources;
  std::vector<int> successors;  // stages that name this one as a source
};

struct Dag {
  std::vector<DagStage> stages;  // in config order
  std::vector<int> order;        // a topological order
  std::vector<int> sinks;        // stages nobody consumes: the pipeline's results

  // Human-readable drawing of the graph, one line per stage, in `order`.
  std::string Describe(const PipelineSpec& spec) const;
};

// Resolves sources (a stage name wins over a directory of the same name) and
// orders the stages. Fails on a cycle, naming the stages in it. Does not check
// that directories exist (ValidateSpec does).
// REQUIRES: `spec` outlives the Dag (it points into spec.stages).
Result<Dag> BuildDag(const PipelineSpec& spec);

}  // namespace overlay

#endif  // OVERLAY_BASE_DAG_H_
