// SPDX-License-Identifier: Apache-2.0
// Per-item cost of an external-command function against a native one, both
// driven through Function::Process with one input of the given size, the way
// the executor calls them. The command variants include writing the input into
// a fresh tmpfs workspace, spawning, collecting outputs and removing it all.
#include <benchmark/benchmark.h>

#include <string>

#include "overlay/function.h"
#include "overlay/process_runner.h"

namespace overlay::bench {
namespace {

// The native baseline: copies its input to an output, as `cp @I @D` does.
class CopyFunction final : public Function {
 public:
  Status Process(Task& task) const override {
    for (const NamedBlob& in : task.inputs) task.outputs.push_back(in);
    return Status::OK();
  }
};

void RunItems(benchmark::State& state, const Function& fn) {
  Blob input = Blob::FromString(std::string(static_cast<size_t>(state.range(0)), 'x'));
  std::unique_ptr<StreamState> stream = fn.NewStream("bench");
  for (auto _ : state) {
    Task task;
    task.stream = "bench";
    task.state = stream.get();
    task.inputs = {{"in.txt", input}};
    Status s = fn.Process(task);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(task.outputs.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void NativeCopy(benchmark::State& state) { RunItems(state, CopyFunction()); }

void Command(benchmark::State& state, const char* command) {
  FunctionSpec spec;
  spec.name = "bench";
  spec.command = command;
  Result<std::unique_ptr<Function>> fn = MakeFunction(spec);
  if (!fn.ok()) {
    state.SkipWithError(fn.status().ToString().c_str());
    return;
  }
  RunItems(state, **fn);
}

// The spawn alone, without workspace or inputs: what the command variants
// pay beyond it is the workspace.
void SpawnOnly(benchmark::State& state) {
  RunOptions opts;
  opts.argv = {"/bin/true"};
  for (auto _ : state) {
    Result<RunResult> r = RunProcess(opts);
    if (!r.ok() || !r->success()) {
      state.SkipWithError("spawning /bin/true failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

const bool registered = [] {
  benchmark::RegisterBenchmark("fn_overhead/baseline_native", NativeCopy)->Arg(1024)->UseRealTime();
  benchmark::RegisterBenchmark("fn_overhead/command_true", Command, "/bin/true")
      ->Arg(1024)
      ->UseRealTime();
  benchmark::RegisterBenchmark("fn_overhead/command_cp", Command, "cp @I @D")
      ->Arg(1024)
      ->UseRealTime();
  benchmark::RegisterBenchmark("fn_overhead/spawn_true", SpawnOnly)->Arg(1024)->UseRealTime();
  return true;
}();

}  // namespace
}  // namespace overlay::bench
