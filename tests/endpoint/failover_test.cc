// SPDX-License-Identifier: Apache-2.0
// Failover: an endpoint killed for good hands its stages to its fallback (another
// endpoint daemon, or the client itself); stateful streams are rebuilt there by
// replay, so every item's outputs still equal the uninterrupted local run.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "endpoint_fixtures.h"
#include "overlay/function_manager.h"
#include "overlay/process_runner.h"
#include "overlay/remote_function.h"

namespace overlay {
namespace {

using namespace std::chrono_literals;
using namespace endpoint_test;

TEST(FunctionManagerLost, SilentEndpointIsGivenUpAfterLostAfter) {
  auto silent = transport::Listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(silent.ok());
  FunctionManagerOptions o;
  o.heartbeat_interval = 50ms;
  auto fm = FunctionManager::Create(o);
  ASSERT_TRUE(fm.ok());
  TaskSpec t{(*silent)->address(), "qrs"};
  t.lost_after = 300ms;
  const auto start = std::chrono::steady_clock::now();
  TaskOutcome got = (*fm)->Call(t);
  EXPECT_TRUE(got.status.IsUnavailable()) << got.status.ToString();
  EXPECT_NE(got.status.message().find("is lost"), std::string_view::npos) << got.status.ToString();
  // Well before the 30 s attempt timeout (times 4 attempts) it would wait otherwise.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

// A QRS stream through a RemoteFunction whose first target is killed for good
// once `kill_at` items have run (during that item when `during`).
class Failover : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(primary_.Start());
    ASSERT_TRUE(store_.ok());
    auto fm = FunctionManager::Create(KillTestOptions(&store_));
    ASSERT_TRUE(fm.ok()) << fm.status().ToString();
    fm_ = std::move(*fm);
  }

  void RunStream(std::vector<RemoteTarget> targets, bool during) {
    std::vector<std::string> notices;
    std::mutex mu;
    RemoteFunction remote(fm_.get(), &store_, std::move(targets), "qrs", "qrs",
                          [&](const std::string& n) {
                            std::lock_guard lock(mu);
                            notices.push_back(n);
                          });
    const std::string stream = "ward/failover";
    std::vector<NamedBlob> chunks = Chunks(stream);
    ASSERT_GT(chunks.size(), 8u);
    auto want = LocalQrs(stream, chunks);
    const size_t kill_at = chunks.size() / 2;
    for (size_t i = 0; i <= chunks.size(); ++i) {
      Task t = StreamItem(stream, chunks, i);
      Status s;
      if (i == kill_at && during) {
        s = RunItemWhileKilled(remote, t, primary_, false);
      } else {
        if (i == kill_at) {
          ASSERT_TRUE(WIFSIGNALED(primary_.Signal(SIGKILL)));
        }
        s = RunItem(remote, t);
      }
      ASSERT_NO_FATAL_FAILURE(ExpectItemLikeLocal(s, t, want[i], i));
    }
    ASSERT_EQ(notices.size(), 1u);
    EXPECT_NE(notices[0].find("endpoint 'fog' lost"), std::string::npos) << notices[0];
  }

  RemoteTarget Primary() {
    return RemoteTarget{"fog", primary_.address(), nullptr, std::chrono::milliseconds(500)};
  }

  ChildEndpoint primary_{Unique("fog"), "tcp://127.0.0.1:" + std::to_string(FreePort())};
  ClientStore store_{Unique("failover-client")};
  std::unique_ptr<FunctionManager> fm_;
};

TEST_F(Failover, StatefulStreamMovesToFallbackEndpointBetweenItems) {
  ChildEndpoint cloud(Unique("cloud"), "tcp://127.0.0.1:" + std::to_string(FreePort()));
  ASSERT_TRUE(cloud.Start());
  RunStream({Primary(), RemoteTarget{"cloud", cloud.address()}}, false);
}

TEST_F(Failover, StatefulStreamMovesToFallbackEndpointDuringAnItem) {
  ChildEndpoint cloud(Unique("cloud"), "tcp://127.0.0.1:" + std::to_string(FreePort()));
  ASSERT_TRUE(cloud.Start());
  RunStream({Primary(), RemoteTarget{"cloud", cloud.address()}}, true);
}

TEST_F(Failover, StatefulStreamMovesToTheClientItself) {
  auto local = MakeFunction(FunctionSpec{"qrs", "qrs_detector", "", {}});
  ASSERT_TRUE(local.ok());
  RunStream({Primary(), RemoteTarget{"edge", "", std::move(*local)}}, true);
}

// `overlay run` whose remote stage's endpoint is down from the start: after
// fallback_after the stage runs in the client, and the results equal a local run.
TEST(FailoverCli, DeadEndpointFallsBackToTheClient) {
  const auto dir = std::filesystem::temp_directory_path() / Unique("failover-cli");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "in");
  std::ofstream(dir / "in" / "p1.txt") << kPatient;
  const std::string stages =
      "[FUNCTION]\nname = sim\nbuiltin = sensor_simulator\nargs = 1000\n[END]\n"
      "[FUNCTION]\nname = qrs\nbuiltin = qrs_detector\n[END]\n"
      "[STAGE]\nname = sensor\nsource = " +
      (dir / "in").string() +
      "\ntransformation = sim\n[END]\n"
      "[STAGE]\nname = detect\nsource = sensor\ntransformation = qrs\n";
  const std::string segment = Unique("failover-cli-client");
  std::ofstream(dir / "local.cfg") << stages << "[END]\n";
  std::ofstream(dir / "fog.cfg") << stages << "endpoint = fog\n[END]\n"
                                 << "[ENDPOINT]\nname = fog\naddress = tcp://127.0.0.1:"
                                 << FreePort() << "\nfallback = edge\nfallback_after = 500ms\n"
                                 << "[END]\n[ENDPOINT]\nname = edge\n[END]\n";
  auto run = [&](const std::string& cfg, const std::string& out) {
    RunOptions o;
    o.argv = {std::string(OVERLAY_BINARY_DIR) + "/core/overlay",
              "run",
              (dir / cfg).string(),
              "--out",
              (dir / out).string(),
              "-q",
              "--rerun",  // the fog run must run, not reuse the local run's results
              "--segment",
              segment};
    o.timeout_ms = 60000;
    auto r = RunProcess(o);
    (void)storage::ShmCache::Remove(segment);
    return r;
  };
  auto local = run("local.cfg", "local");
  ASSERT_TRUE(local.ok() && local->success()) << (local.ok() ? local->Describe() : "");
  auto fog = run("fog.cfg", "fog");
  ASSERT_TRUE(fog.ok()) << fog.status().ToString();
  EXPECT_TRUE(fog->success()) << fog->Describe() << "\n" << fog->StderrTail();
  EXPECT_NE(fog->StderrTail().find("endpoint 'fog' lost"), std::string::npos)
      << fog->StderrTail();
  auto want = Tree(dir / "local");
  ASSERT_GT(want.size(), 2u);
  EXPECT_EQ(Tree(dir / "fog"), want);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace overlay
