// SPDX-License-Identifier: Apache-2.0
// QRS detector throughput on a 30-minute synthetic record (360 Hz), beside a
// plain pass over the same samples. Items are samples.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "qrs_detector.h"
#include "synthetic_ecg.h"

namespace overlay::bench {
namespace {

const std::vector<float>& Record(int64_t samples) {
  static std::vector<float> mv;
  if (static_cast<int64_t>(mv.size()) != samples) {
    ecg::SyntheticEcgOptions o;
    o.duration_s = static_cast<double>(samples) / o.fs;
    o.noise_mv = 0.03;
    o.pvc_fraction = 0.05;
    mv = ecg::GenerateSyntheticEcg(o).mv;
  }
  return mv;
}

// Baseline: read every sample and convert it to microvolts, as the detector's
// input stage does, and nothing else.
void BaselinePass(benchmark::State& state) {
  const std::vector<float>& mv = Record(state.range(0));
  for (auto _ : state) {
    int64_t sum = 0;
    for (float v : mv) sum += static_cast<int64_t>(std::nearbyint(static_cast<double>(v) * 1000.0));
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(mv.size()));
}

void Detector(benchmark::State& state) {
  const std::vector<float>& mv = Record(state.range(0));
  std::vector<ecg::Beat> beats;
  beats.reserve(4096);
  for (auto _ : state) {
    beats.clear();
    ecg::QrsDetector det(360);
    det.Process(mv, &beats);
    det.Flush(&beats);
    benchmark::DoNotOptimize(beats.data());
  }
  state.counters["beats"] = static_cast<double>(beats.size());
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(mv.size()));
}

// The same record fed as 1000-sample chunks, as the qrs_detector function does.
void DetectorChunked(benchmark::State& state) {
  const std::vector<float>& mv = Record(state.range(0));
  std::span<const float> all(mv);
  std::vector<ecg::Beat> beats;
  beats.reserve(4096);
  for (auto _ : state) {
    beats.clear();
    ecg::QrsDetector det(360);
    for (size_t i = 0; i < all.size(); i += 1000)
      det.Process(all.subspan(i, std::min<size_t>(1000, all.size() - i)), &beats);
    det.Flush(&beats);
    benchmark::DoNotOptimize(beats.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(mv.size()));
}

constexpr int64_t kThirtyMinutes = 30 * 60 * 360;

BENCHMARK(BaselinePass)
    ->Name("qrs/baseline_pass")
    ->Arg(kThirtyMinutes)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(Detector)->Name("qrs/detector")->Arg(kThirtyMinutes)->Unit(benchmark::kMicrosecond);
BENCHMARK(DetectorChunked)
    ->Name("qrs/detector_chunked")
    ->Arg(kThirtyMinutes)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace overlay::bench
