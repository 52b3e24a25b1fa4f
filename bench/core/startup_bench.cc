// SPDX-License-Identifier: Apache-2.0
// Start-up of `overlay validate` and `overlay run` on the demo config (target:
// under 50 ms), beside spawning /bin/true the same way: what the command adds
// to a bare exec is loading its libraries, parsing and checking the config,
// and for `run` opening a data container (a private segment, no disk tier) and
// a run over no input.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "overlay/process_runner.h"

namespace overlay::bench {
namespace {

void Spawn(benchmark::State& state, std::vector<std::string> argv) {
  RunOptions opts;
  opts.argv = std::move(argv);
  opts.cwd = OVERLAY_SOURCE_DIR;
  for (auto _ : state) {
    Result<RunResult> r = RunProcess(opts);
    if (!r.ok() || !r->success()) {
      state.SkipWithError(("'" + opts.argv[0] + " " + opts.argv[1] + "' failed: " +
                           (r.ok() ? r->err.tail : r.status().ToString()))
                              .c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// The demo config with a data container of its own (a private segment, no
// disk tier), and an empty input folder; removed when the process exits.
struct Scratch {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("overlay-bench-startup-" + std::to_string(::getpid()));
  std::string segment = "overlay-bench-startup-" + std::to_string(::getpid());
  Scratch() {
    std::filesystem::create_directories(dir / "empty");
    std::ifstream demo(std::string(OVERLAY_SOURCE_DIR) + "/configs/ecg.cfg");
    std::ofstream cfg(dir / "ecg.cfg");
    cfg << demo.rdbuf() << "\n[STORAGE]\nmemory = 16MiB\ndisk = none\nsegment = " << segment
        << "\n[END]\n";
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::filesystem::remove(std::filesystem::path("/dev/shm") / segment, ec);
  }
};

const bool registered = [] {
  static Scratch scratch;
  const std::string overlay = OVERLAY_BINARY;
  benchmark::RegisterBenchmark("startup/baseline_true", Spawn,
                               std::vector<std::string>{"/bin/true", "-"})
      ->UseRealTime();
  benchmark::RegisterBenchmark("startup/overlay_version", Spawn,
                               std::vector<std::string>{overlay, "--version"})
      ->UseRealTime();
  benchmark::RegisterBenchmark("startup/overlay_validate", Spawn,
                               std::vector<std::string>{overlay, "validate", "configs/ecg.cfg"})
      ->UseRealTime();
  benchmark::RegisterBenchmark("startup/overlay_run_empty", Spawn,
                               std::vector<std::string>{overlay, "run",
                                                        (scratch.dir / "ecg.cfg").string(),
                                                        "--input", (scratch.dir / "empty").string(),
                                                        "-q"})
      ->UseRealTime();
  return true;
}();

}  // namespace
}  // namespace overlay::bench
