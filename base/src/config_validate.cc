// SPDX-License-Identifier: Apache-2.0
// Meaning of a parsed config: names resolve, the graph is acyclic, inputs exist.
#include <fmt/format.h>

#include <filesystem>
#include <set>
#include <unordered_map>

#include "config_launch.h"
#include "overlay/config.h"
#include "overlay/dag.h"
#include "overlay/suggest.h"

namespace overlay {
namespace {

int LineOf(const std::map<std::string, int>& lines, const std::string& key, const SourceLoc& loc) {
  auto it = lines.find(key);
  return it == lines.end() ? loc.line : it->second;
}

template <typename Decl>
void CheckUnique(const std::vector<Decl>& decls, std::string_view what,
                 std::vector<std::string>* errors) {
  std::unordered_map<std::string_view, size_t> first;
  first.reserve(decls.size());
  for (size_t i = 0; i < decls.size(); ++i) {
    auto [it, added] = first.emplace(decls[i].name, i);
    if (!added)
      errors->push_back(fmt::format("{}:{}: duplicate {} name '{}' (first declared at line {})",
                                    decls[i].loc.file, decls[i].loc.line, what, decls[i].name,
                                    decls[it->second].loc.line));
  }
}

std::vector<std::string> EndpointNames(const PipelineSpec& spec) {
  std::vector<std::string> names;
  for (const auto& e : spec.endpoints) names.push_back(e.name);
  return names;
}

}  // namespace

Status ValidateSpec(const PipelineSpec& spec) {
  std::vector<std::string> errors;
  CheckUnique(spec.functions, "function", &errors);
  CheckUnique(spec.endpoints, "endpoint", &errors);
  CheckUnique(spec.stages, "stage", &errors);
  std::unordered_map<std::string_view, size_t> ids;
  for (size_t i = 0; i < spec.endpoints.size(); ++i) {
    if (spec.endpoints[i].id.empty()) continue;
    auto [it, added] = ids.emplace(spec.endpoints[i].id, i);
    if (!added)
      errors.push_back(fmt::format("{}:{}: endpoint '{}' reuses the id of endpoint '{}'",
                                   spec.path, LineOf(spec.endpoints[i].key_lines, "id",
                                                     spec.endpoints[i].loc),
                                   spec.endpoints[i].name, spec.endpoints[it->second].name));
  }
  for (const auto& f : spec.functions)
    for (const auto& dir : f.writable) {
      std::error_code ec;
      if (!std::filesystem::is_directory(dir, ec))
        errors.push_back(fmt::format("{}:{}: function '{}': writable folder '{}' does not exist",
                                     f.loc.file, LineOf(f.key_lines, "writable", f.loc), f.name,
                                     dir));
    }
  for (const auto& e : spec.endpoints) ValidateLaunch(e, &errors);
  for (const auto& e : spec.endpoints) {
    if (e.fallback.empty()) continue;
    const int line = LineOf(e.key_lines, "fallback", e.loc);
    if (!spec.FindEndpoint(e.fallback)) {
      errors.push_back(fmt::format("{}:{}: endpoint '{}': unknown fallback endpoint '{}'{}",
                                   e.loc.file, line, e.name, e.fallback,
                                   DidYouMean(e.fallback, EndpointNames(spec))));
      continue;
    }
    if (e.address.empty()) {
      errors.push_back(fmt::format("{}:{}: endpoint '{}' runs in the client and cannot fail, so "
                                   "it takes no fallback", e.loc.file, line, e.name));
      continue;
    }
    // A chain that comes back to an endpoint would bounce the stages forever.
    std::set<std::string> chain{e.name};
    for (const EndpointDecl* f = spec.FindEndpoint(e.fallback); f != nullptr;
         f = f->fallback.empty() ? nullptr : spec.FindEndpoint(f->fallback)) {
      if (!chain.insert(f->name).second) {
        errors.push_back(fmt::format("{}:{}: endpoint '{}': its fallbacks lead back to '{}'",
                                     e.loc.file, line, e.name, f->name));
        break;
      }
    }
  }
  if (spec.stages.empty())
    errors.push_back(fmt::format("{}: no [STAGE] block: nothing to run", spec.path));

  std::vector<std::string> fn_names, ep_names = EndpointNames(spec), stage_names;
  for (const auto& f : spec.functions) fn_names.push_back(f.name);
  for (const auto& s : spec.stages) stage_names.push_back(s.name);

  for (const auto& s : spec.stages) {
    if (!s.transformation.empty() && !spec.FindFunction(s.transformation))
      errors.push_back(fmt::format("{}:{}: stage '{}': unknown function '{}'{}", s.loc.file,
                                   LineOf(s.key_lines, "transformation", s.loc), s.name,
                                   s.transformation, DidYouMean(s.transformation, fn_names)));
    if (!s.endpoint.empty() && !spec.FindEndpoint(s.endpoint))
      errors.push_back(fmt::format("{}:{}: stage '{}': unknown endpoint '{}'{}", s.loc.file,
                                   LineOf(s.key_lines, "endpoint", s.loc), s.name, s.endpoint,
                                   DidYouMean(s.endpoint, ep_names)));
    std::set<std::string> seen;
    for (const auto& src : s.sources) {
      int line = LineOf(s.key_lines, "source", s.loc);
      if (!seen.insert(src).second)
        errors.push_back(fmt::format("{}:{}: stage '{}' lists source '{}' twice", s.loc.file,
                                     line, s.name, src));
      if (src == s.name) {
        errors.push_back(fmt::format("{}:{}: stage '{}' is its own source", s.loc.file, line,
                                     s.name));
        continue;
      }
      if (spec.FindStage(src)) continue;
      std::filesystem::path p(src);
      if (!p.is_absolute()) p = std::filesystem::path(spec.base_dir) / p;
      std::error_code ec;
      if (std::filesystem::is_directory(p, ec)) continue;
      std::string hint = DidYouMean(src, stage_names);
      errors.push_back(fmt::format(
          "{}:{}: stage '{}': source '{}' is neither a stage nor a directory{}", s.loc.file, line,
          s.name, src,
          hint.empty() ? fmt::format(" (looked for {})", p.string()) : hint));
    }
  }
  if (errors.empty()) {
    auto dag = BuildDag(spec);
    if (!dag.ok()) errors.push_back(std::string(dag.status().message()));
  }
  if (errors.empty()) return Status::OK();
  std::string msg;
  for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
  return Status::InvalidArgument(msg);
}

}  // namespace overlay
