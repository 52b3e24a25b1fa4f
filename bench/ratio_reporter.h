// SPDX-License-Identifier: Apache-2.0
#ifndef OVERLAY_BENCH_RATIO_REPORTER_H_
#define OVERLAY_BENCH_RATIO_REPORTER_H_

#include <benchmark/benchmark.h>

#include <chrono>
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
//
// Colours only when stdout is a terminal. While running, one line per group on
// stderr says which groups are done. With a report path, Finalize also writes
// the ratio table there as Markdown.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  explicit RatioReporter(std::string report_path = "");
  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

 private:
  // Ends the current group's progress line on stderr.
  void GroupDone();

  std::string report_path_;
  std::string group_;  // the group running now
  size_t group_results_ = 0, groups_done_ = 0;
  std::chrono::steady_clock::time_point group_start_, last_report_;
  std::vector<std::string> order_;  // names, by first appearance
  // Each name's rounds: its iteration runs, or the median of each repeated run.
  std::map<std::string, std::vector<Run>> rounds_;
};

}  // namespace overlay::bench

#endif  // OVERLAY_BENCH_RATIO_REPORTER_H_
