// SPDX-License-Identifier: Apache-2.0
#include "overlay/dag.h"

#include <fmt/format.h>

#include <filesystem>

namespace overlay {

Result<Dag> BuildDag(const PipelineSpec& spec) {
  Dag dag;
  const size_t n = spec.stages.size();
  dag.stages.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const StageDecl& s = spec.stages[i];
    dag.stages[i].decl = &s;
    for (const auto& src : s.sources) {
      DagSource ds;
      if (const StageDecl* from = spec.FindStage(src))
        ds.stage = static_cast<int>(from - spec.stages.data());
      if (ds.stage < 0) {
        std::filesystem::path p(src);
        ds.dir = p.is_absolute() ? src : (std::filesystem::path(spec.base_dir) / p).string();
      } else {
        dag.stages[ds.stage].successors.push_back(static_cast<int>(i));
      }
      dag.stages[i].sources.push_back(std::move(ds));
    }
  }
  // Kahn's algorithm; whatever is left over lies on or behind a cycle.
  std::vector<int> indegree(n, 0);
  for (size_t i = 0; i < n; ++i)
    for (const auto& src : dag.stages[i].sources)
      if (src.stage >= 0) ++indegree[i];
  for (size_t i = 0; i < n; ++i)
    if (indegree[i] == 0) dag.order.push_back(static_cast<int>(i));
  for (size_t k = 0; k < dag.order.size(); ++k)
    for (int succ : dag.stages[dag.order[k]].successors)
      if (--indegree[succ] == 0) dag.order.push_back(succ);
  if (dag.order.size() != n) {
    std::string names;
    int first = -1;
    for (size_t i = 0; i < n; ++i)
      if (indegree[i] > 0) {
        names += (names.empty() ? "" : ", ") + spec.stages[i].name;
        if (first < 0) first = static_cast<int>(i);
      }
    const StageDecl& s = spec.stages[first];
    return Status::InvalidArgument(fmt::format("{}:{}: stages form a cycle: {}", s.loc.file,
                                               s.loc.line, names));
  }
  for (int i : dag.order)
    if (dag.stages[i].successors.empty()) dag.sinks.push_back(i);
  return dag;
}

std::string Dag::Describe(const PipelineSpec& spec) const {
  std::string out;
  for (int i : order) {
    const DagStage& st = stages[i];
    std::string from;
    for (const auto& src : st.sources)
      from += (from.empty() ? "" : " + ") +
              (src.stage >= 0 ? stages[src.stage].decl->name : "dir:" + src.dir);
    const FunctionDecl* fn = spec.FindFunction(st.decl->transformation);
    std::string what = fn == nullptr ? "?" : fn->builtin.empty() ? "command" : "builtin " + fn->builtin;
    std::string where = "local";
    if (const EndpointDecl* ep = spec.FindEndpoint(st.decl->endpoint)) {
      where = ep->name + (ep->address.empty() ? " (local)" : " at " + ep->address);
      if (!ep->fallback.empty())
        where += fmt::format(", else {} after {} ms of silence", ep->fallback,
                             ep->fallback_after_ms);
    }
    bool sink = st.successors.empty();
    out += fmt::format("  {} -> {} [{}: {}] on {}{}\n", from, st.decl->name,
                       st.decl->transformation, what, where, sink ? "  (result)" : "");
  }
  return out;
}

}  // namespace overlay
