// SPDX-License-Identifier: Apache-2.0
// Shared by the `overlay up/down/status` tests: a scratch folder, a
// two-endpoint ECG config, the `overlay` binary run (optionally through a
// wrapper such as `ip netns exec`), and a look at /proc for what is left.
#ifndef OVERLAY_TESTS_CLUSTER_CLUSTER_FIXTURE_H_
#define OVERLAY_TESTS_CLUSTER_CLUSTER_FIXTURE_H_

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "overlay/process_runner.h"

namespace overlay::testing {

namespace fs = std::filesystem;

// A TCP port free on 127.0.0.1 right now.
inline int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

inline std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Result files under `dir` by relative path (not the manifest, which names times).
inline std::map<std::string, std::string> Tree(const fs::path& dir) {
  std::map<std::string, std::string> files;
  if (!fs::exists(dir)) return files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != "manifest.json")
      files[fs::relative(e.path(), dir).string()] = ReadFile(e.path());
  return files;
}

// Pids of processes whose command line holds `word` (e.g. the config path).
inline std::vector<pid_t> ProcessesWith(const std::string& word) {
  std::vector<pid_t> pids;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = ReadFile(e.path() / "cmdline");
    if (cmd.find(word) != std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

class ClusterFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("overlay-cluster-" + tag_ + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "in");
    // Three short synthetic patients.
    for (int i = 0; i < 3; ++i)
      std::ofstream(dir_ / "in" / ("p" + std::to_string(i) + ".ecg"))
          << "# overlay-synthetic-ecg\nduration_s = 12\nhr_bpm = " << 60 + 10 * i
          << "\nseed = " << i + 1 << "\nnoise_mv = 0.02\n";
  }
  void TearDown() override {
    for (const auto& n : {fog_, cloud_, std::string("client-") + tag_, std::string("local-") + tag_})
      fs::remove(fs::path("/dev/shm") / ("overlay-" + n));
    fs::remove_all(dir_);
  }

  // The ECG pipeline: sensor in the client, QRS on fog_, drawing on cloud_;
  // `endpoint_keys` go into each ENDPOINT block (by name), `storage` into STORAGE.
  fs::path WriteConfig(const std::string& fog_keys, const std::string& cloud_keys,
                       const std::string& storage = "memory = 64MiB\ndisk = none\n") {
    const fs::path cfg = dir_ / "cluster.cfg";
    std::ofstream(cfg) << "[FUNCTION]\nname = sensor\nbuiltin = sensor_simulator\nargs = 1000\n"
                          "[END]\n[FUNCTION]\nname = qrs\nbuiltin = qrs_detector\n[END]\n"
                          "[FUNCTION]\nname = draw\nbuiltin = ecg_visualizer\nargs = 60\n[END]\n"
                          "[ENDPOINT]\nname = " << fog_ << "\n" << fog_keys << "[END]\n"
                          "[ENDPOINT]\nname = " << cloud_ << "\n" << cloud_keys << "[END]\n"
                          "[STAGE]\nname = stage1\nsource = in\ntransformation = sensor\n[END]\n"
                          "[STAGE]\nname = stage2\nsource = stage1\ntransformation = qrs\n"
                          "endpoint = " << fog_ << "\n[END]\n"
                          "[STAGE]\nname = stage3\nsource = stage1, stage2\ntransformation = draw\n"
                          "endpoint = " << cloud_ << "\n[END]\n"
                          "[STORAGE]\n" << storage << "[END]\n";
    return cfg;
  }

  // `overlay args...`, behind `prefix` (e.g. {"ip", "netns", "exec", NS}).
  RunResult Overlay(std::vector<std::string> args, const std::vector<std::string>& prefix = {},
                    int64_t timeout_ms = 120'000) {
    RunOptions opt;
    opt.argv = prefix;
    opt.argv.push_back(std::string(OVERLAY_BINARY_DIR) + "/core/overlay");
    opt.argv.insert(opt.argv.end(), args.begin(), args.end());
    opt.cwd = dir_.string();
    opt.timeout_ms = timeout_ms;
    opt.env = env_;
    auto r = RunProcess(opt);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RunResult{};
  }

  // `overlay status CFG --json`, parsed; its exit code in *exit_code.
  nlohmann::json StatusJson(const fs::path& cfg, int* exit_code,
                        const std::vector<std::string>& prefix = {}) {
    RunResult r = Overlay({"status", cfg.string(), "--json"}, prefix);
    *exit_code = r.exit_code;
    auto j = nlohmann::json::parse(r.out.tail, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out.tail << r.StderrTail();
    return j;
  }

  static const nlohmann::json* Find(const nlohmann::json& status, const std::string& name) {
    for (const auto& e : status["endpoints"])
      if (e["name"] == name) return &e;
    return nullptr;
  }

  // The pid in the state folder's NAME.pid (up writes it), or 0.
  pid_t PidOf(const std::string& name) {
    if (!fs::exists(dir_ / "state")) return 0;
    for (const auto& e : fs::recursive_directory_iterator(dir_ / "state"))
      if (e.path().filename() == name + ".pid") return std::stoi(ReadFile(e.path()));
    return 0;
  }

  std::string tag_ = std::to_string(::getpid());
  fs::path dir_;
  std::string fog_ = "fog-" + tag_;
  std::string cloud_ = "cloud-" + tag_;
  std::vector<std::pair<std::string, std::string>> env_;
};

}  // namespace overlay::testing

#endif  // OVERLAY_TESTS_CLUSTER_CLUSTER_FIXTURE_H_
