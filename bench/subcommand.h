// SPDX-License-Identifier: Apache-2.0
// overlay-bench subcommands (end-to-end runs and tools beside the micro-benchmarks).
#ifndef OVERLAY_BENCH_SUBCOMMAND_H_
#define OVERLAY_BENCH_SUBCOMMAND_H_

#include <functional>
#include <string>
#include <vector>

namespace overlay::bench {

struct Subcommand {
  std::string name;
  std::string summary;
  // Receives argv with the subcommand name as argv[0]; returns the exit code.
  std::function<int(int argc, char** argv)> run;
};

// Registers a subcommand at static-initialization time; returns true.
bool RegisterSubcommand(Subcommand cmd);
const std::vector<Subcommand>& Subcommands();

}  // namespace overlay::bench

#endif  // OVERLAY_BENCH_SUBCOMMAND_H_
