// SPDX-License-Identifier: Apache-2.0
// overlay-bench's output as a script sees it: stdout a pipe, so no colour codes;
// progress on stderr; the ratio table also in a Markdown report.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "overlay/process_runner.h"

namespace overlay {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(BenchOutput, PlainTextProgressAndReport) {
  const fs::path report =
      fs::temp_directory_path() / ("overlay-bench-report-" + std::to_string(::getpid()) + ".md");
  RunOptions opt;
  // fn_overhead/: the quickest group that has a baseline.
  opt.argv = {std::string(OVERLAY_BINARY_DIR) + "/bench/overlay-bench",
              "--benchmark_filter=fn_overhead/(baseline_native|command_true)",
              "--benchmark_min_time=0.01", "--report", report.string()};
  opt.timeout_ms = 120'000;
  auto r = RunProcess(opt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->exit_code, 0) << r->err.tail;
  EXPECT_THAT(r->out.tail, HasSubstr("fn_overhead/command_true"));
  EXPECT_THAT(r->out.tail, ::testing::Not(HasSubstr("\x1b[")));
  EXPECT_THAT(r->err.tail, HasSubstr("group fn_overhead done: 2 results"));
  std::ifstream f(report);
  std::string md((std::istreambuf_iterator<char>(f)), {});
  fs::remove(report);
  EXPECT_THAT(md, HasSubstr("| benchmark (same run) | time |"));
  EXPECT_THAT(md, ::testing::ContainsRegex("\\| `fn_overhead/command_true/[0-9]+[^|]*` \\| [0-9.]+ "
                                           "[mun]?s \\| [0-9.]+ [mun]?s \\| [0-9.e+-]+x \\| "
                                           "`baseline_native` \\|"));
}

}  // namespace
}  // namespace overlay
