// SPDX-License-Identifier: Apache-2.0
// configs/ecg-3node.cfg on three network namespaces (edge, fog, cloud; made
// by scripts/netns-3node.sh): `overlay endpoint` daemons in fog and cloud,
// nginx as the CDN origin in cloud, `overlay run` in edge. The results must
// equal those of `overlay run --local` of the same config, also when the fog
// daemon is killed mid-run and restarted, and once killed for good (its stage
// moves to the cloud). Needs root, iproute2 and nginx.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "multihost/netns_daemon.h"
#include "overlay/process_runner.h"
#include "overlay/storage/cdn_tier.h"
#include "overlay/object_key.h"
#include "overlay/storage/shm_cache.h"
#include "storage/nginx_server.h"

namespace overlay {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using storage::testing::InNetworkNamespace;
using storage::testing::NginxServer;
using testing::NetnsDaemon;

// The addresses of configs/ecg-3node.cfg.
constexpr char kEdgeData[] = "tcp://10.77.0.1:0";
constexpr char kFogHost[] = "10.77.0.2";
constexpr char kCloudHost[] = "10.77.0.3";
constexpr int kCdnPort = 8080;

constexpr auto kRunTimeout = 40s;  // one `overlay run`
constexpr auto kStartWait = 10s;   // a daemon's start-up

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every result file under `dir`, by relative path (not the run's manifest,
// which names its own paths and times).
std::map<std::string, std::string> Tree(const fs::path& dir) {
  std::map<std::string, std::string> files;
  if (!fs::exists(dir)) return files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != "manifest.json")
      files[fs::relative(e.path(), dir).string()] = Read(e.path());
  return files;
}

// Files missing from either tree or different in bytes, by name (SVGs are too
// large to print whole).
std::vector<std::string> Differences(const std::map<std::string, std::string>& got,
                                     const std::map<std::string, std::string>& want) {
  std::vector<std::string> names;
  for (const auto& [name, bytes] : want) {
    auto it = got.find(name);
    if (it == got.end())
      names.push_back(name + " (missing)");
    else if (it->second != bytes)
      names.push_back(name + " (differs)");
  }
  for (const auto& [name, bytes] : got)
    if (!want.contains(name)) names.push_back(name + " (extra)");
  return names;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// The counters of a run's summary: streams, tasks ok/failed and the
// function counters ("  beats: 1804"). A result delivered twice counts twice.
std::map<std::string, int64_t> Summary(const std::string& out) {
  std::map<std::string, int64_t> m;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    long long streams = 0, ok = 0, failed = 0, value = 0;
    char name[64];
    if (std::sscanf(line.c_str(), "%lld streams, %lld tasks ok, %lld failed", &streams, &ok,
                    &failed) == 3) {
      m["streams"] = streams;
      m["tasks ok"] = ok;
      m["tasks failed"] = failed;
    } else if (line.starts_with("  ") && line[2] != ' ' &&
               std::sscanf(line.c_str(), " %63[a-z_]: %lld", name, &value) == 2) {
      m[name] = value;
    }
  }
  return m;
}

// The config text with its STORAGE disk replaced by `disk` and, when given,
// `segment` added: every node's L1 and L2 its own, though they share a machine.
std::string NodeConfig(const std::string& text, const std::string& disk,
                       const std::string& segment) {
  std::istringstream in(text);
  std::string out;
  bool storage = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "[STORAGE]") storage = true;
    if (storage && line.starts_with("disk ")) line = "disk = " + disk;
    if (storage && line == "[END]") {
      if (!segment.empty()) out += "segment = " + segment + "\n";
      storage = false;
    }
    out += line + "\n";
  }
  return out;
}

// Lines of nginx's access log for PUTs from `host`: objects that node stored.
int PutsFrom(const std::string& access_log, const std::string& host) {
  std::ifstream in(access_log);
  int n = 0;
  for (std::string line; std::getline(in, line);)
    n += line.starts_with(host + " ") && line.find("\"PUT ") != std::string::npos;
  return n;
}

class ThreeNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to make network namespaces";
    const char* path = std::getenv("PATH");
    auto ip = ResolveProgram("ip", std::string(path ? path : "") + ":/usr/sbin:/sbin");
    if (!ip.ok()) GTEST_SKIP() << "needs iproute2 (ip): " << ip.status().ToString();
    if (NginxServer::Binary().empty()) GTEST_SKIP() << "needs nginx for the cloud's CDN origin";
    ip_ = *ip;
    RemoveStaleNamespaces();
    tag_ = "ovt" + std::to_string(getpid());
    dir_ = fs::temp_directory_path() /
           ("overlay-3node-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    for (const char* sub : {"in", "out", "disk", "logs"}) fs::create_directories(dir_ / sub);

    RunResult up = Script("up", tag_);
    ASSERT_TRUE(up.success()) << up.Describe() << "\n" << up.StderrTail();
    up_ = true;

    const std::string cfg = Read(fs::path(OVERLAY_SOURCE_DIR) / "configs/ecg-3node.cfg");
    ASSERT_NE(cfg.find("address = tcp://10.77.0.2:7001"), std::string::npos);
    for (const char* node : {"edge", "fog", "cloud", "local"}) {
      const bool daemon = std::string(node) == "fog" || std::string(node) == "cloud";
      std::ofstream(Config(node)) << NodeConfig(cfg, (dir_ / "disk" / node).string(),
                                                daemon ? Segment(node) : "");
    }
    // Four synthetic patients, 2 minutes each: 176 fog tasks per run.
    for (int i = 1; i <= 4; ++i)
      std::ofstream(dir_ / "in" / ("p" + std::to_string(i) + ".ecg"))
          << "# overlay-synthetic-ecg\nduration_s = 120\nhr_bpm = " << 60 + 10 * i
          << "\nseed = " << i << "\nnoise_mv = 0.03\n";

    storage::testing::NginxOptions web;
    web.host = kCloudHost;
    web.port = kCdnPort;
    web.netns = Netns("cloud");
    web.access_log = true;
    fs::create_directories(dir_ / "nginx");
    auto nginx = NginxServer::Start((dir_ / "nginx").string(), web);
    ASSERT_TRUE(nginx.ok()) << nginx.status().ToString();
    nginx_ = std::move(*nginx);

    fog_ = Daemon("fog");
    cloud_ = Daemon("cloud");
    Status fog = fog_->Start("listening on", kStartWait);
    ASSERT_TRUE(fog.ok()) << fog.ToString() << "\n" << Read(fog_->log());
    Status cloud = cloud_->Start("listening on", kStartWait);
    ASSERT_TRUE(cloud.ok()) << cloud.ToString() << "\n" << Read(cloud_->log());
  }

  void TearDown() override {
    fog_.reset();
    cloud_.reset();
    nginx_.reset();
    if (up_) {
      RunResult down = Script("down", tag_);
      EXPECT_TRUE(down.success()) << down.Describe() << "\n" << down.StderrTail();
    }
    for (const char* node : {"edge", "fog", "cloud", "local"})
      (void)storage::ShmCache::Remove(Segment(node));
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Namespaces of test processes that died before their TearDown (ovt<pid>-*).
  void RemoveStaleNamespaces() {
    std::set<std::string> stale;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/run/netns", ec)) {
      const std::string name = e.path().filename().string();
      int pid = 0, end = 0;
      if (std::sscanf(name.c_str(), "ovt%d-%n", &pid, &end) == 1 && end > 0 && pid > 0 &&
          kill(pid, 0) != 0 && errno == ESRCH)
        stale.insert(name.substr(0, end - 1));
    }
    for (const std::string& tag : stale) (void)Script("down", tag);
  }

  std::string Netns(const std::string& node) const { return tag_ + "-" + node; }
  std::string Segment(const std::string& node) const { return tag_ + "-" + node; }
  std::string Config(const std::string& node) const { return (dir_ / (node + ".cfg")).string(); }
  std::string AccessLog() const { return (dir_ / "nginx/logs/access.log").string(); }

  RunResult Script(const std::string& mode, const std::string& tag) {
    RunOptions o;
    o.argv = {"bash", std::string(OVERLAY_SOURCE_DIR) + "/scripts/netns-3node.sh", mode, tag};
    o.timeout_ms = 20000;
    auto r = RunProcess(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RunResult{};
  }

  std::unique_ptr<NetnsDaemon> Daemon(const std::string& node) {
    std::vector<std::string> argv = {std::string(OVERLAY_BINARY_DIR) + "/core/overlay",
                                     "endpoint",
                                     "--config",
                                     Config(node),
                                     "--name",
                                     "endpoint_" + node,
                                     "--log",
                                     (dir_ / "logs" / (node + ".events.log")).string()};
    return std::make_unique<NetnsDaemon>(ip_, Netns(node), std::move(argv),
                                         (dir_ / "logs" / (node + ".log")).string());
  }

  // `overlay run` of `node`'s config in the edge namespace, results in out/<node>.
  RunResult RunInEdge(const std::string& node, const std::vector<std::string>& flags) {
    RunOptions o;
    o.argv = {ip_,
              "netns",
              "exec",
              Netns("edge"),
              std::string(OVERLAY_BINARY_DIR) + "/core/overlay",
              "run",
              Config(node),
              "-q",
              "--rerun",  // every run runs its stages, even on a segment used before
              "--segment",
              Segment(node),
              "--input",
              (dir_ / "in").string(),
              "--out",
              (dir_ / "out" / node).string()};
    o.argv.insert(o.argv.end(), flags.begin(), flags.end());
    o.timeout_ms = std::chrono::milliseconds(kRunTimeout).count();
    auto r = RunProcess(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RunResult{};
  }

  // Every file of `files` is on the CDN: fetched over HTTP from the cloud
  // namespace through an L3 tier, which checks the bytes against the key.
  void ExpectOnCdn(const std::map<std::string, std::string>& files) {
    std::vector<std::string> missing;
    Status joined = InNetworkNamespace(Netns("cloud"), [&] {
      auto cdn = storage::NewCdnTier({nginx_->base_url(), 2000, 1000});
      if (!cdn.ok()) {
        missing.push_back(cdn.status().ToString());
        return;
      }
      // The cloud pushes its results through a journal: allow it a moment.
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      for (const auto& [name, bytes] : files) {
        const ObjectKey key = ObjectKey::Of(bytes);
        Result<Blob> got = (*cdn)->Get(key);
        while (!got.ok() && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(100ms);
          got = (*cdn)->Get(key);
        }
        if (!got.ok()) missing.push_back(name + ": " + got.status().ToString());
      }
    });
    ASSERT_TRUE(joined.ok()) << joined.ToString();
    EXPECT_TRUE(missing.empty()) << "not on the CDN: " << missing.front();
  }

  // The all-local reference run, compared with the three-node one.
  void ExpectEqualsLocalRun(const RunResult& three) {
    RunResult local = RunInEdge("local", {"--local"});
    ASSERT_TRUE(local.success()) << local.Describe() << "\n" << local.StderrTail();
    auto want = Summary(local.out.tail);
    ASSERT_GT(want["beats"], 0) << local.out.tail;
    EXPECT_EQ(Summary(three.out.tail), want) << "three nodes:\n"
                                             << three.out.tail << "local:\n"
                                             << local.out.tail;
    auto diff = Differences(Tree(dir_ / "out/edge"), Tree(dir_ / "out/local"));
    EXPECT_TRUE(diff.empty()) << "outputs unlike the local run's: " << Join(diff);
    std::printf("three nodes: %s  (%.1f s); local: %lld beats (%.1f s)\n",
                three.out.tail.substr(0, three.out.tail.find('\n')).c_str(),
                three.elapsed_ms / 1000.0, static_cast<long long>(want["beats"]),
                local.elapsed_ms / 1000.0);
  }

  struct KilledRun {
    RunResult run;
    bool mid_run = false;  // the fog was killed before the run ended
    int fog_puts = 0;      // results the fog had stored on the CDN by then
  };

  // The three-node run, with the fog daemon killed (kill -9) once it has
  // stored 20 results; `after_kill` runs right after the kill.
  KilledRun RunKillingFog(const std::function<void()>& after_kill) {
    KilledRun k;
    std::atomic<bool> finished{false};
    std::thread run([&] {
      k.run = RunInEdge("edge", {"--data-address", kEdgeData});
      finished = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + kRunTimeout;
    while (!finished && PutsFrom(AccessLog(), kFogHost) < 20 &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    k.fog_puts = PutsFrom(AccessLog(), kFogHost);
    k.mid_run = !finished;
    if (k.mid_run) {
      int status = fog_->Signal(SIGKILL);
      EXPECT_TRUE(WIFSIGNALED(status)) << "wait status " << status;
      after_kill();
    }
    run.join();
    return k;
  }

  std::string ip_, tag_;
  fs::path dir_;
  bool up_ = false;
  std::unique_ptr<NginxServer> nginx_;
  std::unique_ptr<NetnsDaemon> fog_, cloud_;
};

TEST_F(ThreeNodes, EdgeFogCloudRunEqualsLocalRun) {
  RunResult three = RunInEdge("edge", {"--data-address", kEdgeData});
  ASSERT_TRUE(three.success()) << three.Describe() << "\n" << three.StderrTail();
  auto results = Tree(dir_ / "out/edge");
  ASSERT_EQ(results.size(), 4u) << three.out.tail;
  // The fog and the cloud stored objects of their own (their results).
  EXPECT_GT(PutsFrom(AccessLog(), kFogHost), 0);
  EXPECT_GT(PutsFrom(AccessLog(), kCloudHost), 0);
  ExpectOnCdn(results);
  ExpectEqualsLocalRun(three);
}

// The detector's per-stream state dies with the fog daemon: the manager
// notices the restart by heartbeat and replays each stream's earlier items to
// the new daemon, so the results still equal the all-local run, each once.
TEST_F(ThreeNodes, FogKilledMidRunAndRestartedEveryResultOnce) {
  Status restarted;
  KilledRun k = RunKillingFog([&] { restarted = fog_->Start("listening on", kStartWait); });
  std::printf("fog killed after %d of its PUTs reached the CDN\n", k.fog_puts);
  ASSERT_TRUE(k.mid_run) << "the run ended before the fog was killed";
  ASSERT_TRUE(restarted.ok()) << restarted.ToString() << "\n" << Read(fog_->log());
  EXPECT_GE(k.fog_puts, 20) << "killed before the fog had stored results";
  // Compared with the local run even when items failed, to show what differs.
  EXPECT_TRUE(k.run.success()) << k.run.Describe() << "\n" << k.run.StderrTail();
  auto results = Tree(dir_ / "out/edge");
  EXPECT_EQ(results.size(), 4u) << k.run.out.tail;
  ExpectOnCdn(results);
  ExpectEqualsLocalRun(k.run);
}

// Killed for good, the fog is given up after its fallback_after and its
// stage moves to the cloud, where each stream's state is rebuilt by replay:
// the results still equal the all-local run.
TEST_F(ThreeNodes, FogKilledForGoodItsStageMovesToTheCloud) {
  KilledRun k = RunKillingFog([] {});
  ASSERT_TRUE(k.mid_run) << "the run ended before the fog was killed";
  EXPECT_TRUE(k.run.success()) << k.run.Describe() << "\n" << k.run.StderrTail();
  EXPECT_NE(k.run.StderrTail().find("endpoint 'endpoint_fog' lost"), std::string::npos)
      << k.run.StderrTail();
  EXPECT_EQ(Tree(dir_ / "out/edge").size(), 4u) << k.run.out.tail;
  ExpectEqualsLocalRun(k.run);
}

}  // namespace
}  // namespace overlay
