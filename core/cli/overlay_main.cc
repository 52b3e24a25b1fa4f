// SPDX-License-Identifier: Apache-2.0
// The `overlay` command: a thin layer over core/. Exit codes: 0 success, 1 some
// items failed, 2 usage or config error, 128+N stopped by signal N (130
// SIGINT, 143 SIGTERM; a crash keeps the default action, so 139 SIGSEGV).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "overlay/config.h"
#include "overlay/dag.h"
#include "overlay/executor.h"
#include "overlay/function.h"
#include "overlay/function_manager.h"
#include "overlay/object_store.h"
#include "overlay/process_runner.h"
#include "overlay/remote_function.h"
#include "overlay/storage/container_store.h"
#include "overlay/storage/data_container.h"
#include "overlay/transport/channel.h"
#include "cluster_commands.h"
#include "endpoint_command.h"
#include "progress_line.h"
#include "run_check.h"
#include "run_manifest.h"
#include "run_metrics.h"
#include "stop_signals.h"
#include "storage_commands.h"

namespace overlay {
namespace {

constexpr int kExitItemsFailed = 1;
constexpr int kExitUsage = 2;
// After the first SIGINT/SIGTERM: commands' grace between SIGTERM and SIGKILL,
// and how long the run may take to wind down before it is stopped at once.
constexpr int64_t kStopGraceMs = 2000;
constexpr int64_t kForceStopAfterMs = 10000;

// Set by Run when a signal stopped it: main then leaves with _exit, so no
// library's exit handler runs (one blocked a stopped run before).
bool g_exit_without_handlers = false;

// A byte rate in the largest unit that keeps it at 1 or more (the synthetic
// patients' inputs are a few hundred bytes; recorded ones are megabytes).
std::string ByteRate(double bytes_per_second) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB"};
  size_t unit = 0;
  for (; unit + 1 < std::size(kUnits) && bytes_per_second >= 1000; ++unit) bytes_per_second /= 1000;
  return fmt::format("{:.1f} {}/s", bytes_per_second, kUnits[unit]);
}

// Config errors, one per line; with --json one object on stdout instead.
int ConfigError(const std::string& path, const Status& s, bool json) {
  if (!json) {
    fmt::print(stderr, "{}\n", s.message());
    return kExitUsage;
  }
  nlohmann::json j{{"config", path}, {"ok", false}, {"errors", nlohmann::json::array()}};
  std::string_view msg = s.message();
  while (!msg.empty()) {
    size_t k = msg.find('\n');
    j["errors"].push_back(std::string(msg.substr(0, k)));
    msg = k == std::string_view::npos ? std::string_view() : msg.substr(k + 1);
  }
  fmt::print("{}\n", j.dump(2));
  return kExitUsage;
}

int Validate(const std::string& path, const RunFlags& flags) {
  auto spec = CheckRun(path, flags);
  if (!spec.ok()) return ConfigError(path, spec.status(), flags.json);
  auto dag = BuildDag(*spec);
  if (flags.json) {
    nlohmann::json stages = nlohmann::json::array();
    for (int i : dag->order) {
      const StageDecl& s = *dag->stages[i].decl;
      stages.push_back({{"name", s.name},
                        {"sources", s.sources},
                        {"transformation", s.transformation},
                        {"endpoint", s.endpoint},
                        {"result", dag->stages[i].successors.empty()}});
    }
    nlohmann::json j{{"config", path},
                     {"ok", true},
                     {"functions", spec->functions.size()},
                     {"endpoints", spec->endpoints.size()},
                     {"stages", stages}};
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("{}: OK: {} functions, {} endpoints, {} stages\n{}", path, spec->functions.size(),
             spec->endpoints.size(), spec->stages.size(), dag->Describe(*spec));
  return 0;
}

// What the progress line knows before the first task ends.
Progress StartProgress(const PipelineSpec& spec, const std::vector<SizedInput>& inputs) {
  Progress p;
  p.streams_total = inputs.size();
  for (const auto& in : inputs) p.input_bytes_total += in.size;
  for (const auto& s : spec.stages) p.stages.push_back({s.name, 0, 0});
  return p;
}

// The command that shows the results again, naming the segment unless it is
// the default one.
std::string ResultsHint(const std::string& segment, const std::string& first) {
  const std::string flag =
      segment == StorageOptions{}.segment ? "" : fmt::format(" --segment {}", segment);
  return fmt::format("overlay ls{}; overlay get{} {}", flag, flag, first);
}

// True when a stage that runs in this process calls an external command.
bool HasLocalCommands(const PipelineSpec& spec) {
  for (const auto& s : spec.stages) {
    const EndpointDecl* e = spec.FindEndpoint(s.endpoint);
    const FunctionDecl* f = spec.FindFunction(s.transformation);
    if ((e == nullptr || e->address.empty()) && f != nullptr && !f->command.empty()) return true;
  }
  return false;
}

// The line that says what a signal interrupted, e.g. "interrupted by SIGINT:
// 3 of 4 streams done, 12 tasks cancelled, 1 stream unfinished (its outputs
// removed), 0 not started".
std::string InterruptedLine(int sig, const RunReport& r) {
  return fmt::format(
      "interrupted by {}: {} of {} streams done, {} tasks cancelled, {} unfinished (their "
      "outputs removed), {} not started",
      SignalName(sig), r.streams_done, r.streams, r.tasks_cancelled, r.unfinished_streams.size(),
      r.streams_not_started);
}

// The run's JSON with what the interruption left undone; the manifest so
// says the results are partial.
std::string InterruptedJson(const std::string& json, int sig, const RunReport& r) {
  nlohmann::json j = nlohmann::json::parse(json);
  j["interrupted"] = {{"signal", SignalName(sig)},
                      {"streams_done", r.streams_done},
                      {"unfinished_streams", r.unfinished_streams},
                      {"streams_not_started", r.streams_not_started},
                      {"tasks_cancelled", r.tasks_cancelled}};
  return j.dump(2);
}

int Run(const std::string& path, const ExecutorOptions& base, const RunFlags& flags) {
  // First, before any thread starts: SIGINT/SIGTERM then go to its thread.
  auto stop = StopSignals::Start(kStopGraceMs, kForceStopAfterMs);
  if (!stop.ok()) {
    fmt::print(stderr, "overlay run: {}\n", stop.status().message());
    return kExitUsage;
  }
  // Descendants that leave their command's process group come back here.
  if (Status s = AdoptOrphans(); !s.ok()) fmt::print(stderr, "overlay run: {}\n", s.message());
  auto checked = CheckRun(path, flags);
  if (!checked.ok()) return ConfigError(path, checked.status(), flags.json);
  PipelineSpec& spec = *checked;
  ExecutorOptions opt = base;
  if (!flags.input.empty())
    opt.input_dir = std::filesystem::absolute(flags.input).lexically_normal().string();
  auto inputs = ListRunInputs(spec);
  if (!inputs.ok()) {
    fmt::print(stderr, "overlay run: {}\n", inputs.status().message());
    return kExitUsage;
  }
  if (!opt.out_dir.empty()) {
    // What this run writes there; a forced stop removes it, keeping nothing partial.
    std::vector<std::string> results = {opt.out_dir + "/manifest.json"};
    for (const auto& st : spec.stages) results.push_back(opt.out_dir + "/" + st.name);
    (*stop)->RemoveOnForce(std::move(results));
    Status s = ClearOut(opt.out_dir, spec);
    if (!s.ok()) {
      fmt::print(stderr, "overlay run: --out: {}\n", s.message());
      return kExitUsage;
    }
  }
  std::unique_ptr<storage::DataContainer> container;
  std::unique_ptr<storage::ContainerStore> store;
  if (!flags.no_store) {
    auto c = storage::DataContainer::Open(spec.storage.options);
    if (!c.ok()) {
      fmt::print(stderr, "overlay run: data container: {}\n", c.status().message());
      return kExitUsage;
    }
    container = std::move(*c);
    if (!container->notice().empty()) fmt::print(stderr, "overlay run: {}\n", container->notice());
    // Without a disk tier, objects in flight must fit L1, and nothing is
    // remembered for a rerun: named memo records would stay pinned in L1.
    if (container->disk_dir().empty()) {
      opt.memory_limit = spec.storage.options.memory;
      opt.memo = false;
    }
    store = std::make_unique<storage::ContainerStore>(container.get());
    opt.store = store.get();
  }
  std::unique_ptr<FunctionManager> manager;
  if (HasRemoteStages(spec)) {
    FunctionManagerOptions fm;
    fm.store = store.get();
    if (!flags.data_address.empty()) fm.data_address = flags.data_address;
    if (Status keys = ApplyCurveConfig(spec, &fm); !keys.ok()) {
      fmt::print(stderr, "overlay run: {}\n", keys.message());
      return kExitUsage;
    }
    auto m = FunctionManager::Create(fm);
    if (!m.ok()) {
      fmt::print(stderr, "overlay run: function manager: {}\n", m.status().ToString());
      return kExitUsage;
    }
    manager = std::move(*m);
    opt.make_stage_function =
        RemoteStageFactory(spec, manager.get(), store.get(), [](const std::string& notice) {
          fmt::print(stderr, "\noverlay run: {}\n", notice);
        });
  }
  std::unique_ptr<RunMetrics> live;
  if (flags.live) {
    auto m = RunMetrics::Start(flags.metrics_address, spec, container.get(), manager.get());
    if (!m.ok()) {
      fmt::print(stderr, "overlay run: --metrics-address: {}\n", m.status().message());
      return kExitUsage;
    }
    live = std::move(*m);
    opt.make_stage_function = live->Timed(std::move(opt.make_stage_function));
    fmt::print(stderr, "overlay run: metrics at {}\n", live->url());
  }
  if (LandlockAbi() == 0 && HasLocalCommands(spec))
    fmt::print(stderr, "overlay run: the kernel has no Landlock: commands run with this user's "
                       "write access everywhere\n");
  ProgressLine progress(StartProgress(spec, *inputs), !flags.quiet && !flags.json);
  opt.on_progress = [&](const Progress& p) { progress.Update(p); };
  if (manager) progress.SetSuffix([&] { return WaitingText(manager->Contacts(), spec); });
  opt.cancel = (*stop)->cancel();
  auto report = RunPipeline(spec, opt);
  // What commands started and left behind (setsid, double fork) ends with the run.
  if (const size_t orphans = KillAdoptedOrphans(); orphans > 0)
    fmt::print(stderr, "overlay run: killed {} process{} that commands left running\n", orphans,
               orphans == 1 ? "" : "es");
  if (report.ok() && !report->cancelled) {
    // Every stream has ended now, including the ends no task reported.
    Progress last;
    last.streams_total = last.streams_done = report->streams;
    last.tasks_ok = report->tasks_ok;
    last.tasks_failed = report->tasks_failed;
    last.tasks_reused = report->tasks_reused;
    last.input_bytes_read = report->input_bytes;
    progress.Update(last);
  }
  progress.Done();
  live.reset();  // before the manager and the container it reads
  if (!report.ok()) {
    fmt::print(stderr, "overlay run: {}\n", report.status().message());
    return kExitUsage;
  }
  const RunReport& r = *report;
  const int sig = (*stop)->signal();
  const std::string segment = opt.store != nullptr ? spec.storage.options.segment : "";
  std::string json = RunJson(path, *inputs, r, opt.out_dir, segment);
  if (r.cancelled) json = InterruptedJson(json, sig, r);
  if (!opt.out_dir.empty()) {
    auto hold = (*stop)->HoldResults();
    Status s = WriteManifest(opt.out_dir, json);
    if (!s.ok()) fmt::print(stderr, "overlay run: {}\n", s.message());
  }
  for (const auto& f : r.failures)
    fmt::print(stderr, "FAILED stage {} stream {} item {}: {}\n", f.stage, f.stream, f.item,
               f.status.ToString());
  if (r.cancelled) {
    if (flags.json) fmt::print("{}\n", json);
    fmt::print(stderr, "overlay run: {}\n", InterruptedLine(sig, r));
    if (!opt.out_dir.empty())
      fmt::print(stderr, "overlay run: {}/ keeps the {} finished streams' results; "
                         "manifest.json says the run was interrupted\n",
                 opt.out_dir, r.streams_done);
    g_exit_without_handlers = true;
    return 128 + sig;
  }
  if (flags.json) {
    fmt::print("{}\n", json);
    return r.ok() ? 0 : kExitItemsFailed;
  }
  double secs = std::max(r.seconds, 1e-9);
  // A reused task is done work too: a fully reused run is not "0 tasks/s".
  const double done = static_cast<double>(r.tasks_ok + r.tasks_reused);
  fmt::print("{} streams, {} tasks ok, {} failed{} in {:.2f} s ({:.0f} tasks/s, {} of input)\n",
             r.streams, r.tasks_ok, r.tasks_failed,
             opt.store != nullptr ? fmt::format(", {} reused", r.tasks_reused) : "", r.seconds,
             done / secs, ByteRate(r.input_bytes / secs));
  if (r.tasks_reused > 0 && r.tasks_ok == 0 && r.tasks_failed == 0)
    fmt::print("every task's result was remembered from an earlier run (--rerun runs them)\n");
  for (const auto& [name, value] : r.counters) fmt::print("  {}: {}\n", name, value);
  if (!opt.out_dir.empty()) {
    fmt::print("results ({} files) in {}/, listed in {}/manifest.json\n", r.outputs.size(),
               opt.out_dir, opt.out_dir);
    size_t svgs = 0;
    for (const auto& o : r.outputs)
      if (o.ends_with(".svg")) fmt::print("{}  {}\n", svgs++ == 0 ? "SVG:" : "    ", o);
  }
  if (opt.store != nullptr && !r.stored.empty())
    fmt::print("{} results named in the data container (segment '{}'): {}\n", r.stored.size(),
               segment, ResultsHint(segment, r.stored.front()));
  return r.ok() ? 0 : kExitItemsFailed;
}

// With `secret_file`, the secret goes there alone (a new file, mode 0600) and
// only the public key is printed.
int KeyGen(const std::string& secret_file) {
  auto pair = transport::NewCurveKeyPair();
  if (!pair.ok()) {
    fmt::print(stderr, "overlay keygen: {}\n", pair.status().message());
    return kExitItemsFailed;
  }
  if (secret_file.empty()) {
    fmt::print("curve_public = {}\n# secret key: store it alone in the endpoint's curve_secret_file\n{}\n",
               pair->first, pair->second);
    return 0;
  }
  // O_EXCL: an existing key file is never overwritten (nor a link followed).
  const int fd = ::open(secret_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  const std::string line = pair->second + "\n";
  if (fd < 0 || ::fchmod(fd, 0600) != 0 ||
      ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    fmt::print(stderr, "overlay keygen: cannot write {}: {}\n", secret_file, std::strerror(errno));
    if (fd >= 0) {
      ::close(fd);
      ::unlink(secret_file.c_str());
    }
    return kExitItemsFailed;
  }
  ::close(fd);
  fmt::print("{}\n", pair->first);
  return 0;
}

int ListFunctions() {
  fmt::print("native functions (FUNCTION: builtin = NAME, args = …):\n");
  for (const auto& b : ListBuiltins())
    fmt::print("  {:<18} {}\n  {:<18} args: {}\n", b.name, b.summary, "",
               b.usage.empty() ? "none" : b.usage);
  fmt::print("\nexternal commands (FUNCTION: command = …) run with execve, no shell;\n"
             "placeholders: @W workspace dir (inputs there, new files are outputs), @I input\n"
             "path, @D output dir, @N input file name.\n");
  return 0;
}

}  // namespace
}  // namespace overlay

int main(int argc, char** argv) {
  using namespace overlay;
  CLI::App app{"Overlay: runs function pipelines (DAGs of stages) over a tiered in-memory data layer"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "overlay 0.1.0");

  std::string cfg;
  RunFlags check_flags;
  auto* validate = app.add_subcommand(
      "validate", "check a config as `run` would, without running it, and print its DAG");
  validate->add_option("config", cfg, "pipeline config file")->required();
  AddCheckFlags(validate, &check_flags);

  ExecutorOptions run_opt;
  run_opt.memo = true;
  RunFlags run_flags;
  auto* run = app.add_subcommand("run", "run a pipeline");
  run->add_option("config", cfg, "pipeline config file")->required();
  AddCheckFlags(run, &run_flags);
  run->add_option("--out", run_opt.out_dir,
                  "write result-stage outputs under DIR/<stage>/ and DIR/manifest.json, "
                  "replacing an earlier run's")
      ->capture_default_str();
  run->add_flag("--keep-all", run_opt.keep_all, "also write intermediate stages' outputs");
  run->add_flag("--rerun", run_opt.rerun,
                "run every task, even those whose results an earlier run with the same "
                "functions and inputs left in the data container");
  run->add_option("--workers", run_opt.workers,
                  "tasks at once (default: largest ENDPOINT workers, else one per core)")
      ->check(CLI::Range(1, 4096));
  run->add_flag("-q,--quiet", run_flags.quiet, "no progress line (drawn only on a terminal)");
  run->add_flag("--live", run_flags.live,
                "serve the run's metrics (Prometheus text format) over HTTP while it runs");
  run->add_option("--metrics-address", run_flags.metrics_address,
                  "where --live serves them: HOST:PORT, an IP address (default 127.0.0.1:0, "
                  "a free port; the URL is printed)");
  run->add_option("--data-address", run_flags.data_address,
                  "where endpoints fetch this run's inputs (default tcp://127.0.0.1:0; on "
                  "several hosts this node's address, e.g. tcp://10.77.0.1:0)");

  EndpointFlags endpoint_flags;
  CLI::App* endpoint = AddEndpointCommand(app, &endpoint_flags);
  int cluster_exit = 0;
  AddClusterCommands(app, &cluster_exit);

  auto* functions =
      app.add_subcommand("functions", "list the native functions and the command placeholders");
  auto* keygen = app.add_subcommand(
      "keygen", "print a new ZeroMQ CURVE key pair for an ENDPOINT (curve_public / secret file)");
  std::string keygen_out;
  keygen->add_option("-o,--output", keygen_out,
                     "write the secret key to this new file (mode 0600), print the public key");
  int storage_exit = 0;
  AddStorageCommands(app, &storage_exit);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  if (validate->parsed()) return Validate(cfg, check_flags);
  if (run->parsed()) {
    if (run->count("--metrics-address") > 0) run_flags.live = true;
    const int rc = Run(cfg, run_opt, run_flags);
    if (g_exit_without_handlers) {
      std::fflush(stdout);
      std::fflush(stderr);
      ::_exit(rc);
    }
    return rc;
  }
  if (functions->parsed()) return ListFunctions();
  if (keygen->parsed()) return KeyGen(keygen_out);
  if (endpoint->parsed()) return EndpointMain(endpoint_flags);
  for (const char* name : {"up", "down", "status"})
    if (app.get_subcommand(name)->parsed()) return cluster_exit;
  return storage_exit;
}
