// SPDX-License-Identifier: Apache-2.0
// `overlay up/status/down` with launcher = ssh: OpenSSH servers in the fog
// and cloud network namespaces of scripts/netns-3node.sh (host and user keys
// made here), `overlay` run in the edge namespace. Needs root, iproute2 and
// OpenSSH (server and client); skipped otherwise.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <thread>

#include "cluster/cluster_fixture.h"
#include "multihost/netns_daemon.h"

namespace overlay {
namespace {

namespace fs = std::filesystem;

using ::testing::HasSubstr;
using testing::ProcessesWith;
using testing::ReadFile;
using testing::Tree;

constexpr char kSshd[] = "/usr/sbin/sshd";
const char* const kNodes[] = {"fog", "cloud"};

class SshLauncherTest : public testing::ClusterFixture {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to make network namespaces";
    const char* path = std::getenv("PATH");
    const std::string search = std::string(path ? path : "") + ":/usr/sbin:/sbin";
    auto ip = ResolveProgram("ip", search);
    if (!ip.ok()) GTEST_SKIP() << "needs iproute2 (ip): " << ip.status().ToString();
    if (::access(kSshd, X_OK) != 0) GTEST_SKIP() << "needs the OpenSSH server (" << kSshd << ")";
    for (const char* tool : {"ssh", "ssh-keygen"})
      if (!ResolveProgram(tool, search).ok()) GTEST_SKIP() << "needs the OpenSSH client: " << tool;
    ip_ = *ip;
    ClusterFixture::SetUp();
    prefix_ = "ovs" + tag_;
    ASSERT_TRUE(Run({"bash", std::string(OVERLAY_SOURCE_DIR) + "/scripts/netns-3node.sh", "up",
                     prefix_}));
    up_ = true;
    for (const char* key : {"host_key", "id_ed25519"})
      ASSERT_TRUE(Run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "overlay-test", "-f",
                       (dir_ / key).string()}));
    fs::copy_file(dir_ / "id_ed25519.pub", dir_ / "authorized_keys");
    const std::string host_pub = ReadFile(dir_ / "host_key.pub");
    std::ofstream(dir_ / "known_hosts") << "10.77.0.2 " << host_pub << "10.77.0.3 " << host_pub;
    std::ofstream(dir_ / "ssh_config") << "Host *\n  IdentityFile " << (dir_ / "id_ed25519").string()
                                       << "\n  IdentitiesOnly yes\n  UserKnownHostsFile "
                                       << (dir_ / "known_hosts").string()
                                       << "\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n";
    // The launcher runs `ssh` from PATH: this one reads the test's ssh_config.
    fs::create_directories(dir_ / "bin");
    const fs::path wrapper = dir_ / "bin" / "ssh";
    std::ofstream(wrapper) << "#!/bin/sh\nexec /usr/bin/ssh -F " << (dir_ / "ssh_config").string()
                           << " \"$@\"\n";
    fs::permissions(wrapper, fs::perms::owner_all);
    env_ = {{"PATH", (dir_ / "bin").string() + ":" + search}};
    // sshd's privilege separation folder, made by its service otherwise.
    ::mkdir("/run/sshd", 0755);
    for (const char* node : kNodes) {
      const std::string conf = (dir_ / (std::string("sshd-") + node + ".conf")).string();
      std::ofstream(conf) << "ListenAddress " << Address(node) << "\nPort 22\nHostKey "
                          << (dir_ / "host_key").string() << "\nAuthorizedKeysFile "
                          << (dir_ / "authorized_keys").string()
                          << "\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                             "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
                             "PidFile none\n";
      auto d = std::make_unique<testing::NetnsDaemon>(
          ip_, prefix_ + "-" + node, std::vector<std::string>{kSshd, "-D", "-e", "-f", conf},
          (dir_ / (std::string("sshd-") + node + ".log")).string());
      Status s = d->Start("Server listening", std::chrono::seconds(10));
      ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << ReadFile(d->log());
      sshd_.push_back(std::move(d));
    }
  }

  void TearDown() override {
    if (!dir_.empty())
      for (pid_t pid : ProcessesWith(dir_.string())) ::kill(pid, SIGKILL);
    sshd_.clear();
    if (up_)
      (void)Run({"bash", std::string(OVERLAY_SOURCE_DIR) + "/scripts/netns-3node.sh", "down",
                 prefix_});
    if (!dir_.empty()) ClusterFixture::TearDown();
  }

  static std::string Address(const std::string& node) {
    return node == "fog" ? "10.77.0.2" : "10.77.0.3";
  }

  bool Run(const std::vector<std::string>& argv) {
    RunOptions o;
    o.argv = argv;
    o.timeout_ms = 30000;
    auto r = RunProcess(o);
    EXPECT_TRUE(r.ok() && r->success())
        << argv[0] << ": " << (r.ok() ? r->Describe() + "\n" + r->StderrTail() : r.status().ToString());
    return r.ok() && r->success();
  }

  std::vector<std::string> Edge() const { return {ip_, "netns", "exec", prefix_ + "-edge"}; }

  std::string ip_, prefix_;
  bool up_ = false;
  std::vector<std::unique_ptr<testing::NetnsDaemon>> sshd_;
};

TEST_F(SshLauncherTest, UpStatusKillDown) {
  const std::string overlay = std::string(OVERLAY_BINARY_DIR) + "/core/overlay";
  const fs::path cfg = WriteConfig(
      "address = tcp://10.77.0.2:7201\nworkers = 1\nhost = root@10.77.0.2\noverlay_path = " +
          overlay + "\n",
      "address = tcp://10.77.0.3:7202\nworkers = 1\nlauncher = ssh\nhost = root@10.77.0.3\n"
      "overlay_path = " + overlay + "\n");
  const std::string state = (dir_ / "state").string();
  RunResult up = Overlay({"up", cfg.string(), "--state-dir", state, "--timeout", "30"}, Edge());
  ASSERT_EQ(up.exit_code, 0) << up.out.tail << up.StderrTail();
  EXPECT_THAT(up.out.tail, HasSubstr("root@10.77.0.2"));
  EXPECT_THAT(up.err.tail, HasSubstr("(on root@10.77.0.3)"));

  int rc = -1;
  nlohmann::json st = StatusJson(cfg, &rc, Edge());
  EXPECT_EQ(rc, 0) << st.dump();
  for (const std::string& name : {fog_, cloud_}) {
    const nlohmann::json* e = Find(st, name);
    ASSERT_NE(e, nullptr);
    EXPECT_TRUE((*e)["up"].get<bool>()) << e->dump();
    EXPECT_EQ((*e)["launcher"], "ssh");
  }

  // A run from the edge equals the all-local run.
  RunResult remote = Overlay({"run", cfg.string(), "-q", "--out", "out-remote", "--segment",
                              "overlay-client-" + tag_, "--data-address", "tcp://10.77.0.1:0"},
                             Edge());
  ASSERT_EQ(remote.exit_code, 0) << remote.StderrTail();
  RunResult local = Overlay({"run", cfg.string(), "-q", "--local", "--out", "out-local",
                             "--segment", "overlay-local-" + tag_});
  ASSERT_EQ(local.exit_code, 0) << local.StderrTail();
  EXPECT_FALSE(Tree(dir_ / "out-local").empty());
  EXPECT_EQ(Tree(dir_ / "out-remote"), Tree(dir_ / "out-local"));

  // The cloud's daemon killed: status says it is down.
  const pid_t cloud_pid = PidOf(cloud_);
  ASSERT_GT(cloud_pid, 0);
  ASSERT_EQ(::kill(cloud_pid, SIGKILL), 0);
  for (int i = 0; i < 100 && !ProcessesWith(std::string("--name\0", 7) + cloud_).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  st = StatusJson(cfg, &rc, Edge());
  EXPECT_EQ(rc, 1);
  EXPECT_FALSE((*Find(st, cloud_))["up"].get<bool>());
  EXPECT_TRUE((*Find(st, fog_))["up"].get<bool>());

  RunResult down = Overlay({"down", cfg.string(), "--state-dir", state}, Edge());
  EXPECT_EQ(down.exit_code, 0) << down.StderrTail();
  EXPECT_THAT(down.out.tail, HasSubstr(fog_ + ": stopped"));
  EXPECT_THAT(down.out.tail, HasSubstr(cloud_ + ": not running"));
  EXPECT_TRUE(ProcessesWith(cfg.string()).empty());
}

}  // namespace
}  // namespace overlay
