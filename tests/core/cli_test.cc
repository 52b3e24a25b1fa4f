// SPDX-License-Identifier: Apache-2.0
// The `overlay` binary end to end, run as a user would (execve, no shell).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "overlay/process_runner.h"
#include "overlay/storage_options.h"

namespace overlay {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

RunResult Overlay(std::vector<std::string> args) {
  overlay::RunOptions opt;
  opt.argv = {std::string(OVERLAY_BINARY_DIR) + "/core/overlay"};
  opt.argv.insert(opt.argv.end(), args.begin(), args.end());
  opt.cwd = OVERLAY_SOURCE_DIR;  // the seed's commands use repository-relative paths
  opt.timeout_ms = 240'000;
  auto r = RunProcess(opt);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : RunResult{};
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("overlay-cli-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "in");
  }
  void TearDown() override {
    fs::remove_all(dir_);
    fs::remove(fs::path("/dev/shm") / segment_);
    fs::remove_all(DefaultDiskDir(segment_));
  }
  void Write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }
  std::string Read(const fs::path& p) {
    std::ifstream f(p);
    return std::string((std::istreambuf_iterator<char>(f)), {});
  }
  void WritePatient(const std::string& name, int seconds, int hr, int seed) {
    Write(dir_ / "in" / name, "# overlay-synthetic-ecg\nduration_s = " + std::to_string(seconds) +
                                  "\nhr_bpm = " + std::to_string(hr) +
                                  "\nseed = " + std::to_string(seed) + "\nnoise_mv = 0.02\n");
  }
  // Beat sample indices of every beats file under `dir`, per stream, sorted.
  std::map<std::string, std::vector<long>> Beats(const fs::path& dir) {
    std::map<std::string, std::vector<long>> out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (!e.path().string().ends_with(".beats.csv")) continue;
      std::ifstream f(e.path());
      std::string line;
      while (std::getline(f, line))
        if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0])))
          out[e.path().parent_path().filename()].push_back(std::stol(line));
    }
    for (auto& [k, v] : out) std::sort(v.begin(), v.end());
    return out;
  }
  fs::path dir_;
  // Each test's own data container, so tests never touch a user's segment.
  std::string segment_ = "overlay-cli-test-" + std::to_string(::getpid());
};

TEST_F(CliTest, HelpListsSubcommands) {
  RunResult r = Overlay({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* word : {"validate", "run", "functions"}) EXPECT_THAT(r.out.tail, HasSubstr(word));
}

TEST_F(CliTest, UnknownSubcommandIsAUsageError) {
  RunResult r = Overlay({"rnu"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(CliTest, ValidatePrintsTheDag) {
  RunResult r = Overlay({"validate", "configs/ecg.cfg"});
  EXPECT_EQ(r.exit_code, 0) << r.err.tail;
  EXPECT_THAT(r.out.tail, HasSubstr("OK: 3 functions, 2 endpoints, 3 stages"));
  EXPECT_THAT(r.out.tail, HasSubstr("stage1 -> stage2 [qrsdetector: builtin qrs_detector]"));
  EXPECT_THAT(r.out.tail, HasSubstr("stage1 + stage2 -> stage3"));
}

TEST_F(CliTest, ValidateReportsTheSeedTypo) {
  std::string text = Read(fs::path(OVERLAY_SOURCE_DIR) / "configs/ecg-seed.cfg");
  text.replace(text.find("name = qrsdetector"), 18, "name = grsdetector");
  fs::path cfg = dir_ / "seed.cfg";
  Write(cfg, text);
  fs::create_directories(dir_ / "data");
  RunResult r = Overlay({"validate", cfg.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err.tail, ::testing::ContainsRegex(
                              "seed.cfg:[0-9]+: stage 'stage2': unknown function 'qrsdetector' "
                              "\\(did you mean 'grsdetector'\\?\\)"));
}

TEST_F(CliTest, FunctionsListsBuiltins) {
  RunResult r = Overlay({"functions"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* fn : {"sensor_simulator", "qrs_detector", "ecg_visualizer"})
    EXPECT_THAT(r.out.tail, HasSubstr(fn));
}

TEST_F(CliTest, KeygenPrintsACurvePair) {
  RunResult r = Overlay({"keygen"});
  EXPECT_EQ(r.exit_code, 0) << r.err.tail;
  EXPECT_THAT(r.out.tail, ::testing::MatchesRegex("curve_public = \\S{40}\n#[^\n]*\n\\S{40}\n"));
}

// -o: the secret alone in a new file only its owner reads; stdout is the
// public key; an existing key file is never overwritten.
TEST_F(CliTest, KeygenWritesThePrivateKeyFile) {
  const fs::path key = dir_ / "endpoint.key";
  RunResult r = Overlay({"keygen", "-o", key.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err.tail;
  EXPECT_THAT(r.out.tail, ::testing::MatchesRegex("\\S{40}\n"));
  EXPECT_THAT(Read(key), ::testing::MatchesRegex("\\S{40}\n"));
  EXPECT_NE(Read(key), r.out.tail);
  EXPECT_EQ(fs::status(key).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  const std::string secret = Read(key);
  RunResult again = Overlay({"keygen", "-o", key.string()});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_EQ(Read(key), secret);
}

// A bad file fails its own item; the other streams produce beats and SVGs.
TEST_F(CliTest, RunIsolatesABadFileAndDrawsTheRest) {
  WritePatient("p1.ecg", 30, 70, 1);
  WritePatient("p2.ecg", 30, 95, 2);
  Write(dir_ / "in" / "broken.ecg", "0.1\n0.2\nnot-a-number\n0.3\n");
  RunResult r = Overlay({"run", "configs/ecg.cfg", "--input", (dir_ / "in").string(), "--out",
                         (dir_ / "out").string(), "--segment", segment_});
  EXPECT_EQ(r.exit_code, 1) << r.err.tail;
  EXPECT_THAT(r.err.tail, HasSubstr("FAILED stage stage1 stream broken item broken.ecg"));
  EXPECT_THAT(r.err.tail, HasSubstr("line 3"));
  EXPECT_THAT(r.out.tail, HasSubstr("3 streams"));
  std::smatch m;
  std::string out = r.out.tail;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("beats: ([0-9]+)"))) << out;
  // 30 s at 70 and 95 bpm: about 35 + 47 beats.
  EXPECT_NEAR(std::stoi(m[1]), 35 + 47, 6);
  for (const char* svg : {"out/stage3/p1/p1.svg", "out/stage3/p2/p2.svg"}) {
    ASSERT_TRUE(fs::exists(dir_ / svg)) << svg << "\n" << out;
    EXPECT_THAT(Read(dir_ / svg), HasSubstr("<svg"));
    EXPECT_THAT(out, HasSubstr(svg));
  }
  EXPECT_FALSE(fs::exists(dir_ / "out/stage3/broken"));
  // The results stay in the data container after the run.
  RunResult get = Overlay({"get", "stage3/p2/p2.svg", "--segment", segment_, "-o",
                           (dir_ / "p2.svg").string()});
  ASSERT_EQ(get.exit_code, 0) << get.err.tail;
  EXPECT_EQ(Read(dir_ / "p2.svg"), Read(dir_ / "out/stage3/p2/p2.svg"));
  // Results and inputs are named; intermediates are not (they would fill the
  // catalog run after run).
  RunResult ls = Overlay({"ls", "--segment", segment_});
  EXPECT_THAT(ls.out.tail, HasSubstr("stage3/p1/p1.svg"));
  EXPECT_THAT(ls.out.tail, HasSubstr("input/p2/p2.ecg"));
  EXPECT_THAT(ls.out.tail, Not(HasSubstr("stage2/")));
  RunResult all = Overlay({"run", "configs/ecg.cfg", "--input", (dir_ / "in").string(),
                           "--segment", segment_, "--keep-all", "--quiet"});
  EXPECT_EQ(all.exit_code, 1) << all.err.tail;
  ls = Overlay({"ls", "--segment", segment_});
  EXPECT_THAT(ls.out.tail, HasSubstr("stage2/p1/p1_00000.beats.csv"));
}

TEST_F(CliTest, RunWithoutStoreGivesTheSameResults) {
  WritePatient("p1.ecg", 20, 66, 3);
  RunResult a = Overlay({"run", "configs/ecg.cfg", "--input", (dir_ / "in").string(), "--out",
                         (dir_ / "a").string(), "--segment", segment_, "--keep-all", "-q"});
  RunResult b = Overlay({"run", "configs/ecg.cfg", "--input", (dir_ / "in").string(), "--out",
                         (dir_ / "b").string(), "--no-store", "--keep-all", "-q"});
  ASSERT_EQ(a.exit_code, 0) << a.err.tail;
  ASSERT_EQ(b.exit_code, 0) << b.err.tail;
  EXPECT_EQ(Beats(dir_ / "a"), Beats(dir_ / "b"));
  EXPECT_FALSE(Beats(dir_ / "a").empty());
  EXPECT_EQ(Read(dir_ / "a/stage3/p1/p1.svg"), Read(dir_ / "b/stage3/p1/p1.svg"));
}

// The seed's form: the same pipeline with the Python equivalents run as
// external commands finds the same beats as the native functions.
TEST_F(CliTest, SeedCommandsMatchNativeFunctions) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "python3 is not installed";
  WritePatient("p1.ecg", 40, 80, 7);
  RunResult native = Overlay({"run", "configs/ecg.cfg", "--input", (dir_ / "in").string(),
                              "--out", (dir_ / "native").string(), "--keep-all", "-q",
                              "--segment", segment_});
  ASSERT_EQ(native.exit_code, 0) << native.err.tail;
  RunResult seed = Overlay({"run", "configs/ecg-seed.cfg", "--input", (dir_ / "in").string(),
                            "--out", (dir_ / "seed").string(), "--keep-all", "-q", "--segment",
                            segment_});
  ASSERT_EQ(seed.exit_code, 0) << seed.err.tail;
  auto a = Beats(dir_ / "native" / "stage2");
  auto b = Beats(dir_ / "seed" / "stage2");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_GT(a.begin()->second.size(), 45u);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(fs::exists(dir_ / "seed/stage3/p1/p1.svg"));
}

// The storage commands as a user runs them: a typo'd segment is reported, not
// created; a flag a command does not take is a usage error; evict keeps the
// only copy; rm then get fails naming the name.
TEST_F(CliTest, StorageCommandsReportMistakes) {
  RunResult ls = Overlay({"ls", "--segment", segment_});
  EXPECT_EQ(ls.exit_code, 1);
  EXPECT_THAT(ls.err.tail, HasSubstr("does not exist"));
  EXPECT_FALSE(fs::exists(fs::path("/dev/shm") / segment_));
  EXPECT_EQ(Overlay({"get", "x", "--policy", "lru", "--segment", segment_}).exit_code, 2);

  Write(dir_ / "obj.txt", "payload\n");
  RunResult put = Overlay({"put", (dir_ / "obj.txt").string(), "--name", "obj", "--segment",
                           segment_, "--memory", "2MiB"});
  ASSERT_EQ(put.exit_code, 0) << put.err.tail;
  RunResult evict = Overlay({"evict", "obj", "--segment", segment_});
  EXPECT_EQ(evict.exit_code, 1);
  EXPECT_THAT(evict.err.tail, HasSubstr("no lower tier holds it"));
  EXPECT_THAT(Overlay({"ls", "--segment", segment_}).out.tail, HasSubstr("obj"));
  ASSERT_EQ(Overlay({"rm", "obj", "--segment", segment_}).exit_code, 0);
  RunResult get = Overlay({"get", "obj", "--segment", segment_});
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_THAT(get.err.tail, HasSubstr("no object named 'obj'"));
  RunResult dir = Overlay({"put", dir_.string(), "--segment", segment_});
  EXPECT_EQ(dir.exit_code, 1);
  EXPECT_THAT(dir.err.tail, HasSubstr("is a directory"));
}

}  // namespace
}  // namespace overlay
