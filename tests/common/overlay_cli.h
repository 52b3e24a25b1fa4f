// SPDX-License-Identifier: Apache-2.0
// Runs the built `overlay` binary as a user would (execve, no shell), for the
// tests that drive it end to end.
#ifndef OVERLAY_TESTS_COMMON_OVERLAY_CLI_H_
#define OVERLAY_TESTS_COMMON_OVERLAY_CLI_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "overlay/process_runner.h"

namespace overlay::testing {

// `overlay args...` in `cwd` (the repository root by default), killed after
// `timeout_ms`. A runner failure is a test failure and an empty RunResult.
inline RunResult RunOverlay(const std::vector<std::string>& args,
                            const std::string& cwd = OVERLAY_SOURCE_DIR,
                            int64_t timeout_ms = 240'000) {
  RunOptions opt;
  opt.argv = {std::string(OVERLAY_BINARY_DIR) + "/core/overlay"};
  opt.argv.insert(opt.argv.end(), args.begin(), args.end());
  opt.cwd = cwd;
  opt.timeout_ms = timeout_ms;
  auto r = RunProcess(opt);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : RunResult{};
}

}  // namespace overlay::testing

#endif  // OVERLAY_TESTS_COMMON_OVERLAY_CLI_H_
