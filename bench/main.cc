// SPDX-License-Identifier: Apache-2.0
// overlay-bench: `overlay-bench [benchmark flags]` runs the micro-benchmarks, each
// beside its baseline; `overlay-bench SUBCOMMAND …` runs a tool or end-to-end run.
#include <benchmark/benchmark.h>

#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

#include "ratio_reporter.h"
#include "server_log.h"
#include "subcommand.h"

namespace overlay::bench {

std::vector<Subcommand>& MutableSubcommands() {
  static std::vector<Subcommand> cmds;
  return cmds;
}

bool RegisterSubcommand(Subcommand cmd) {
  MutableSubcommands().push_back(std::move(cmd));
  return true;
}

const std::vector<Subcommand>& Subcommands() { return MutableSubcommands(); }

}  // namespace overlay::bench

int main(int argc, char** argv) {
  using overlay::bench::Subcommands;
  if (argc > 1 && argv[1][0] != '-') {
    for (const auto& c : Subcommands())
      if (c.name == argv[1]) return c.run(argc - 1, argv + 1);
    std::cerr << "overlay-bench: unknown subcommand '" << argv[1] << "'\n";
    return 2;
  }
  if (argc > 1 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
    std::cout << "usage: overlay-bench [google-benchmark flags]   run micro-benchmarks,\n"
                 "                      each printed beside its same-run baseline\n"
                 "       overlay-bench SUBCOMMAND [--help]\n\nsubcommands:\n";
    for (const auto& c : Subcommands()) std::cout << "  " << c.name << "  " << c.summary << "\n";
    std::cout << "\noptions:\n"
                 "  --report FILE.md      also write the ratio table to FILE.md (Markdown)\n"
                 "  --server-log FILE     where redis-server logs (default "
              << overlay::bench::ServerLogPath()
              << ")\n\ngoogle-benchmark flags: --benchmark_filter=REGEX, --benchmark_min_time=S, …\n";
    return 0;
  }
  // Our own flags, taken out before Google Benchmark parses the rest.
  std::string report, server_log;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string* value = arg == "--report" || arg.starts_with("--report=") ? &report
                         : arg == "--server-log" || arg.starts_with("--server-log=")
                             ? &server_log
                             : nullptr;
    if (value == nullptr) {
      argv[kept++] = argv[i];
      continue;
    }
    if (size_t eq = arg.find('='); eq != std::string_view::npos) *value = arg.substr(eq + 1);
    else if (i + 1 < argc) *value = argv[++i];
    if (value->empty()) {
      std::cerr << "overlay-bench: " << arg << " needs a file name\n";
      return 2;
    }
  }
  if (!server_log.empty()) overlay::bench::SetServerLogPath(server_log);
  argc = kept;
  benchmark::Initialize(&argc, argv);
  overlay::bench::RatioReporter reporter(report);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
