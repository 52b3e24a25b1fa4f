// SPDX-License-Identifier: Apache-2.0
// Client: `overlay run`'s set-up (core/cli/overlay_main.cc Run) kept open for
// many runs: one data container, one function manager, RunPipeline per run.
#include "overlay/client.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "overlay/dag.h"
#include "overlay/function_manager.h"
#include "overlay/remote_function.h"
#include "overlay/storage/container_store.h"
#include "overlay/storage/data_container.h"
#include "overlay/suggest.h"

namespace overlay {
namespace {

namespace fs = std::filesystem;

// ValidateSpec with every directory source that does not exist replaced by
// the config's folder, unless its name is a plausible typo of a stage name.
Status ValidateAllowingMissingDirs(const PipelineSpec& spec) {
  PipelineSpec relaxed = spec;
  std::vector<std::string> stages;
  for (const auto& st : spec.stages) stages.push_back(st.name);
  for (auto& st : relaxed.stages)
    for (auto& src : st.sources) {
      if (spec.FindStage(src) != nullptr || !NearestName(src, stages).empty()) continue;
      fs::path p(src);
      if (!p.is_absolute()) p = fs::path(spec.base_dir) / p;
      std::error_code ec;
      if (!fs::is_directory(p, ec)) src = spec.base_dir.empty() ? "." : spec.base_dir;
    }
  return ValidateSpec(relaxed);
}

class ClientImpl : public Client {
 public:
  explicit ClientImpl(const ClientOptions& options) : options_(options) {}

  ~ClientImpl() override {
    std::unique_lock lock(calls_mu_);
    calls_done_.wait(lock, [&] { return calls_ == 0; });
  }

  Status Init() {
    Result<PipelineSpec> spec =
        !options_.config_text.empty()
            ? ParseConfigText(options_.config_text, "<text>",
                              options_.base_dir.empty() ? fs::current_path().string()
                                                        : options_.base_dir)
            : ParseConfigFile(options_.config_path);
    if (!spec.ok()) return spec.status();
    spec_ = std::move(*spec);
    if (options_.local)
      for (auto& e : spec_.endpoints) {
        e.address.clear();
        e.fallback.clear();
      }
    OVERLAY_RETURN_IF_ERROR(ValidateAllowingMissingDirs(spec_));
    auto dag = BuildDag(spec_);
    if (!dag.ok()) return dag.status();
    for (int s : dag->sinks) sinks_.push_back(dag->stages[s].decl->name);
    for (size_t i = 0; i < spec_.stages.size(); ++i) stage_order_[spec_.stages[i].name] = i;
    const bool remote = HasRemoteStages(spec_);
    if (!options_.use_store) {
      if (remote)
        return Status::InvalidArgument(
            "stages on remote endpoints need the data container; set use_store");
      return Status::OK();
    }
    auto c = storage::DataContainer::Open(spec_.storage.options);
    if (!c.ok()) return c.status();
    container_ = std::move(*c);
    if (!container_->notice().empty()) Notice(container_->notice());
    store_ = std::make_unique<storage::ContainerStore>(container_.get());
    if (!remote) return Status::OK();
    FunctionManagerOptions fm;
    fm.store = store_.get();
    OVERLAY_RETURN_IF_ERROR(ApplyCurveConfig(spec_, &fm));
    auto m = FunctionManager::Create(fm);
    if (!m.ok()) return m.status();
    manager_ = std::move(*m);
    remote_ = RemoteStageFactory(spec_, manager_.get(), store_.get(),
                                 [this](const std::string& n) { Notice(n); });
    return Status::OK();
  }

  void RegisterFunction(const std::string& name, BuiltinFactory factory) override {
    std::lock_guard lock(functions_mu_);
    functions_[name] = std::move(factory);
  }

  Status Run(const RunRequest& request, RunResult* result) override {
    std::set<std::string> wanted(request.stages.begin(), request.stages.end());
    for (const auto& s : wanted)
      if (spec_.FindStage(s) == nullptr)
        return Status::InvalidArgument(fmt::format("no stage '{}' in {}{}", s, spec_.path,
                                                   DidYouMean(s, StageNames())));
    if (wanted.empty()) wanted.insert(sinks_.begin(), sinks_.end());
    std::lock_guard run_lock(run_mu_);
    ExecutorOptions opt;
    opt.items = request.inputs;
    if (request.inputs.empty() && !request.input_dir.empty())
      opt.input_dir = fs::absolute(request.input_dir).lexically_normal().string();
    opt.workers = options_.workers;
    opt.store = store_.get();
    // As `overlay run`: without a disk tier objects in flight must fit L1.
    if (container_ && container_->disk_dir().empty())
      opt.memory_limit = spec_.storage.options.memory;
    std::map<std::string, BuiltinFactory> functions;
    {
      std::lock_guard lock(functions_mu_);
      functions = functions_;
    }
    opt.make_function = [&functions](const FunctionDecl& decl) {
      auto it = decl.builtin.empty() ? functions.end() : functions.find(decl.builtin);
      return it != functions.end() ? it->second(decl.args) : MakeDeclaredFunction(decl);
    };
    opt.make_stage_function = remote_;
    std::mutex out_mu;
    std::vector<StageOutput> outputs;
    opt.on_output = [&](const std::string& stage, const std::string& stream, const NamedBlob& o) {
      if (!wanted.count(stage)) return;
      std::lock_guard lock(out_mu);
      outputs.push_back({stage, stream, o.name, o.data});
    };
    auto report = RunPipeline(spec_, opt);
    if (!report.ok()) return report.status();
    std::stable_sort(outputs.begin(), outputs.end(), [&](const auto& a, const auto& b) {
      if (a.stream != b.stream) return a.stream < b.stream;
      return stage_order_.at(a.stage) < stage_order_.at(b.stage);
    });
    result->outputs = std::move(outputs);
    result->report = std::move(*report);
    if (result->report.failures.empty()) return Status::OK();
    const ItemFailure& f = result->report.failures.front();
    return Status::Failed(fmt::format("{} item(s) failed; first: stage {} stream {} item {}: {}",
                                      result->report.failures.size(), f.stage, f.stream, f.item,
                                      f.status.ToString()));
  }

  std::future<Result<RunResult>> Call(RunRequest request) override {
    {
      std::lock_guard lock(calls_mu_);
      ++calls_;
    }
    std::promise<Result<RunResult>> promise;
    auto future = promise.get_future();
    std::thread([this, request = std::move(request), promise = std::move(promise)]() mutable {
      RunResult result;
      Status s = Run(request, &result);
      // Item failures are in the result; only a run that could not start fails the future.
      if (s.ok() || !result.report.failures.empty()) promise.set_value(std::move(result));
      else promise.set_value(s);
      std::lock_guard lock(calls_mu_);
      if (--calls_ == 0) calls_done_.notify_all();
    }).detach();
    return future;
  }

  const PipelineSpec& spec() const override { return spec_; }

 private:
  void Notice(const std::string& n) const {
    if (options_.on_notice) options_.on_notice(n);
  }
  std::vector<std::string> StageNames() const {
    std::vector<std::string> names;
    for (const auto& st : spec_.stages) names.push_back(st.name);
    return names;
  }

  // Constant after Init.
  const ClientOptions options_;
  PipelineSpec spec_;
  std::vector<std::string> sinks_;
  std::map<std::string, size_t> stage_order_;
  std::unique_ptr<storage::DataContainer> container_;
  std::unique_ptr<storage::ContainerStore> store_;  // borrows container_
  std::unique_ptr<FunctionManager> manager_;        // borrows store_
  StageFunctionFactory remote_;                     // borrows spec_, manager_, store_

  std::mutex run_mu_;  // one run at a time
  std::mutex functions_mu_;
  std::map<std::string, BuiltinFactory> functions_;  // guarded by functions_mu_
  std::mutex calls_mu_;
  std::condition_variable calls_done_;
  size_t calls_ = 0;  // Call threads not yet finished; guarded by calls_mu_
};

}  // namespace

Result<std::unique_ptr<Client>> Client::Open(const ClientOptions& options) {
  if (options.config_text.empty() && options.config_path.empty())
    return Status::InvalidArgument("ClientOptions: set config_path or config_text");
  auto client = std::make_unique<ClientImpl>(options);
  OVERLAY_RETURN_IF_ERROR(client->Init());
  return std::unique_ptr<Client>(std::move(client));
}

}  // namespace overlay
