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
// With repetitions, each benchmark's median is compared.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

 private:
  std::vector<Run> runs_;                  // in run order
  std::map<std::string, size_t> index_;  // run name -> position in runs_
};

}  // namespace overlay::bench

#endif  // OVERLAY_BENCH_RATIO_REPORTER_H_
