// SPDX-License-Identifier: Apache-2.0
// `overlay up/status/down` with launcher = slurm against a real Slurm: the
// test starts munged, slurmctld and slurmd (Debian's munge and slurm-wlm) as
// root on this machine, one node with 2 CPUs, everything in a temp folder,
// takes an allocation with `salloc --no-shell`, and checks that the
// endpoints are job steps (squeue --steps), that a run on them equals the
// all-local run, also after `scancel` of the fog's step (its stage fails
// over to the cloud), and that no step is left after down.
// Skipped, saying why, without root or Slurm, or when a daemon cannot start.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <thread>

#include "cluster/cluster_fixture.h"

extern char** environ;

namespace overlay {
namespace {

namespace fs = std::filesystem;

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ProcessesWith;
using testing::ReadFile;
using testing::Tree;

// A daemon in the foreground, output to `log`; SIGTERM (then SIGKILL) and
// reaped on destruction.
class Daemon {
 public:
  Daemon(const std::vector<std::string>& argv, const std::string& log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Daemon() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  // False once it has exited.
  bool running() { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
};

class SlurmLauncherTest : public testing::ClusterFixture {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to run slurmctld and slurmd";
    for (const char* p : {"/usr/sbin/munged", "/usr/sbin/mungekey", "/usr/sbin/slurmctld",
                          "/usr/sbin/slurmd", "/usr/bin/srun", "/usr/bin/salloc"})
      if (::access(p, X_OK) != 0)
        GTEST_SKIP() << "needs Slurm and munge (slurm-wlm, munge): no " << p;
    ClusterFixture::SetUp();
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    const std::string d = dir_.string();
    ASSERT_TRUE(Run({"/usr/sbin/mungekey", "--create", "--keyfile=" + d + "/munge.key"}));
    munged_ = std::make_unique<Daemon>(
        std::vector<std::string>{"/usr/sbin/munged", "-F", "-f", "--socket=" + d + "/munge.sock",
                                 "--key-file=" + d + "/munge.key", "--pid-file=" + d + "/munged.pid",
                                 "--seed-file=" + d + "/munged.seed", "--log-file=" + d + "/munged.log"},
        d + "/munged.out");
    if (!WaitFor([&] { return fs::exists(dir_ / "munge.sock"); }))
      GTEST_SKIP() << "munged did not start: " << ReadFile(dir_ / "munged.out");
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    host_ = std::string(host).substr(0, std::string(host).find('.'));
    fs::create_directories(dir_ / "ctld");
    fs::create_directories(dir_ / "spool");
    std::ofstream(dir_ / "slurm.conf")
        << "ClusterName=overlaytest\nSlurmctldHost=" << host_ << "(127.0.0.1)\n"
        << "SlurmctldPort=" << testing::FreePort() << "\nSlurmdPort=" << testing::FreePort()
        << "\nSlurmUser=root\nSlurmdUser=root\nAuthType=auth/munge\nCredType=cred/munge\n"
        << "AuthInfo=socket=" << d << "/munge.sock\nStateSaveLocation=" << d << "/ctld\n"
        << "SlurmdSpoolDir=" << d << "/spool\nSlurmctldPidFile=" << d << "/ctld.pid\n"
        << "SlurmdPidFile=" << d << "/slurmd.pid\nSlurmctldLogFile=" << d << "/ctld.log\n"
        << "SlurmdLogFile=" << d << "/slurmd.log\nProctrackType=proctrack/linuxproc\n"
        << "TaskPlugin=task/none\nJobAcctGatherType=jobacct_gather/none\n"
        << "AccountingStorageType=accounting_storage/none\nSelectType=select/cons_tres\n"
        << "SelectTypeParameters=CR_CPU\nMpiDefault=none\nReturnToService=2\nKillWait=5\n"
        << "NodeName=" << host_ << " NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN\n"
        << "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n";
    std::ofstream(dir_ / "cgroup.conf") << "CgroupPlugin=autodetect\n";
    const std::string conf = d + "/slurm.conf";
    ::setenv("SLURM_CONF", conf.c_str(), 1);
    env_ = {{"SLURM_CONF", conf}};
    ctld_ = std::make_unique<Daemon>(
        std::vector<std::string>{"/usr/sbin/slurmctld", "-D", "-f", conf}, d + "/ctld.out");
    slurmd_ = std::make_unique<Daemon>(
        std::vector<std::string>{"/usr/sbin/slurmd", "-D", "-f", conf}, d + "/slurmd.out");
    if (!WaitFor([&] { return Output({"sinfo", "--noheader", "--format=%T"}) == "idle\n"; }))
      GTEST_SKIP() << "Slurm did not start (sinfo: " << Output({"sinfo"}) << ")\nslurmctld: "
                   << ReadFile(dir_ / "ctld.log") << ReadFile(dir_ / "ctld.out")
                   << "\nslurmd: " << ReadFile(dir_ / "slurmd.log") << ReadFile(dir_ / "slurmd.out");
  }

  void TearDown() override {
    if (!job_.empty()) (void)Output({"scancel", job_});
    if (!dir_.empty())
      for (pid_t pid : ProcessesWith(fs::path(dir_ / "cluster.cfg").string())) ::kill(pid, SIGKILL);
    slurmd_.reset();
    ctld_.reset();
    munged_.reset();
    ::unsetenv("SLURM_CONF");
    if (!dir_.empty()) ClusterFixture::TearDown();
  }

  // Polls `ready` every 200 ms for at most 30 s.
  static bool WaitFor(const std::function<bool()>& ready) {
    for (int i = 0; i < 150; ++i) {
      if (ready()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  // stdout and stderr of a Slurm client command (SLURM_CONF is set).
  std::string Output(const std::vector<std::string>& argv) {
    RunOptions o;
    o.argv = argv;
    o.timeout_ms = 30000;
    auto r = RunProcess(o);
    return r.ok() ? r->out.tail + r->err.tail : r.status().ToString();
  }
  bool Run(const std::vector<std::string>& argv) {
    RunOptions o;
    o.argv = argv;
    o.timeout_ms = 30000;
    auto r = RunProcess(o);
    EXPECT_TRUE(r.ok() && r->success()) << argv[0] << ": "
                                        << (r.ok() ? r->StderrTail() : r.status().ToString());
    return r.ok() && r->success();
  }

  // Job steps of the allocation, "ID NAME" a line.
  std::string Steps() {
    return Output({"squeue", "--steps", "--noheader", "--format=%i %j", "--jobs=" + job_});
  }

  fs::path Config() {
    return WriteConfig("address = tcp://127.0.0.1:" + std::to_string(testing::FreePort()) +
                           "\nworkers = 1\nlauncher = slurm\nnodelist = " + host_ +
                           "\nfallback = " + cloud_ + "\nfallback_after = 2s\n",
                       "address = tcp://127.0.0.1:" + std::to_string(testing::FreePort()) +
                           "\nworkers = 1\nlauncher = slurm\ntime_limit = 10\n");
  }

  std::string host_, job_;
  std::unique_ptr<Daemon> munged_, ctld_, slurmd_;
};

TEST_F(SlurmLauncherTest, StepsInAnAllocation) {
  const std::string granted = Output({"salloc", "--nodes=1", "--ntasks=1", "--no-shell"});
  const size_t at = granted.find("Granted job allocation ");
  ASSERT_NE(at, std::string::npos) << granted;
  job_ = std::to_string(std::stol(granted.substr(at + 23)));
  env_.push_back({"SLURM_JOB_ID", job_});
  const fs::path cfg = Config();
  const std::string state = (dir_ / "state").string();
  RunResult up = Overlay({"up", cfg.string(), "--state-dir", state, "--timeout", "60"});
  ASSERT_EQ(up.exit_code, 0) << up.out.tail << up.StderrTail() << "\n" << Steps();
  EXPECT_THAT(up.err.tail, HasSubstr("srun started"));
  const std::string steps = Steps();
  EXPECT_THAT(steps, HasSubstr(job_ + ".0 overlay-"));
  EXPECT_THAT(steps, HasSubstr("overlay-" + fog_));
  EXPECT_THAT(steps, HasSubstr("overlay-" + cloud_));

  int rc = -1;
  nlohmann::json st = StatusJson(cfg, &rc);
  EXPECT_EQ(rc, 0) << st.dump();
  EXPECT_EQ((*Find(st, fog_))["launcher"], "slurm");

  // Again: both answer, nothing new is started.
  RunResult again = Overlay({"up", cfg.string(), "--state-dir", state});
  EXPECT_EQ(again.exit_code, 0) << again.StderrTail();
  EXPECT_THAT(again.out.tail, HasSubstr("already up"));
  EXPECT_THAT(again.err.tail, Not(HasSubstr("srun started")));

  RunResult remote = Overlay({"run", cfg.string(), "-q", "--out", "out-remote", "--segment",
                              "overlay-client-" + tag_});
  ASSERT_EQ(remote.exit_code, 0) << remote.StderrTail();
  RunResult local = Overlay({"run", cfg.string(), "-q", "--local", "--out", "out-local",
                             "--segment", "overlay-local-" + tag_});
  ASSERT_EQ(local.exit_code, 0) << local.StderrTail();
  EXPECT_FALSE(Tree(dir_ / "out-local").empty());
  EXPECT_EQ(Tree(dir_ / "out-remote"), Tree(dir_ / "out-local"));

  // The fog's step cancelled: its stage fails over to the cloud as configured.
  std::string fog_step;
  {
    std::istringstream lines(Steps());
    for (std::string id, name; lines >> id >> name;)
      if (name == "overlay-" + fog_) fog_step = id;
  }
  ASSERT_FALSE(fog_step.empty()) << Steps();
  Output({"scancel", fog_step});
  ASSERT_TRUE(WaitFor([&] { return Steps().find("overlay-" + fog_) == std::string::npos; }));
  RunResult failover = Overlay({"run", cfg.string(), "-q", "--out", "out-failover", "--segment",
                                "overlay-client-" + tag_});
  ASSERT_EQ(failover.exit_code, 0) << failover.StderrTail();
  EXPECT_THAT(failover.err.tail, HasSubstr("endpoint '" + fog_ + "' lost"));
  EXPECT_EQ(Tree(dir_ / "out-failover"), Tree(dir_ / "out-local"));
  st = StatusJson(cfg, &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_FALSE((*Find(st, fog_))["up"].get<bool>());

  RunResult down = Overlay({"down", cfg.string(), "--state-dir", state});
  EXPECT_EQ(down.exit_code, 0) << down.out.tail << down.StderrTail();
  EXPECT_THAT(down.out.tail, HasSubstr(fog_ + ": not running"));
  EXPECT_THAT(down.out.tail, HasSubstr(cloud_ + ": stopped (scancel " + job_ + "."));
  EXPECT_EQ(Steps(), "");
  EXPECT_TRUE(ProcessesWith(cfg.string()).empty());
  st = StatusJson(cfg, &rc);
  EXPECT_EQ(rc, 1);
}

TEST_F(SlurmLauncherTest, SubmittedJobs) {
  const fs::path cfg = Config();
  const std::string state = (dir_ / "state").string();
  RunResult up =
      Overlay({"up", cfg.string(), "--state-dir", state, "--submit", "--timeout", "60"});
  ASSERT_EQ(up.exit_code, 0) << up.out.tail << up.StderrTail()
                             << Output({"squeue", "--steps"});
  EXPECT_THAT(up.err.tail, HasSubstr("submitted job"));
  const std::string steps = Output({"squeue", "--steps", "--noheader", "--format=%j"});
  EXPECT_THAT(steps, HasSubstr("overlay-" + fog_));
  EXPECT_THAT(steps, HasSubstr("overlay-" + cloud_));
  int rc = -1;
  nlohmann::json st = StatusJson(cfg, &rc);
  EXPECT_EQ(rc, 0) << st.dump();

  RunResult down = Overlay({"down", cfg.string(), "--state-dir", state});
  EXPECT_EQ(down.exit_code, 0) << down.out.tail << down.StderrTail();
  EXPECT_EQ(Output({"squeue", "--noheader"}), "");
  EXPECT_TRUE(ProcessesWith(cfg.string()).empty());
}

}  // namespace
}  // namespace overlay
