// SPDX-License-Identifier: Apache-2.0
// launcher = slurm: each endpoint is a Slurm job step named overlay-NAME,
// inside the current allocation (srun --jobid $SLURM_JOB_ID, run detached
// here), or with --submit in a batch job of its own (an sbatch script written
// to the state directory). Stopping is scancel of the step (or job): Slurm
// sends SIGTERM, then SIGKILL after its KillWait. The state directory is
// assumed shared, as a cluster's home is.
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "launcher.h"
#include "process.h"

namespace overlay::launch {
namespace {

constexpr auto kPoll = std::chrono::milliseconds(200);

std::string StepName(const EndpointDecl& e) { return "overlay-" + e.name; }

class SlurmLauncher final : public Launcher {
 public:
  explicit SlurmLauncher(const LaunchOptions& options)
      : options_(options), dir_(StateDir(options.state_dir, options.config)) {}

  Result<std::string> Start(const EndpointDecl& e) override {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return Status::IOError(fmt::format("cannot create {}: {}", dir_, ec.message()));
    return options_.submit ? Submit(e) : Step(e);
  }

  Result<std::string> Stop(const EndpointDecl& e) override {
    std::string job, mode;
    std::ifstream(JobFile(e)) >> job >> mode;
    if (job.empty()) {
      const char* env = std::getenv("SLURM_JOB_ID");
      if (env == nullptr) return fmt::format("{}: not running (no job recorded)", e.name);
      job = env;
    }
    auto step = FindStep(job, e);
    if (!step.ok()) return step.status();
    if (step->empty() && mode != "batch") return fmt::format("{}: not running", e.name);
    const std::string target = mode == "batch" ? job : *step;
    auto r = RunCommand({"scancel", target}, options_.command_timeout);
    if (!r.ok()) return r.status();
    if (r->exit_code != 0) return Status::Failed(fmt::format("scancel {}: {}", target, r->output));
    // Slurm's KillWait (30 s by default) bounds the wait after SIGTERM.
    const auto deadline = std::chrono::steady_clock::now() + options_.grace +
                          std::chrono::seconds(30);
    for (;;) {
      // A batch job stays listed while it completes (CG) after its step ends.
      auto left = mode == "batch" ? JobListed(job) : FindStep(job, e);
      if (left.ok() && left->empty()) break;
      if (std::chrono::steady_clock::now() >= deadline)
        return Status::Timeout(fmt::format("{}: step still listed by squeue after scancel",
                                           e.name));
      std::this_thread::sleep_for(kPoll);
    }
    std::error_code ec;
    std::filesystem::remove(JobFile(e), ec);
    return fmt::format("{}: stopped (scancel {})", e.name, target);
  }

  std::string LogHint(const EndpointDecl& e) const override { return dir_ + "/" + e.name + ".log"; }

 private:
  std::string JobFile(const EndpointDecl& e) const { return dir_ + "/" + e.name + ".slurm"; }

  std::vector<std::string> EndpointArgv(const EndpointDecl& e) const {
    const std::string overlay = e.launch.overlay_path.empty()
                                    ? std::filesystem::read_symlink("/proc/self/exe").string()
                                    : e.launch.overlay_path;
    return {overlay, "endpoint", "--config", options_.config, "--name", e.name};
  }

  // The step's id "JOB.STEP" when job `job` runs a step named for `e`; empty if none.
  Result<std::string> FindStep(const std::string& job, const EndpointDecl& e) const {
    auto r = RunCommand({"squeue", "--steps", "--noheader", "--format=%i %j", "--jobs=" + job},
                        options_.command_timeout);
    if (!r.ok()) return r.status();
    std::istringstream lines(r->output);
    std::string id, name;
    while (lines >> id >> name)
      if (name == StepName(e)) return id;
    return std::string();
  }

  // Job `job`'s squeue line in any state; empty once Slurm forgot it.
  Result<std::string> JobListed(const std::string& job) const {
    auto r = RunCommand({"squeue", "--noheader", "--format=%i %t", "--jobs=" + job},
                        options_.command_timeout);
    if (!r.ok()) return r.status();
    // squeue refuses a job id it no longer knows ("Invalid job id"): gone.
    return r->exit_code == 0 ? r->output : std::string();
  }

  Result<std::string> Step(const EndpointDecl& e) {
    const char* job = std::getenv("SLURM_JOB_ID");
    if (job == nullptr || *job == '\0')
      return Status::InvalidArgument(fmt::format(
          "{}: launcher = slurm needs an allocation (run `overlay up` inside salloc) or --submit",
          e.name));
    auto running = FindStep(job, e);
    if (running.ok() && !running->empty())
      return fmt::format("{}: already running (step {})", e.name, *running);
    // --overlap: endpoints share the allocation's CPUs rather than wait for them.
    std::vector<std::string> argv = {"srun",          std::string("--jobid=") + job,
                                     "--job-name=" + StepName(e), "--ntasks=1",
                                     "--nodes=1",     "--overlap",
                                     "--output=" + LogHint(e)};
    if (!e.launch.nodelist.empty()) argv.push_back("--nodelist=" + e.launch.nodelist);
    if (!e.launch.constraint.empty()) argv.push_back("--constraint=" + e.launch.constraint);
    if (!e.launch.time_limit.empty()) argv.push_back("--time=" + e.launch.time_limit);
    for (auto& w : EndpointArgv(e)) argv.push_back(std::move(w));
    auto pid = SpawnDetached(argv, dir_ + "/" + e.name + ".srun.log");
    if (!pid.ok()) return pid.status();
    std::ofstream(JobFile(e), std::ios::trunc) << job << " step\n";
    return fmt::format("{}: srun started (pid {}) in job {}, log {}", e.name, *pid, job,
                       LogHint(e));
  }

  Result<std::string> Submit(const EndpointDecl& e) {
    const std::string script = dir_ + "/" + e.name + ".sbatch";
    {
      std::ofstream out(script, std::ios::trunc);
      out << "#!/bin/sh\n"
          << "#SBATCH --job-name=" << StepName(e) << "\n"
          << "#SBATCH --output=" << LogHint(e) << "\n"
          << "#SBATCH --ntasks=1\n";
      const std::pair<const char*, const std::string*> options[] = {
          {"partition", &e.launch.partition},   {"nodelist", &e.launch.nodelist},
          {"constraint", &e.launch.constraint}, {"time", &e.launch.time_limit},
          {"account", &e.launch.account}};
      for (const auto& [flag, value] : options)
        if (!value->empty()) out << "#SBATCH --" << flag << "=" << *value << "\n";
      std::vector<std::string> step = {"srun", "--job-name=" + StepName(e)};
      for (auto& w : EndpointArgv(e)) step.push_back(std::move(w));
      out << "exec " << ShellCommand(step) << "\n";
      if (!out.flush()) return Status::IOError("cannot write " + script);
    }
    auto r = RunCommand({"sbatch", "--parsable", script}, options_.command_timeout);
    if (!r.ok()) return r.status();
    if (r->exit_code != 0) return Status::Failed(fmt::format("sbatch {}: {}", script, r->output));
    const std::string job = r->output.substr(0, r->output.find_first_of(";\n"));
    std::ofstream(JobFile(e), std::ios::trunc) << job << " batch\n";
    return fmt::format("{}: submitted job {} ({})", e.name, job, script);
  }

  LaunchOptions options_;
  std::string dir_;
};

}  // namespace

std::unique_ptr<Launcher> NewSlurmLauncher(const LaunchOptions& options) {
  return std::make_unique<SlurmLauncher>(options);
}

}  // namespace overlay::launch
