// SPDX-License-Identifier: Apache-2.0
#include "run_metrics.h"

#include <chrono>

#include "overlay/task_metrics.h"

namespace overlay {
namespace {

// A stage's function, its items counted and timed.
class TimedFunction final : public Function {
 public:
  TimedFunction(std::unique_ptr<Function> inner, TaskMetrics* metrics, std::string stage,
                std::string function)
      : inner_(std::move(inner)),
        metrics_(metrics),
        stage_(std::move(stage)),
        function_(std::move(function)) {}

  std::unique_ptr<StreamState> NewStream(std::string_view stream) const override {
    return inner_->NewStream(stream);
  }
  Status Process(Task& task) const override {
    return Timed([&] { return inner_->Process(task); });
  }
  Status EndStream(Task& task) const override { return inner_->EndStream(task); }

 private:
  template <typename F>
  Status Timed(F&& run) const {
    metrics_->Started(stage_, function_);
    const auto start = std::chrono::steady_clock::now();
    Status s = run();
    metrics_->Finished(stage_, function_, s,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                           .count());
    return s;
  }

  std::unique_ptr<Function> inner_;
  TaskMetrics* metrics_;
  std::string stage_, function_;
};

}  // namespace

Result<std::unique_ptr<RunMetrics>> RunMetrics::Start(const std::string& address,
                                                      const PipelineSpec& spec,
                                                      storage::DataContainer* container,
                                                      const FunctionManager* manager) {
  std::unique_ptr<RunMetrics> m(new RunMetrics());
  m->tasks_ = std::make_unique<TaskMetrics>(&m->registry_);
  m->registry_.AddCollector([&spec, container, manager](metrics::Samples& out) {
    CollectStorageAndTransport(container, out);
    if (manager == nullptr) return;
    for (const EndpointContact& c : manager->Contacts()) {
      std::string name = c.endpoint;
      for (const EndpointDecl& e : spec.endpoints)
        if (e.address == c.endpoint) name = e.name;
      out.Gauge("overlay_peer_heartbeat_age_seconds", "Seconds since the peer was last heard from",
                {{"peer", name}, {"address", c.endpoint}},
                std::chrono::duration<double>(c.silent).count());
    }
  });
  auto server = MetricsServer::Start(address, &m->registry_);
  if (!server.ok()) return server.status();
  m->server_ = std::move(*server);
  return m;
}

RunMetrics::~RunMetrics() { server_.reset(); }

StageFunctionFactory RunMetrics::Timed(StageFunctionFactory inner) {
  return [this, inner = std::move(inner)](
             const StageDecl& stage, const FunctionDecl& fn) -> Result<std::unique_ptr<Function>> {
    Result<std::unique_ptr<Function>> f = std::unique_ptr<Function>();
    if (inner) f = inner(stage, fn);
    if (f.ok() && *f == nullptr) f = MakeDeclaredFunction(fn);
    if (!f.ok()) return f.status();
    return std::unique_ptr<Function>(
        std::make_unique<TimedFunction>(std::move(*f), tasks_.get(), stage.name, fn.name));
  };
}

}  // namespace overlay
