// SPDX-License-Identifier: Apache-2.0
// `overlay up/status/down` with launcher = local: two endpoint daemons on
// loopback, started detached, asked after, killed and stopped.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "cluster/cluster_fixture.h"

namespace overlay {
namespace {

namespace fs = std::filesystem;

using ::testing::HasSubstr;
using testing::ProcessesWith;
using testing::Tree;

class LocalLauncherTest : public testing::ClusterFixture {
 protected:
  void SetUp() override {
    ClusterFixture::SetUp();
    // Event logs (DefaultLogPath) and disk tiers (the default folder) in here.
    env_ = {{"XDG_STATE_HOME", (dir_ / "xdg-state").string()},
            {"XDG_DATA_HOME", (dir_ / "xdg-data").string()}};
  }
  // Puts land in L2 too (write = through), each process its own by segment.
  fs::path Config() {
    return WriteConfig(
        "address = tcp://127.0.0.1:" + std::to_string(testing::FreePort()) + "\nworkers = 1\n",
        "address = tcp://127.0.0.1:" + std::to_string(testing::FreePort()) +
            "\nworkers = 1\nlauncher = local\n",
        "memory = 64MiB\nwrite = through\n");
  }
  // An endpoint's one log: its event log, at the default path.
  std::string Log(const std::string& name) {
    return testing::ReadFile(dir_ / "xdg-state" / "overlay" / (name + ".log"));
  }
  void TearDown() override {
    // Whatever a failed test left running goes with it.
    for (pid_t pid : ProcessesWith(dir_.string())) ::kill(pid, SIGKILL);
    ClusterFixture::TearDown();
  }
  std::string state() { return (dir_ / "state").string(); }
};

TEST_F(LocalLauncherTest, UpStatusRunKillDown) {
  const fs::path cfg = Config();
  RunResult up = Overlay({"up", cfg.string(), "--state-dir", state(), "--timeout", "30"});
  ASSERT_EQ(up.exit_code, 0) << up.out.tail << up.StderrTail();
  EXPECT_THAT(up.out.tail, HasSubstr(fog_));
  EXPECT_THAT(up.out.tail, HasSubstr("started"));
  const pid_t fog_pid = PidOf(fog_), cloud_pid = PidOf(cloud_);
  ASSERT_GT(fog_pid, 0);
  ASSERT_GT(cloud_pid, 0);
  // They outlived `overlay up`.
  EXPECT_EQ(::kill(fog_pid, 0), 0);
  EXPECT_EQ(::kill(cloud_pid, 0), 0);

  int rc = -1;
  nlohmann::json st = StatusJson(cfg, &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(st["all_up"].get<bool>());
  const nlohmann::json* fog = Find(st, fog_);
  ASSERT_NE(fog, nullptr);
  EXPECT_TRUE((*fog)["up"].get<bool>());
  const std::string incarnation = (*fog)["incarnation"];
  EXPECT_EQ(incarnation.size(), 16u);
  EXPECT_EQ((*fog)["l2_bytes"].get<uint64_t>(), 0u) << fog->dump();
  const uint64_t sent_before = (*fog)["transports"]["zeromq"]["sent_bytes"].get<uint64_t>();
  const uint64_t received_before =
      (*fog)["transports"]["zeromq"]["received_bytes"].get<uint64_t>();

  // Up again: nothing restarted (same incarnation, same pid).
  RunResult again = Overlay({"up", cfg.string(), "--state-dir", state()});
  EXPECT_EQ(again.exit_code, 0) << again.StderrTail();
  EXPECT_THAT(again.out.tail, HasSubstr("already up"));
  EXPECT_THAT(again.out.tail, HasSubstr(incarnation));
  EXPECT_EQ(PidOf(fog_), fog_pid);

  // A run on them equals the all-local run.
  RunResult remote = Overlay({"run", cfg.string(), "-q", "--out", "out-remote", "--segment",
                              "overlay-client-" + tag_});
  ASSERT_EQ(remote.exit_code, 0) << remote.StderrTail();
  RunResult local = Overlay({"run", cfg.string(), "-q", "--local", "--out", "out-local",
                             "--segment", "overlay-local-" + tag_});
  ASSERT_EQ(local.exit_code, 0) << local.StderrTail();
  const auto want = Tree(dir_ / "out-local");
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(Tree(dir_ / "out-remote"), want);

  // The endpoints counted the run's tasks and their tier reads.
  st = StatusJson(cfg, &rc);
  for (const std::string& name : {fog_, cloud_}) {
    const nlohmann::json* e = Find(st, name);
    ASSERT_NE(e, nullptr);
    EXPECT_GE((*e)["tasks"]["done"].get<uint64_t>(), 3u) << e->dump();
    EXPECT_EQ((*e)["tasks"]["failed"].get<uint64_t>(), 0u);
    EXPECT_EQ((*e)["tasks"]["running"].get<uint64_t>(), 0u);
    EXPECT_GT((*e)["l1_capacity_bytes"].get<uint64_t>(), 0u);
    EXPECT_GT((*e)["uptime_s"].get<double>(), 0.0);
    const auto& l1 = (*e)["tiers"]["L1"];
    EXPECT_GT(l1["hits"].get<uint64_t>() + l1["misses"].get<uint64_t>(), 0u) << e->dump();
    // Their outputs went to L2 as well (write = through), and to the client over ZeroMQ.
    EXPECT_GT((*e)["l2_bytes"].get<uint64_t>(), 1000u) << e->dump();
    EXPECT_GT((*e)["transports"]["zeromq"]["sent_bytes"].get<uint64_t>(), 4096u) << e->dump();
    EXPECT_GT((*e)["transports"]["zeromq"]["received_bytes"].get<uint64_t>(), 4096u)
        << e->dump();
    EXPECT_EQ((*e)["transports"]["libfabric"]["sent_bytes"].get<uint64_t>(), 0u) << e->dump();
  }
  // Those bytes are the run's, not the status requests'.
  const nlohmann::json& fog_after = *Find(st, fog_);
  EXPECT_GT(fog_after["transports"]["zeromq"]["sent_bytes"].get<uint64_t>(), sent_before + 4096);
  EXPECT_GT(fog_after["transports"]["zeromq"]["received_bytes"].get<uint64_t>(),
            received_before + 4096);
  RunResult up_table = Overlay({"status", cfg.string()});
  EXPECT_EQ(up_table.exit_code, 0);
  EXPECT_THAT(up_table.out.tail, HasSubstr("L2 BYTES"));
  EXPECT_THAT(up_table.out.tail, HasSubstr("zeromq "));

  // One killed: status says which, and exits 1.
  ASSERT_EQ(::kill(cloud_pid, SIGKILL), 0);
  for (int i = 0; i < 100 && !ProcessesWith(std::string("--name\0", 7) + cloud_).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  st = StatusJson(cfg, &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_FALSE(st["all_up"].get<bool>());
  EXPECT_FALSE((*Find(st, cloud_))["up"].get<bool>());
  EXPECT_TRUE((*Find(st, fog_))["up"].get<bool>());
  RunResult table = Overlay({"status", cfg.string()});
  EXPECT_EQ(table.exit_code, 1);
  EXPECT_THAT(table.out.tail, HasSubstr("DOWN"));

  RunResult down = Overlay({"down", cfg.string(), "--state-dir", state()});
  EXPECT_EQ(down.exit_code, 0) << down.StderrTail();
  EXPECT_THAT(down.out.tail, HasSubstr(fog_ + ": stopped"));
  EXPECT_THAT(down.out.tail, HasSubstr(cloud_ + ": not running"));
  EXPECT_TRUE(ProcessesWith(cfg.string()).empty());
  st = StatusJson(cfg, &rc);
  EXPECT_EQ(rc, 1);

  // One log per endpoint, the event log at its default path, with its start
  // and its stop; the state folder holds no other.
  const std::string fog_log = Log(fog_);
  EXPECT_THAT(fog_log, HasSubstr("[info] endpoint " + fog_ + " started: pid"));
  EXPECT_THAT(fog_log, HasSubstr("[info] endpoint " + fog_ + " stopping on SIGTERM"));
  EXPECT_THAT(fog_log, HasSubstr("[info] endpoint " + fog_ + " stopped\n"));
  EXPECT_THAT(Log(cloud_), HasSubstr("[info] endpoint " + cloud_ + " started: pid"));
  for (const auto& f : fs::recursive_directory_iterator(dir_ / "state"))
    EXPECT_NE(f.path().extension(), ".log") << f.path();
}

TEST_F(LocalLauncherTest, UpNamesTheEndpointThatExits) {
  // The endpoint cannot listen (its CURVE secret file is missing), so it exits.
  const fs::path cfg = WriteConfig(
      "address = tcp://127.0.0.1:" + std::to_string(testing::FreePort()) + "\n",
      "address = tcp://127.0.0.1:" + std::to_string(testing::FreePort()) +
          "\ncurve_public = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n"
          "curve_secret_file = missing.key\n");
  RunResult up = Overlay({"up", cfg.string(), "--state-dir", state(), "--timeout", "30"});
  EXPECT_EQ(up.exit_code, 1);
  EXPECT_THAT(up.err.tail, HasSubstr("endpoint '" + cloud_ + "' exited without answering"));
  EXPECT_THAT(up.err.tail, HasSubstr((dir_ / "xdg-state" / "overlay" / cloud_).string() + ".log"));
  EXPECT_THAT(up.out.tail, HasSubstr("EXITED"));
  // The log says why, once (its stderr is the same file).
  const std::string log = Log(cloud_);
  const std::string why = "[error] endpoint " + cloud_ + " could not start";
  EXPECT_THAT(log, HasSubstr(why));
  EXPECT_THAT(log, HasSubstr("missing.key"));
  EXPECT_EQ(log.find("missing.key"), log.rfind("missing.key")) << log;
  RunResult down = Overlay({"down", cfg.string(), "--state-dir", state()});
  EXPECT_EQ(down.exit_code, 0) << down.StderrTail();
  EXPECT_TRUE(ProcessesWith(cfg.string()).empty());
}

TEST_F(LocalLauncherTest, UpNamesTheEndpointThatNeverAnswers) {
  // An "overlay" that runs but never listens.
  const fs::path fake = dir_ / "silent-overlay";
  std::ofstream(fake) << "#!/bin/sh\nwhile :; do sleep 1; done\n";
  fs::permissions(fake, fs::perms::owner_all);
  const fs::path cfg = WriteConfig(
      "address = tcp://127.0.0.1:" + std::to_string(testing::FreePort()) + "\n",
      "address = tcp://127.0.0.1:" + std::to_string(testing::FreePort()) +
          "\noverlay_path = " + fake.string() + "\n");
  RunResult up = Overlay({"up", cfg.string(), "--state-dir", state(), "--timeout", "2"});
  EXPECT_EQ(up.exit_code, 1);
  EXPECT_THAT(up.err.tail, HasSubstr("endpoint '" + cloud_ + "' did not answer a heartbeat at "
                                     "tcp://127.0.0.1:"));
  EXPECT_THAT(up.err.tail, HasSubstr(cloud_ + ".log"));
  EXPECT_THAT(up.out.tail, HasSubstr("NO HEARTBEAT"));
  RunResult down = Overlay({"down", cfg.string(), "--state-dir", state()});
  EXPECT_EQ(down.exit_code, 0) << down.StderrTail();
  EXPECT_THAT(down.out.tail, HasSubstr(cloud_ + ": stopped"));
  EXPECT_THAT(down.out.tail, HasSubstr(fog_ + ": stopped"));
  EXPECT_TRUE(ProcessesWith(cfg.string()).empty());
}

TEST_F(LocalLauncherTest, ConfigErrorsNameTheLine) {
  fs::path cfg = WriteConfig("address = tcp://127.0.0.1:7\nlaunchr = ssh\n",
                             "address = tcp://127.0.0.1:8\nlauncher = sshd\n");
  RunResult r = Overlay({"up", cfg.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err.tail, HasSubstr("cluster.cfg:18: unknown key 'launchr' in [ENDPOINT] (did "
                                    "you mean 'launcher'?)"));
  EXPECT_THAT(r.err.tail, HasSubstr("cluster.cfg:23: launcher 'sshd' is not local, ssh or slurm "
                                    "(did you mean 'ssh'?)"));
  cfg = WriteConfig("address = tcp://127.0.0.1:0\n",
                    "address = tcp://127.0.0.1:8\nlauncher = ssh\npartition = gpu\n");
  r = Overlay({"up", cfg.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err.tail, HasSubstr("cluster.cfg:22: endpoint '" + cloud_ +
                                    "': launcher = ssh needs host"));
  EXPECT_THAT(r.err.tail, HasSubstr("cluster.cfg:23: endpoint '" + cloud_ +
                                    "': partition applies to launcher = slurm, not ssh"));
  cfg = WriteConfig("address = tcp://127.0.0.1:0\n", "address = tcp://127.0.0.1:8\n");
  r = Overlay({"up", cfg.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err.tail, HasSubstr("cluster.cfg:17: endpoint '" + fog_ +
                                    "': `overlay up` needs a fixed port"));
}

}  // namespace
}  // namespace overlay
