// SPDX-License-Identifier: Apache-2.0
#include "ratio_reporter.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

namespace overlay::bench {
namespace {

struct Parsed {
  std::string group, variant, args;
};

Parsed Split(const std::string& name) {
  Parsed p;
  size_t a = name.find('/');
  if (a == std::string::npos) return {name, "", ""};
  p.group = name.substr(0, a);
  size_t b = name.find('/', a + 1);
  p.variant = name.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
  if (b != std::string::npos) p.args = name.substr(b + 1);
  return p;
}

// Higher is better for rates, lower for times: express both as "x faster than baseline".
double Speedup(const benchmark::BenchmarkReporter::Run& r,
               const benchmark::BenchmarkReporter::Run& base) {
  auto ips = r.counters.find("items_per_second");
  auto bips = base.counters.find("items_per_second");
  if (ips != r.counters.end() && bips != base.counters.end() && bips->second.value > 0)
    return ips->second.value / bips->second.value;
  auto bps = r.counters.find("bytes_per_second");
  auto bbps = base.counters.find("bytes_per_second");
  if (bps != r.counters.end() && bbps != base.counters.end() && bbps->second.value > 0)
    return bps->second.value / bbps->second.value;
  double t = r.GetAdjustedRealTime();
  return t > 0 ? base.GetAdjustedRealTime() / t : 0;
}

// One line of the ratio table.
struct Row {
  std::string name, time, baseline_time, baseline, how;
  double speedup = 0;
};

}  // namespace

RatioReporter::RatioReporter(std::string report_path)
    : ConsoleReporter(::isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular),
      report_path_(std::move(report_path)) {}

bool RatioReporter::ReportContext(const Context& context) {
  last_report_ = std::chrono::steady_clock::now();
  return ConsoleReporter::ReportContext(context);
}

void RatioReporter::GroupDone() {
  if (group_.empty()) return;
  ++groups_done_;
  fmt::print(stderr, "overlay-bench: group {} done: {} results in {:.1f} s ({} groups done)\n",
             group_, group_results_,
             std::chrono::duration<double>(last_report_ - group_start_).count(), groups_done_);
  std::fflush(stderr);
}

void RatioReporter::ReportRuns(const std::vector<Run>& runs) {
  ConsoleReporter::ReportRuns(runs);
  if (!runs.empty()) {
    const std::string group = Split(runs.front().run_name.str()).group;
    if (group != group_) {
      GroupDone();
      group_ = group;
      group_results_ = 0;
      group_start_ = last_report_;  // the group began when the one before ended
    }
    ++group_results_;
  }
  last_report_ = std::chrono::steady_clock::now();
  // A repeated benchmark reports its iteration runs, then its aggregates: the
  // median stands for them all (one noisy repetition cannot decide a ratio).
  const bool repeated = std::any_of(runs.begin(), runs.end(), [](const Run& r) {
    return r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
  });
  for (const auto& r : runs) {
    if (r.error_occurred) continue;
    const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
    if (repeated ? !median : r.run_type != Run::RT_Iteration) continue;
    const std::string name = r.run_name.str();
    auto [it, fresh] = rounds_.try_emplace(name);
    if (fresh) order_.push_back(name);
    it->second.push_back(r);
  }
}

void RatioReporter::Finalize() {
  ConsoleReporter::Finalize();
  GroupDone();
  group_.clear();
  // Each name's median round (the lower middle one of an even count).
  std::map<std::string, Run> chosen;
  for (const auto& [name, rounds] : rounds_) {
    std::vector<Run> v = rounds;
    auto mid = v.begin() + static_cast<std::ptrdiff_t>((v.size() - 1) / 2);
    std::nth_element(v.begin(), mid, v.end(), [](const Run& a, const Run& b) {
      return a.GetAdjustedRealTime() < b.GetAdjustedRealTime();
    });
    chosen.emplace(name, *mid);
  }
  std::map<std::pair<std::string, std::string>, std::string> baselines;  // → baseline's name
  for (const std::string& name : order_) {
    Parsed p = Split(name);
    if (p.variant.rfind("baseline", 0) == 0) baselines[{p.group, p.args}] = name;
  }
  if (baselines.empty()) return;
  std::vector<Row> rows;
  for (const std::string& name : order_) {
    Parsed p = Split(name);
    if (p.variant.rfind("baseline", 0) == 0) continue;
    auto it = baselines.find({p.group, p.args});
    if (it == baselines.end()) continue;
    const Run& r = chosen.at(name);
    const Run& b = chosen.at(it->second);
    // Rounds are paired: round i of the variant ran right after round i of
    // its baseline, on the same machine, so their ratio is taken first.
    const std::vector<Run>& rv = rounds_.at(name);
    const std::vector<Run>& rb = rounds_.at(it->second);
    Row row;
    row.speedup = Speedup(r, b);
    if (rv.size() > 1 && rv.size() == rb.size()) {
      std::vector<double> ratios;
      for (size_t i = 0; i < rv.size(); ++i) ratios.push_back(Speedup(rv[i], rb[i]));
      auto mid = ratios.begin() + static_cast<std::ptrdiff_t>((ratios.size() - 1) / 2);
      std::nth_element(ratios.begin(), mid, ratios.end());
      row.speedup = *mid;
      row.how = fmt::format("median of {} round ratios", ratios.size());
    }
    row.name = r.benchmark_name();
    row.time = fmt::format("{:.3f} {}", r.GetAdjustedRealTime(),
                           benchmark::GetTimeUnitString(r.time_unit));
    row.baseline_time = fmt::format("{:.3f} {}", b.GetAdjustedRealTime(),
                                    benchmark::GetTimeUnitString(b.time_unit));
    row.baseline = Split(it->second).variant;
    rows.push_back(std::move(row));
  }
  auto& out = GetOutputStream();
  out << fmt::format("\n{:<48} {:>14} {:>14} {:>9}  {}\n", "benchmark (same run)", "time",
                     "baseline time", "speedup", "baseline");
  for (const Row& row : rows)
    out << fmt::format("{:<48} {:>14} {:>14} {:>8.3g}x  {}{}\n", row.name, row.time,
                       row.baseline_time, row.speedup, row.baseline,
                       row.how.empty() ? "" : " (" + row.how + ")");
  if (report_path_.empty()) return;
  std::ofstream md(report_path_, std::ios::trunc);
  md << "| benchmark (same run) | time | baseline time | speedup | baseline | ratio |\n"
        "| --- | ---: | ---: | ---: | --- | --- |\n";
  for (const Row& row : rows)
    md << fmt::format("| `{}` | {} | {} | {:.3g}x | `{}` | {} |\n", row.name, row.time,
                      row.baseline_time, row.speedup, row.baseline,
                      row.how.empty() ? "one run each" : row.how);
  md.close();
  if (!md) fmt::print(stderr, "overlay-bench: cannot write the report '{}'\n", report_path_);
}

}  // namespace overlay::bench
