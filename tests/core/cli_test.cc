// SPDX-License-Identifier: Apache-2.0
// The `overlay` binary end to end, run as a user would (execve, no shell).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "common/overlay_cli.h"
#include "overlay/object_key.h"
#include "overlay/process_runner.h"
#include "overlay/storage/data_container.h"
#include "overlay/storage_options.h"

namespace overlay {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// Runs in the repository root unless `cwd` is given.
RunResult Overlay(std::vector<std::string> args, const std::string& cwd = OVERLAY_SOURCE_DIR) {
  return testing::RunOverlay(args, cwd);
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
  // Results are named; inputs and intermediates are not (they would fill the
  // catalog run after run).
  RunResult ls = Overlay({"ls", "--segment", segment_});
  EXPECT_THAT(ls.out.tail, HasSubstr("stage3/p1/p1.svg"));
  EXPECT_THAT(ls.out.tail, Not(HasSubstr("input/")));
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
                           segment_, "--memory", "2MiB", "--disk", "none"});
  ASSERT_EQ(put.exit_code, 0) << put.err.tail;
  RunResult evict = Overlay({"evict", "obj", "--segment", segment_, "--disk", "none"});
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

// A second run into the same --out replaces the first one's results (files the
// run did not write stay) and lists what it read and wrote in manifest.json.
// A run and the storage commands beside the process that owns the disk tier
// (this test): they read it, and what the run stored reaches it.
TEST_F(CliTest, RunAndStorageCommandsBesideTheDiskOwner) {
  StorageOptions o;
  o.segment = segment_;
  Result<std::unique_ptr<storage::DataContainer>> owner = storage::DataContainer::Open(o);
  ASSERT_TRUE(owner.ok()) << owner.status().ToString();
  ASSERT_EQ((*owner)->disk_owner_pid(), 0);
  storage::PutOptions named;
  named.name = "owned.txt";
  Result<Blob> kept = (*owner)->Put("stored by the owner\n", named);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  const ObjectKey key = *kept->key();
  kept = Blob();
  ASSERT_TRUE((*owner)->Evict(key).ok());  // demoted: only L2 holds it now

  WritePatient("p1.ecg", 20, 70, 1);
  RunResult r = Overlay({"run", "configs/ecg.cfg", "--input", (dir_ / "in").string(), "--out",
                         (dir_ / "out").string(), "--segment", segment_, "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err.tail;
  const std::string pid = std::to_string(::getpid());
  EXPECT_THAT(r.err.tail, HasSubstr("belongs to process " + pid));
  RunResult stat = Overlay({"stat", "owned.txt", "--segment", segment_});
  ASSERT_EQ(stat.exit_code, 0) << stat.err.tail;
  EXPECT_THAT(stat.out.tail, HasSubstr("L2 (disk) yes (shared read-only: owner pid " + pid + ")"));
  RunResult get = Overlay({"get", "owned.txt", "--segment", segment_});
  EXPECT_EQ(get.out.tail, "stored by the owner\n");
  RunResult ls = Overlay({"ls", "--segment", segment_});
  EXPECT_THAT(ls.out.tail, HasSubstr("owned.txt"));
  EXPECT_THAT(ls.out.tail, HasSubstr("stage3/p1/p1.svg"));
  const std::string svg = Read(dir_ / "out/stage3/p1/p1.svg");
  get = Overlay({"get", "stage3/p1/p1.svg", "--segment", segment_, "-o",
                 (dir_ / "reader.svg").string()});
  ASSERT_EQ(get.exit_code, 0) << get.err.tail;
  EXPECT_EQ(Read(dir_ / "reader.svg"), svg);

  owner->reset();  // on its way out the owner takes what the run named into L2
  stat = Overlay({"stat", "stage3/p1/p1.svg", "--segment", segment_});
  EXPECT_THAT(stat.out.tail, HasSubstr("L2 (disk) yes\n"));
  get = Overlay({"get", "stage3/p1/p1.svg", "--segment", segment_, "-o",
                 (dir_ / "owner.svg").string()});
  ASSERT_EQ(get.exit_code, 0) << get.err.tail;
  EXPECT_EQ(Read(dir_ / "owner.svg"), svg);
}

TEST_F(CliTest, RunOutReplacesEarlierResultsAndWritesAManifest) {
  WritePatient("p1.ecg", 10, 70, 1);
  WritePatient("p2.ecg", 10, 80, 2);
  const fs::path out = dir_ / "out";
  RunResult first = Overlay({"run", "configs/ecg.cfg", "--input", (dir_ / "in").string(), "--out",
                             out.string(), "--no-store", "-q"});
  ASSERT_EQ(first.exit_code, 0) << first.err.tail;
  ASSERT_TRUE(fs::exists(out / "stage3/p2/p2.svg"));
  Write(out / "notes.txt", "mine");
  fs::remove(dir_ / "in" / "p2.ecg");
  RunResult second = Overlay({"run", "configs/ecg.cfg", "--input", (dir_ / "in").string(),
                              "--out", out.string(), "--no-store", "-q"});
  ASSERT_EQ(second.exit_code, 0) << second.err.tail;
  EXPECT_FALSE(fs::exists(out / "stage3/p2")) << "the first run's results are still there";
  EXPECT_TRUE(fs::exists(out / "stage3/p1/p1.svg"));
  EXPECT_EQ(Read(out / "notes.txt"), "mine");

  auto m = nlohmann::json::parse(Read(out / "manifest.json"));
  EXPECT_EQ(m["config"], "configs/ecg.cfg");
  ASSERT_EQ(m["inputs"].size(), 1u);
  EXPECT_EQ(m["inputs"][0]["stream"], "p1");
  EXPECT_EQ(m["inputs"][0]["size"], fs::file_size(dir_ / "in/p1.ecg"));
  std::set<std::string> listed;
  for (const auto& o : m["outputs"]) {
    listed.insert(o["path"].get<std::string>());
    EXPECT_EQ(o["size"], fs::file_size(out / o["path"].get<std::string>())) << o["path"];
  }
  EXPECT_TRUE(listed.count("stage3/p1/p1.svg"));
  EXPECT_FALSE(listed.count("stage3/p2/p2.svg"));
  EXPECT_GT(m["counters"]["beats"].get<int>(), 5);
  EXPECT_GT(m["tasks"]["ok"].get<int>(), 0);
  EXPECT_EQ(m["tasks"]["failed"], 0);
}

// Relative paths in a command resolve against the config's folder, so the
// seed's config runs from any directory.
TEST_F(CliTest, SeedConfigRunsFromAnotherDirectory) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "python3 is not installed";
  WritePatient("p1.ecg", 20, 75, 4);
  const std::string cfg = std::string(OVERLAY_SOURCE_DIR) + "/configs/ecg-seed.cfg";
  RunResult v = Overlay({"validate", cfg, "--input", "in"}, dir_.string());
  EXPECT_EQ(v.exit_code, 0) << v.err.tail;
  RunResult r = Overlay({"run", cfg, "--input", "in", "--out", "out", "--no-store", "-q"},
                        dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.err.tail;
  EXPECT_TRUE(fs::exists(dir_ / "out/stage3/p1/p1.svg"));
}

TEST_F(CliTest, ValidateReportsAMissingProgram) {
  fs::create_directories(dir_ / "data");
  Write(dir_ / "p.cfg",
        "[FUNCTION]\nname = f\ncommand = ./no-such-tool @I @D\n[END]\n"
        "[STAGE]\nname = s\nsource = data\ntransformation = f\n[END]\n");
  RunResult r = Overlay({"validate", (dir_ / "p.cfg").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err.tail, HasSubstr("p.cfg:3: function 'f': program '" +
                                    (dir_ / "no-such-tool").string() + "' does not exist"));
}

// `validate` makes every check `run` makes, so both reject the same configs.
class ValidateLikeRunTest : public CliTest,
                            public ::testing::WithParamInterface<std::pair<const char*, const char*>> {};

TEST_P(ValidateLikeRunTest, BothRejectTheConfig) {
  std::string text = Read(fs::path(OVERLAY_SOURCE_DIR) / "configs/ecg.cfg");
  const auto [from, to] = GetParam();
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), std::string(from).size(), to);
  fs::path cfg = dir_ / "bad.cfg";
  Write(cfg, text);
  WritePatient("p1.ecg", 5, 70, 1);
  RunResult v = Overlay({"validate", cfg.string(), "--input", (dir_ / "in").string()});
  RunResult r = Overlay({"run", cfg.string(), "--input", (dir_ / "in").string(), "--segment",
                         segment_, "-q"});
  EXPECT_EQ(v.exit_code, 2) << v.out.tail;
  EXPECT_EQ(r.exit_code, 2) << r.out.tail;
  EXPECT_THAT(v.err.tail, ::testing::ContainsRegex("bad.cfg:[0-9]+: "));
  EXPECT_EQ(v.err.tail, r.err.tail);
  // A run that fails its check leaves no segment behind.
  EXPECT_FALSE(fs::exists(fs::path("/dev/shm") / segment_));
}

INSTANTIATE_TEST_SUITE_P(
    Checks, ValidateLikeRunTest,
    ::testing::Values(
        std::pair{"builtin = ecg_visualizer", "builtin = ecg_visualiser"},
        std::pair{"args = 60", "args = 0"},
        std::pair{"name = endpoint_qrs\n", "name = endpoint_qrs\naddress = tcp://127.0.0.1:99999\n"}));

TEST_F(CliTest, ValidateSuggestsTheBuiltinAndNamesTheLine) {
  std::string text = Read(fs::path(OVERLAY_SOURCE_DIR) / "configs/ecg.cfg");
  text.replace(text.find("builtin = ecg_visualizer"), 24, "builtin = ecg_visualiser");
  Write(dir_ / "bad.cfg", text);
  RunResult v = Overlay({"validate", (dir_ / "bad.cfg").string(), "--input", (dir_ / "in").string()});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.err.tail, ::testing::ContainsRegex(
                              "bad.cfg:[0-9]+: function 'visualize': unknown builtin "
                              "'ecg_visualiser' \\(did you mean 'ecg_visualizer'\\?\\)"));
}

// A copied config's `source = data` need not exist when --input replaces it.
TEST_F(CliTest, ValidateTakesInput) {
  fs::copy_file(fs::path(OVERLAY_SOURCE_DIR) / "configs/ecg.cfg", dir_ / "copy.cfg");
  RunResult without = Overlay({"validate", (dir_ / "copy.cfg").string()});
  EXPECT_EQ(without.exit_code, 2);
  RunResult with = Overlay({"validate", (dir_ / "copy.cfg").string(), "--input", (dir_ / "in").string()});
  EXPECT_EQ(with.exit_code, 0) << with.err.tail;
  WritePatient("p1.ecg", 5, 70, 1);
  RunResult file = Overlay({"validate", (dir_ / "copy.cfg").string(), "--input",
                            (dir_ / "in/p1.ecg").string()});
  EXPECT_EQ(file.exit_code, 2);
  EXPECT_THAT(file.err.tail, HasSubstr("--input"));
  EXPECT_THAT(file.err.tail, HasSubstr("is a file"));
  EXPECT_THAT(file.err.tail, ::testing::Not(HasSubstr("source")));
}

TEST_F(CliTest, JsonOutput) {
  RunResult v = Overlay({"validate", "configs/ecg.cfg", "--json"});
  ASSERT_EQ(v.exit_code, 0) << v.err.tail;
  auto j = nlohmann::json::parse(v.out.tail);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["stages"].size(), 3u);
  EXPECT_EQ(j["stages"][2]["name"], "stage3");
  EXPECT_EQ(j["stages"][2]["result"], true);

  fs::copy_file(fs::path(OVERLAY_SOURCE_DIR) / "configs/ecg.cfg", dir_ / "copy.cfg");
  RunResult bad = Overlay({"validate", (dir_ / "copy.cfg").string(), "--json"});
  EXPECT_EQ(bad.exit_code, 2);
  auto e = nlohmann::json::parse(bad.out.tail);
  EXPECT_EQ(e["ok"], false);
  EXPECT_THAT(e["errors"][0].get<std::string>(), HasSubstr("source 'data'"));

  WritePatient("p1.ecg", 10, 70, 1);
  RunResult r = Overlay({"run", "configs/ecg.cfg", "--input", (dir_ / "in").string(), "--json",
                         "--segment", segment_});
  ASSERT_EQ(r.exit_code, 0) << r.err.tail;
  auto s = nlohmann::json::parse(r.out.tail);
  EXPECT_EQ(s["inputs"].size(), 1u);
  EXPECT_GT(s["tasks"]["ok"].get<int>(), 0);
  EXPECT_GT(s["counters"]["beats"].get<int>(), 5);
  EXPECT_EQ(s["segment"], segment_);
  EXPECT_FALSE(s["stored"].empty());
}

// Output bytes by path relative to `dir`, manifest excluded.
std::map<std::string, std::string> Files(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == "manifest.json") continue;
    std::ifstream f(e.path(), std::ios::binary);
    out[fs::relative(e.path(), dir).string()] = std::string(std::istreambuf_iterator<char>(f), {});
  }
  return out;
}

// Resume by content: a second identical run reuses every task and writes the
// same bytes; a changed input reruns its stream only; --rerun runs all; a
// result whose objects are gone runs again.
TEST_F(CliTest, RerunReusesRememberedResults) {
  for (const auto& e : fs::directory_iterator(fs::path(OVERLAY_SOURCE_DIR) / "configs/data"))
    fs::copy_file(e.path(), dir_ / "in" / e.path().filename());
  auto run = [&](const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"run",         "configs/ecg.cfg", "--input",
                                     (dir_ / "in").string(), "--out", (dir_ / out).string(),
                                     "--segment",   segment_,          "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = Overlay(args);
    EXPECT_EQ(r.exit_code, 0) << r.err.tail;
    return nlohmann::json::parse(r.out.tail, nullptr, false);
  };
  const auto first = run("first");
  const int tasks = first["tasks"]["ok"].get<int>();
  ASSERT_GT(tasks, 0);
  EXPECT_EQ(first["tasks"]["reused"], 0);

  const auto second = run("second");
  EXPECT_EQ(second["tasks"]["ok"], 0);
  EXPECT_EQ(second["tasks"]["reused"], tasks);
  EXPECT_EQ(second["counters"], first["counters"]);
  EXPECT_EQ(Files(dir_ / "second"), Files(dir_ / "first"));
  EXPECT_EQ(second["outputs"], first["outputs"]);

  // One patient's heart rate changes (same length, so as many tasks).
  std::string p2 = Read(dir_ / "in/patient02.ecg");
  p2 = std::regex_replace(p2, std::regex("hr_bpm = [0-9]+"), "hr_bpm = 101");
  Write(dir_ / "in/patient02.ecg", p2);
  fs::create_directories(dir_ / "only");
  fs::copy_file(dir_ / "in/patient02.ecg", dir_ / "only/patient02.ecg");
  RunResult alone = Overlay({"run", "configs/ecg.cfg", "--input", (dir_ / "only").string(),
                             "--no-store", "--json"});
  ASSERT_EQ(alone.exit_code, 0) << alone.err.tail;
  const int stream_tasks = nlohmann::json::parse(alone.out.tail)["tasks"]["ok"].get<int>();
  EXPECT_EQ(nlohmann::json::parse(alone.out.tail)["tasks"]["reused"], 0) << "--no-store: no memo";
  const auto third = run("third");
  EXPECT_EQ(third["tasks"]["ok"], stream_tasks);
  EXPECT_EQ(third["tasks"]["reused"], tasks - stream_tasks);
  auto a = Files(dir_ / "first"), c = Files(dir_ / "third");
  EXPECT_NE(c["stage3/patient02/patient02.svg"], a["stage3/patient02/patient02.svg"]);
  for (const char* same : {"stage3/patient01/patient01.svg", "stage3/patient04/patient04.svg"})
    EXPECT_EQ(c[same], a[same]) << same;

  const auto forced = run("forced", {"--rerun"});
  EXPECT_EQ(forced["tasks"]["ok"], tasks);
  EXPECT_EQ(forced["tasks"]["reused"], 0);

  // Its results removed from every tier, a stream runs again.
  RunResult rm = Overlay({"rm", "stage3/patient01/", "--segment", segment_});
  ASSERT_EQ(rm.exit_code, 0) << rm.err.tail;
  const auto again = run("again");
  EXPECT_GT(again["tasks"]["ok"].get<int>(), 0);
  EXPECT_LT(again["tasks"]["ok"].get<int>(), tasks);
  EXPECT_EQ(Files(dir_ / "again"), Files(dir_ / "forced"));
  RunResult get = Overlay({"get", "stage3/patient01/patient01.svg", "--segment", segment_, "-o",
                           (dir_ / "p1.svg").string()});
  EXPECT_EQ(get.exit_code, 0) << get.err.tail;

  // The records are catalog names that `ls` shows only when asked.
  EXPECT_THAT(Overlay({"ls", "--segment", segment_}).out.tail, Not(HasSubstr(".memo/")));
  EXPECT_THAT(Overlay({"ls", ".memo/", "--segment", segment_}).out.tail, HasSubstr(".memo/"));
}

// The manifest names every input and output by its content key.
TEST_F(CliTest, ManifestListsContentKeys) {
  WritePatient("p1.ecg", 10, 70, 1);
  const fs::path out = dir_ / "out";
  RunResult r = Overlay({"run", "configs/ecg.cfg", "--input", (dir_ / "in").string(), "--out",
                         out.string(), "--segment", segment_, "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err.tail;
  auto m = nlohmann::json::parse(Read(out / "manifest.json"));
  ASSERT_EQ(m["inputs"].size(), 1u);
  EXPECT_EQ(m["inputs"][0]["key"], ObjectKey::Of(Read(dir_ / "in/p1.ecg")).ToHex());
  ASSERT_FALSE(m["outputs"].empty());
  for (const auto& o : m["outputs"]) {
    const std::string bytes = Read(out / o["path"].get<std::string>());
    EXPECT_EQ(o["key"], ObjectKey::Of(bytes).ToHex()) << o["path"];
    // The key names the object in the data container.
    RunResult get = Overlay({"get", o["key"].get<std::string>(), "--segment", segment_, "-o",
                             (dir_ / "got").string()});
    EXPECT_EQ(get.exit_code, 0) << get.err.tail;
    EXPECT_EQ(Read(dir_ / "got"), bytes) << o["path"];
  }
}

// The closing hint names a segment other than the default, so pasting it
// shows this run's results.
TEST_F(CliTest, HintNamesTheSegment) {
  WritePatient("p1.ecg", 5, 70, 1);
  RunResult r = Overlay({"run", "configs/ecg.cfg", "--input", (dir_ / "in").string(), "-q",
                         "--segment", segment_});
  ASSERT_EQ(r.exit_code, 0) << r.err.tail;
  EXPECT_THAT(r.out.tail, HasSubstr("overlay ls --segment " + segment_ + "; overlay get --segment " +
                                    segment_ + " stage3/p1/"));
}

// libfabric's provider libraries sleep in their constructors, so `overlay`
// loads libfabric only when a fabric:// channel opens, never at start-up.
TEST_F(CliTest, StartUpLoadsNoFabric) {
  overlay::RunOptions opt;
  opt.argv = {std::string(OVERLAY_BINARY_DIR) + "/core/overlay", "validate", "configs/ecg.cfg"};
  opt.cwd = OVERLAY_SOURCE_DIR;
  opt.env = {{"LD_DEBUG", "libs"}};
  opt.max_output_bytes = 1 << 20;
  auto r = RunProcess(opt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_THAT(r->err.tail, HasSubstr("libstdc++"));  // LD_DEBUG did list the libraries
  EXPECT_THAT(r->err.tail, ::testing::Not(HasSubstr("libfabric")));
  EXPECT_THAT(r->err.tail, ::testing::Not(HasSubstr("libpsm2")));
}

}  // namespace
}  // namespace overlay
