// SPDX-License-Identifier: Apache-2.0
// Config checks at scale: parsing a chain of N stages (the baseline, linear by
// construction) against parsing plus ValidateSpec and BuildDag. The ratio stays
// near a small constant when the checks are linear too; quadratic checks made
// 100k stages take 239 s.
#include <benchmark/benchmark.h>

#include <string>

#include "overlay/config.h"
#include "overlay/dag.h"

namespace overlay::bench {
namespace {

std::string Chain(size_t n) {
  std::string text = "[FUNCTION]\nname = f\nbuiltin = ecg_visualizer\n[END]\n";
  for (size_t i = 0; i < n; ++i)
    text += "[STAGE]\nname = s" + std::to_string(i) + "\nsource = " +
            (i == 0 ? std::string(".") : "s" + std::to_string(i - 1)) +
            "\ntransformation = f\n[END]\n";
  return text;
}

void Parse(benchmark::State& state) {
  const std::string text = Chain(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto spec = ParseConfigText(text, "bench.cfg", ".");
    if (!spec.ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(spec);
  }
}

void Validate(benchmark::State& state) {
  const std::string text = Chain(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto spec = ParseConfigText(text, "bench.cfg", ".");
    if (!spec.ok() || !ValidateSpec(*spec).ok() || !BuildDag(*spec).ok())
      state.SkipWithError("validate failed");
    benchmark::DoNotOptimize(spec);
  }
}

const bool registered = [] {
  benchmark::RegisterBenchmark("config/baseline_parse", Parse)->Arg(100'000)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("config/validate", Validate)->Arg(100'000)->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
}  // namespace overlay::bench
