// SPDX-License-Identifier: Apache-2.0
#include "run_manifest.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace overlay {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kManifest = "manifest.json";

// A stage directory name from a manifest: one plain path component only, so a
// doctored manifest cannot make ClearOut remove anything outside `out_dir`.
bool IsPlainName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

}  // namespace

Result<std::vector<SizedInput>> ListRunInputs(const PipelineSpec& spec) {
  std::vector<SizedInput> out;
  std::set<std::string> seen;
  for (const auto& st : spec.stages)
    for (const auto& src : st.sources) {
      if (spec.FindStage(src)) continue;
      fs::path dir(src);
      if (!dir.is_absolute()) dir = fs::path(spec.base_dir) / dir;
      auto files = ListInputs(dir.string(), st.include);
      if (!files.ok()) return files.status();
      for (auto& f : *files) {
        if (!seen.insert(f.path).second) continue;
        std::error_code ec;
        uint64_t size = fs::file_size(f.path, ec);
        out.push_back({std::move(f), ec ? 0 : size});
      }
    }
  return out;
}

std::string RunJson(const std::string& config, const std::vector<SizedInput>& inputs,
                    const RunReport& r, const std::string& out_dir, const std::string& segment) {
  json j;
  j["config"] = config;
  j["inputs"] = json::array();
  for (const auto& in : inputs) {
    json e{{"path", in.file.path}, {"stream", in.file.stream}, {"size", in.size}};
    if (auto k = r.input_keys.find(in.file.path); k != r.input_keys.end())
      e["key"] = k->second.ToHex();
    j["inputs"].push_back(std::move(e));
  }
  j["outputs"] = json::array();
  for (const auto& o : r.outputs) {
    std::error_code ec;
    uint64_t size = fs::file_size(o, ec);
    json e{{"path", fs::path(o).lexically_relative(out_dir).string()}, {"size", ec ? 0 : size}};
    if (auto k = r.output_keys.find(o); k != r.output_keys.end()) e["key"] = k->second.ToHex();
    j["outputs"].push_back(std::move(e));
  }
  j["counters"] = json::object();
  for (const auto& [name, value] : r.counters) j["counters"][name] = value;
  j["tasks"] = {{"ok", r.tasks_ok}, {"failed", r.tasks_failed}, {"reused", r.tasks_reused}};
  j["streams"] = r.streams;
  j["input_bytes"] = r.input_bytes;
  j["seconds"] = r.seconds;
  j["failures"] = json::array();
  for (const auto& f : r.failures)
    j["failures"].push_back({{"stage", f.stage},
                             {"stream", f.stream},
                             {"item", f.item},
                             {"error", f.status.ToString()}});
  j["stored"] = r.stored;
  if (!segment.empty()) j["segment"] = segment;
  return j.dump(2);
}

Status ClearOut(const std::string& out_dir, const PipelineSpec& spec) {
  std::set<std::string> stages;
  for (const auto& s : spec.stages) stages.insert(s.name);
  const fs::path manifest = fs::path(out_dir) / kManifest;
  std::error_code ec;
  if (fs::exists(manifest, ec)) {
    std::ifstream in(manifest);
    json old = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (old.is_object() && old.contains("outputs") && old["outputs"].is_array())
      for (const auto& o : old["outputs"])
        if (o.is_object() && o.contains("path") && o["path"].is_string())
          stages.insert(fs::path(o["path"].get<std::string>()).begin()->string());
  }
  for (const auto& name : stages) {
    if (!IsPlainName(name)) continue;
    fs::remove_all(fs::path(out_dir) / name, ec);
    if (ec)
      return Status::IOError(fmt::format("cannot remove the earlier results in '{}': {}",
                                         (fs::path(out_dir) / name).string(), ec.message()));
  }
  fs::remove(manifest, ec);
  return Status::OK();
}

Status WriteManifest(const std::string& out_dir, const std::string& json_text) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  const fs::path path = fs::path(out_dir) / kManifest;
  std::ofstream f(path, std::ios::trunc);
  f << json_text << "\n";
  f.close();
  if (ec || !f) return Status::IOError(fmt::format("cannot write '{}'", path.string()));
  return Status::OK();
}

}  // namespace overlay
