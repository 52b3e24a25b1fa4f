// SPDX-License-Identifier: Apache-2.0
#include "run_check.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string_view>
#include <vector>

#include "overlay/executor.h"
#include "overlay/function.h"
#include "overlay/remote_function.h"

namespace overlay {
namespace {

namespace fs = std::filesystem;

void AddErrors(const Status& s, std::vector<std::string>* errors) {
  if (!s.ok()) errors->emplace_back(s.message());
}

// A program named without a '/' is searched on PATH, as execvp does.
bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    size_t k = dirs.find(':');
    std::string dir(dirs.substr(0, k));
    if (::access((fs::path(dir.empty() ? "." : dir) / program).c_str(), X_OK) == 0) return true;
    if (k == std::string_view::npos) return false;
    dirs.remove_prefix(k + 1);
  }
}

bool RunsHere(const PipelineSpec& spec, const StageDecl& stage) {
  const EndpointDecl* e = spec.FindEndpoint(stage.endpoint);
  return e == nullptr || e->address.empty();
}

int KeyLine(const FunctionDecl& f, const char* key) {
  auto it = f.key_lines.find(key);
  return it == f.key_lines.end() ? f.loc.line : it->second;
}

// Builds each function once, as the executor will. A function used only by
// stages on remote endpoints is built there; here only its builtin is checked
// (both sides have the same builtins), not its command's files.
void CheckFunctions(const PipelineSpec& spec, std::vector<std::string>* errors) {
  std::set<std::string> local, used;
  for (const auto& s : spec.stages) {
    used.insert(s.transformation);
    if (RunsHere(spec, s)) local.insert(s.transformation);
  }
  for (const auto& f : spec.functions) {
    if (!used.count(f.name) || (!f.command.empty() && !local.count(f.name))) continue;
    auto fn = MakeDeclaredFunction(f);
    if (!fn.ok()) {
      const std::string msg(fn.status().message());
      int line = f.loc.line;
      if (!f.builtin.empty()) line = KeyLine(f, msg.starts_with("unknown builtin") ? "builtin" : "args");
      else line = KeyLine(f, "command");
      errors->push_back(fmt::format("{}:{}: function '{}': {}", f.loc.file, line, f.name, msg));
      continue;
    }
    if (f.command.empty()) continue;
    const std::vector<std::string> words = CommandWords(f.command);
    const std::string program = words.empty() ? std::string() : words.front();
    if (program.empty() || program.find('@') != std::string::npos) continue;
    const bool found = program.find('/') != std::string::npos
                           ? ::access(program.c_str(), X_OK) == 0
                           : OnPath(program);
    if (!found)
      errors->push_back(fmt::format(
          "{}:{}: function '{}': program '{}' {}", f.loc.file, KeyLine(f, "command"), f.name,
          program,
          program.find('/') != std::string::npos
              ? "does not exist or is not executable (relative paths resolve against the "
                "config's folder)"
              : "is not on PATH"));
  }
}

}  // namespace

void AddCheckFlags(CLI::App* cmd, RunFlags* flags) {
  cmd->add_option("--input", flags->input,
                  "directory whose files replace the config's directory sources");
  cmd->add_option("--include", flags->include,
                  "file-name glob for directory sources (e.g. signal.txt), replacing STAGE include");
  cmd->add_option("--segment", flags->segment,
                  "L1 shared-memory segment of the data container (replaces STORAGE.segment)");
  cmd->add_option("--memory", flags->memory,
                  "L1 byte budget of a new segment, e.g. 64MiB (replaces STORAGE.memory)");
  cmd->add_flag("--no-store", flags->no_store,
                "pass data between stages in process memory instead of the data container");
  cmd->add_flag("--local", flags->local,
                "ignore ENDPOINT addresses: run every stage in this process");
  cmd->add_flag("--json", flags->json, "print the result as one JSON object on stdout");
}

Result<PipelineSpec> CheckRun(const std::string& path, const RunFlags& flags) {
  auto spec = ParseConfigFile(path);
  if (!spec.ok()) return spec.status();
  std::vector<std::string> errors;
  if (flags.local)
    for (auto& e : spec->endpoints) {
      e.address.clear();
      e.fallback.clear();  // everything runs here already
      e.launch = {};
    }
  if (!flags.input.empty()) {
    // --input (relative to the working directory) replaces the directory
    // sources, so the config's own need not exist.
    std::error_code ec;
    const std::string dir = fs::absolute(flags.input).lexically_normal().string();
    if (!fs::exists(dir, ec))
      errors.push_back(fmt::format("--input '{}': no such directory", flags.input));
    else if (!fs::is_directory(dir, ec))
      errors.push_back(fmt::format("--input '{}' is a file; give the directory that holds the "
                                   "input files",
                                   flags.input));
    for (auto& st : spec->stages)
      for (auto& src : st.sources)
        if (!spec->FindStage(src)) src = dir;
  }
  if (!flags.include.empty())
    for (auto& st : spec->stages)
      for (const auto& src : st.sources)
        if (!spec->FindStage(src)) st.include = flags.include;
  if (!errors.empty()) {
    // A missing --input would be blamed on every source line below.
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
    return Status::InvalidArgument(msg);
  }
  AddErrors(ValidateSpec(*spec), &errors);
  if (!flags.segment.empty()) {
    Status s = SetStorageOption(&spec->storage.options, "segment", flags.segment);
    if (!s.ok()) errors.push_back(fmt::format("--segment: {}", s.message()));
  }
  if (!flags.memory.empty()) {
    Status s = SetStorageOption(&spec->storage.options, "memory", flags.memory);
    if (!s.ok()) errors.push_back(fmt::format("--memory: {}", s.message()));
  }
  if (flags.no_store && HasRemoteStages(*spec))
    errors.push_back("stages on remote endpoints need the data container; drop --no-store");
  if (errors.empty()) CheckFunctions(*spec, &errors);
  if (errors.empty()) return spec;
  std::string msg;
  for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
  return Status::InvalidArgument(msg);
}

}  // namespace overlay
