// SPDX-License-Identifier: Apache-2.0
// The `overlay` command: a thin layer over core/. Exit codes: 0 success, 1 some
// items failed, 2 usage or config error.
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
#include <mutex>
#include <string>

#include "overlay/config.h"
#include "overlay/dag.h"
#include "overlay/executor.h"
#include "overlay/function.h"
#include "overlay/function_manager.h"
#include "overlay/object_store.h"
#include "overlay/remote_function.h"
#include "overlay/storage/container_store.h"
#include "overlay/storage/data_container.h"
#include "overlay/transport/channel.h"
#include "endpoint_command.h"
#include "storage_commands.h"

namespace overlay {
namespace {

constexpr int kExitItemsFailed = 1;
constexpr int kExitUsage = 2;

// A byte rate in the largest unit that keeps it at 1 or more (the synthetic
// patients' inputs are a few hundred bytes; recorded ones are megabytes).
std::string ByteRate(double bytes_per_second) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB"};
  size_t unit = 0;
  for (; unit + 1 < std::size(kUnits) && bytes_per_second >= 1000; ++unit) bytes_per_second /= 1000;
  return fmt::format("{:.1f} {}/s", bytes_per_second, kUnits[unit]);
}

int Validate(const std::string& path) {
  auto spec = LoadConfig(path);
  if (!spec.ok()) {
    fmt::print(stderr, "{}\n", spec.status().message());
    return kExitUsage;
  }
  auto dag = BuildDag(*spec);
  fmt::print("{}: OK: {} functions, {} endpoints, {} stages\n{}", path, spec->functions.size(),
             spec->endpoints.size(), spec->stages.size(), dag->Describe(*spec));
  return 0;
}

// Rewrites one status line on a terminal; elsewhere (logs, CI) prints a line
// every few seconds so the log stays readable.
class ProgressPrinter {
 public:
  ProgressPrinter() : tty_(isatty(STDERR_FILENO)), start_(Clock::now()), last_(start_) {}

  void Update(const Progress& p) {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    if (now - last_ < (tty_ ? std::chrono::milliseconds(200) : std::chrono::seconds(5))) return;
    last_ = now;
    Print(p, now);
  }

  void Done() {
    std::lock_guard lock(mu_);
    if (tty_ && printed_) fmt::print(stderr, "\n");
  }

 private:
  using Clock = std::chrono::steady_clock;

  void Print(const Progress& p, Clock::time_point now) {
    double s = std::chrono::duration<double>(now - start_).count();
    fmt::print(stderr, "{}streams {}/{} done, tasks {} ok, {} failed, {:.1f} s{}",
               tty_ ? "\r" : "", p.streams_done, p.streams_total, p.tasks_ok, p.tasks_failed, s,
               tty_ ? "   " : "\n");
    printed_ = true;
  }

  const bool tty_;
  std::mutex mu_;
  Clock::time_point start_, last_;
  bool printed_ = false;
};

// The `run` flags beyond ExecutorOptions.
struct RunFlags {
  std::string include, segment, data_address;
  bool no_store = false, quiet = false, local = false;
};

int Run(const std::string& path, const ExecutorOptions& base, const RunFlags& flags) {
  const std::string& include = flags.include;
  const std::string& segment = flags.segment;
  const bool use_store = !flags.no_store;
  auto spec = ParseConfigFile(path);
  ExecutorOptions opt = base;
  if (spec.ok() && flags.local) {
    for (auto& e : spec->endpoints) {
      e.address.clear();
      e.fallback.clear();  // everything runs here already
    }
  }
  if (spec.ok() && !opt.input_dir.empty()) {
    // --input (relative to the working directory) replaces the directory
    // sources, so the config's own need not exist.
    opt.input_dir = std::filesystem::absolute(opt.input_dir).lexically_normal().string();
    for (auto& st : spec->stages)
      for (auto& src : st.sources)
        if (!spec->FindStage(src)) src = opt.input_dir;
  }
  if (spec.ok() && !include.empty())
    for (auto& st : spec->stages)
      for (const auto& src : st.sources)
        if (!spec->FindStage(src)) st.include = include;
  Status valid = spec.ok() ? ValidateSpec(*spec) : spec.status();
  if (!valid.ok()) {
    fmt::print(stderr, "{}\n", valid.message());
    return kExitUsage;
  }
  std::unique_ptr<storage::DataContainer> container;
  std::unique_ptr<storage::ContainerStore> store;
  if (use_store) {
    if (!segment.empty()) {
      Status s = SetStorageOption(&spec->storage.options, "segment", segment);
      if (!s.ok()) {
        fmt::print(stderr, "overlay run: --segment: {}\n", s.message());
        return kExitUsage;
      }
    }
    auto c = storage::DataContainer::Open(spec->storage.options);
    if (!c.ok()) {
      fmt::print(stderr, "overlay run: data container: {}\n", c.status().message());
      return kExitUsage;
    }
    container = std::move(*c);
    if (!container->notice().empty()) fmt::print(stderr, "overlay run: {}\n", container->notice());
    // Without a disk tier, objects in flight must fit L1.
    if (container->disk_dir().empty()) opt.memory_limit = spec->storage.options.memory;
    store = std::make_unique<storage::ContainerStore>(container.get());
    opt.store = store.get();
  }
  std::unique_ptr<FunctionManager> manager;
  if (HasRemoteStages(*spec)) {
    if (store == nullptr) {
      fmt::print(stderr, "overlay run: stages on remote endpoints need the data container; "
                         "drop --no-store\n");
      return kExitUsage;
    }
    FunctionManagerOptions fm;
    fm.store = store.get();
    if (!flags.data_address.empty()) fm.data_address = flags.data_address;
    for (const auto& e : spec->endpoints)
      if (!e.address.empty() && !e.curve_public.empty()) fm.curve_server_keys[e.address] = e.curve_public;
    auto m = FunctionManager::Create(fm);
    if (!m.ok()) {
      fmt::print(stderr, "overlay run: function manager: {}\n", m.status().ToString());
      return kExitUsage;
    }
    manager = std::move(*m);
    opt.make_stage_function =
        RemoteStageFactory(*spec, manager.get(), store.get(), [](const std::string& notice) {
          fmt::print(stderr, "\noverlay run: {}\n", notice);
        });
  }
  ProgressPrinter progress;
  if (!flags.quiet) opt.on_progress = [&](const Progress& p) { progress.Update(p); };
  auto report = RunPipeline(*spec, opt);
  progress.Done();
  if (!report.ok()) {
    fmt::print(stderr, "overlay run: {}\n", report.status().message());
    return kExitUsage;
  }
  const RunReport& r = *report;
  for (const auto& f : r.failures)
    fmt::print(stderr, "FAILED stage {} stream {} item {}: {}\n", f.stage, f.stream, f.item,
               f.status.ToString());
  double secs = std::max(r.seconds, 1e-9);
  fmt::print("{} streams, {} tasks ok, {} failed in {:.2f} s ({:.0f} tasks/s, {} of input)\n",
             r.streams, r.tasks_ok, r.tasks_failed, r.seconds, r.tasks_ok / secs,
             ByteRate(r.input_bytes / secs));
  for (const auto& [name, value] : r.counters) fmt::print("  {}: {}\n", name, value);
  if (!opt.out_dir.empty()) {
    fmt::print("results ({} files) in {}/\n", r.outputs.size(), opt.out_dir);
    size_t svgs = 0;
    for (const auto& o : r.outputs)
      if (o.ends_with(".svg")) fmt::print("{}  {}\n", svgs++ == 0 ? "SVG:" : "    ", o);
  }
  if (opt.store != nullptr && !r.stored.empty())
    fmt::print("{} results named in the data container (segment '{}'): overlay ls; overlay get {}\n",
               r.stored.size(), spec->storage.options.segment, r.stored.front());
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
  auto* validate = app.add_subcommand("validate", "check a config and print its DAG");
  validate->add_option("config", cfg, "pipeline config file")->required();

  ExecutorOptions run_opt;
  RunFlags run_flags;
  auto* run = app.add_subcommand("run", "run a pipeline");
  run->add_option("config", cfg, "pipeline config file")->required();
  run->add_option("--input", run_opt.input_dir,
                  "directory whose files replace the config's directory sources");
  run->add_option("--out", run_opt.out_dir, "write result-stage outputs under DIR/<stage>/")
      ->capture_default_str();
  run->add_option("--include", run_flags.include,
                  "file-name glob for directory sources (e.g. signal.txt), replacing STAGE include");
  run->add_flag("--keep-all", run_opt.keep_all, "also write intermediate stages' outputs");
  run->add_option("--workers", run_opt.workers,
                  "tasks at once (default: largest ENDPOINT workers, else one per core)")
      ->check(CLI::Range(1, 4096));
  run->add_flag("-q,--quiet", run_flags.quiet, "no progress line");
  run->add_option("--segment", run_flags.segment,
                  "L1 shared-memory segment of the data container (replaces STORAGE.segment)");
  run->add_flag("--no-store", run_flags.no_store,
                "pass data between stages in process memory instead of the data container");
  run->add_option("--data-address", run_flags.data_address,
                  "where endpoints fetch this run's inputs (default tcp://127.0.0.1:0; on "
                  "several hosts this node's address, e.g. tcp://10.77.0.1:0)");
  run->add_flag("--local", run_flags.local,
                "ignore ENDPOINT addresses: run every stage in this process");

  std::string endpoint_name, endpoint_address;
  auto* endpoint = app.add_subcommand(
      "endpoint", "serve an ENDPOINT's functions and data container until SIGTERM/SIGINT");
  endpoint->add_option("--config", cfg, "pipeline config file")->required();
  endpoint->add_option("--name", endpoint_name, "the ENDPOINT block to serve")->required();
  endpoint->add_option("--address", endpoint_address,
                       "listen here instead of ENDPOINT address (e.g. tcp://127.0.0.1:5555)");

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
  if (validate->parsed()) return Validate(cfg);
  if (run->parsed()) return Run(cfg, run_opt, run_flags);
  if (functions->parsed()) return ListFunctions();
  if (keygen->parsed()) return KeyGen(keygen_out);
  if (endpoint->parsed()) return RunEndpoint(cfg, endpoint_name, endpoint_address);
  return storage_exit;
}
