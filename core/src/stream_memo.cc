// SPDX-License-Identifier: Apache-2.0
#include "stream_memo.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cstdlib>
#include <sstream>

namespace overlay {
namespace {

// A length-prefixed field, so that no two descriptions run together.
std::string Field(std::string_view s) { return fmt::format("{}:{};", s.size(), s); }

// Size and modification time of a regular file; empty when there is none.
std::string FileStamp(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
  return fmt::format("{}@{}@{}.{:09}", path, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

std::string OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const size_t colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    std::string stamp = FileStamp((dir.empty() ? "." : dir) + "/" + program);
    if (!stamp.empty()) return stamp;
  }
  return "";
}

bool OneLine(std::string_view s) { return s.find('\n') == std::string_view::npos; }

}  // namespace

std::string FunctionIdentity(const FunctionDecl& decl) {
  std::string id = Field(decl.name) + Field(decl.builtin) + Field(decl.command);
  for (const auto& a : decl.args) id += Field(a);
  if (!decl.builtin.empty()) id += Field(FileStamp("/proc/self/exe"));
  const std::vector<std::string> words = CommandWords(decl.command);
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    id += Field(i == 0 && w.find('/') == std::string::npos ? OnPath(w) : FileStamp(w));
  }
  return id;
}

StreamMemo::StreamMemo(const PipelineSpec& spec, const Dag& dag, ObjectStore* store, bool rerun,
                       bool keep_all, const std::vector<std::string>& streams)
    : dag_(dag), store_(store), rerun_(rerun), keep_all_(keep_all) {
  const size_t n = dag.stages.size();
  ancestors_.assign(n, std::vector<bool>(n));
  identity_.resize(n);
  for (int s : dag.order) {
    const DagStage& st = dag.stages[s];
    const FunctionDecl* decl = spec.FindFunction(st.decl->transformation);
    if (decl != nullptr) identity_[s] = FunctionIdentity(*decl);
    stage_index_[st.decl->name] = s;
    ancestors_[s][s] = true;
    for (const DagSource& src : st.sources)
      if (src.stage >= 0)
        for (size_t a = 0; a < n; ++a)
          if (ancestors_[src.stage][a]) ancestors_[s][a] = true;
  }
  for (const auto& s : streams) ++roots_[s];
}

void StreamMemo::Plan(int stage, int source, const std::string& stream, const NamedBlob& input) {
  if (!input.data.key()) return;
  if (auto it = roots_.find(stream); it == roots_.end() || it->second != 1) return;
  auto plan = std::make_unique<StreamState>();
  plan->stages.resize(dag_.stages.size());
  for (int s : dag_.order) {
    const auto& sources = dag_.stages[s].sources;
    bool reached = s == stage;
    std::string desc = Field("overlay-memo-1") + Field(identity_[s]) + Field(stream);
    for (size_t k = 0; k < sources.size(); ++k) {
      const int from = sources[k].stage;
      if (from < 0 && s == stage && static_cast<int>(k) == source) {
        desc += Field(input.name) + Field(input.data.key()->ToHex());
      } else if (from >= 0 && plan->stages[from].key) {
        reached = true;
        desc += Field(*plan->stages[from].key);
      } else {
        desc += Field("");
      }
    }
    if (!reached) continue;
    plan->stages[s].key = kMemoPrefix + ObjectKey::OfName(desc).ToHex();
    ++plan->reached;
  }
  // Consumers first: a stage's outputs are needed when one of its consumers runs.
  for (auto it = dag_.order.rbegin(); !rerun_ && it != dag_.order.rend(); ++it) {
    StageState& st = plan->stages[*it];
    if (!st.key) continue;
    bool need = keep_all_ || dag_.stages[*it].successors.empty();
    for (int t : dag_.stages[*it].successors) need = need || !plan->stages[t].skip;
    std::optional<Reuse> reuse = Load(*st.key, need);
    if (!reuse) continue;
    st.skip = true;
    st.reuse = std::move(*reuse);
  }
  std::lock_guard lock(mu_);
  streams_[stream] = std::move(plan);
}

StreamMemo::StreamState* StreamMemo::Find(const std::string& stream) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(stream);
  return it == streams_.end() ? nullptr : it->second.get();
}

StreamMemo::Reuse* StreamMemo::Reused(int stage, const std::string& stream) {
  StreamState* s = Find(stream);
  return s != nullptr && s->stages[stage].skip ? &s->stages[stage].reuse : nullptr;
}

void StreamMemo::Output(int stage, const std::string& stream, const NamedBlob& out) {
  StreamState* s = Find(stream);
  if (s == nullptr || s->stages[stage].skip || !out.data.key()) return;
  s->stages[stage].outputs.push_back({out.name, *out.data.key(), out.data.size()});
}

void StreamMemo::TaskDone(int stage, const std::string& stream,
                          const std::map<std::string, int64_t>& counters) {
  StreamState* s = Find(stream);
  if (s == nullptr || s->stages[stage].skip) return;
  StageState& st = s->stages[stage];
  ++st.tasks;
  for (const auto& [k, v] : counters) st.counters[k] += v;
}

void StreamMemo::Failed(const std::string& stage_name, const std::string& stream) {
  auto idx = stage_index_.find(stage_name);
  std::lock_guard lock(mu_);
  auto it = streams_.find(stream);
  if (idx != stage_index_.end() && it != streams_.end())
    it->second->stages[idx->second].failed = true;
}

void StreamMemo::Ended(int stage, const std::string& stream) {
  StreamState* s = Find(stream);
  if (s == nullptr) return;
  StageState& st = s->stages[stage];
  bool clean = true;
  {
    std::lock_guard lock(mu_);
    for (size_t a = 0; a < s->stages.size(); ++a)
      if (ancestors_[stage][a] && s->stages[a].failed) clean = false;
  }
  if (clean && !st.skip && st.key) Store(*st.key, st);
  st.outputs.clear();
  st.reuse = {};
  std::lock_guard lock(mu_);
  if (++s->ended == s->reached) streams_.erase(stream);
}

// Record: "overlay-memo 1", "tasks N", then "counter VALUE NAME" and
// "output KEY SIZE NAME" lines, outputs in emission order.
void StreamMemo::Store(const std::string& name, const StageState& st) {
  std::string text = fmt::format("overlay-memo 1\ntasks {}\n", st.tasks);
  for (const auto& [k, v] : st.counters) {
    if (!OneLine(k)) return;
    text += fmt::format("counter {} {}\n", v, k);
  }
  for (const auto& o : st.outputs) {
    if (!OneLine(o.name)) return;
    text += fmt::format("output {} {} {}\n", o.key.ToHex(), o.size, o.name);
  }
  Result<Blob> record = store_->Put(text);
  if (record.ok()) (void)store_->Name(name, *record);
}

std::optional<StreamMemo::Reuse> StreamMemo::Load(const std::string& name, bool need_outputs) {
  Result<ObjectKey> key = store_->Lookup(name);
  if (!key.ok()) return std::nullopt;
  Result<Blob> record = store_->Get(*key);
  if (!record.ok()) return std::nullopt;
  std::istringstream in{std::string(record->view())};
  std::string line;
  if (!std::getline(in, line) || line != "overlay-memo 1") return std::nullopt;
  Reuse r;
  bool have_tasks = false;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string kind;
    fields >> kind;
    if (kind == "tasks") {
      have_tasks = static_cast<bool>(fields >> r.tasks);
    } else if (kind == "counter") {
      int64_t v = 0;
      std::string counter;
      if (!(fields >> v) || fields.get() != ' ' || !std::getline(fields, counter))
        return std::nullopt;
      r.counters[counter] = v;
    } else if (kind == "output") {
      std::string hex, out_name;
      uint64_t size = 0;
      if (!(fields >> hex >> size) || fields.get() != ' ' || !std::getline(fields, out_name))
        return std::nullopt;
      std::optional<ObjectKey> k = ObjectKey::FromHex(hex);
      if (!k) return std::nullopt;
      if (!need_outputs) continue;
      // An output no tier holds any more: the stage runs again.
      Result<Blob> out = store_->Get(*k);
      if (!out.ok() || out->size() != size) return std::nullopt;
      r.outputs.push_back({std::move(out_name), std::move(*out)});
    } else {
      return std::nullopt;
    }
  }
  if (!have_tasks) return std::nullopt;
  return r;
}

}  // namespace overlay
