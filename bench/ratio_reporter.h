// SPDX-License-Identifier: Apache-2.0
#ifndef OVERLAY_BENCH_RATIO_REPORTER_H_
#define OVERLAY_BENCH_RATIO_REPORTER_H_

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

namespace overlay::bench {

// Console reporter that, at the end, prints each benchmark beside its baseline
// measured in the same run, as a ratio. Names follow "<group>/<variant>[/args]";
// a variant starting with "baseline" is the baseline of its group and args.
// A benchmark with repetitions is represented by its median. One registered
// several times under one name runs in rounds, interleaved with its
// baseline's so both see the same spell of a noisy machine: its ratio is the
// median of the per-round ratios, its time its median round's.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

 private:
  std::vector<std::string> order_;  // names, by first appearance
  // Each name's rounds: its iteration runs, or the median of each repeated run.
  std::map<std::string, std::vector<Run>> rounds_;
};

}  // namespace overlay::bench

#endif  // OVERLAY_BENCH_RATIO_REPORTER_H_
