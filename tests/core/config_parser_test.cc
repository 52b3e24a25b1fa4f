// SPDX-License-Identifier: Apache-2.0
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "overlay/config.h"
#include "overlay/dag.h"

namespace overlay {
namespace {

using ::testing::HasSubstr;
using ::testing::ElementsAre;

// The seed's pipeline with consistent names; its directory source is the test's cwd.
constexpr const char* kSeed = R"(# the seed's ECG pipeline
[FUNCTION]
name = sensor
command = python3 functions/ecg/python/sensor_simulator.py @I @D 1000
[END]
[FUNCTION]
name = qrsdetector
command = python3 functions/ecg/python/qrs_detector.py @W
[END]

[ENDPOINT]
name = endpoint_qrs
id = 34a582db-6a61-4acc-ac60-1a0d66ccbf58
[END]
[STAGE]
name = stage1
source = .
transformation = sensor
[END]
[STAGE]
name = stage2
source = stage1
transformation = qrsdetector
endpoint = endpoint_qrs
[END]
)";

Status Check(const std::string& text) {
  auto spec = ParseConfigText(text, "test.cfg", ".");
  if (!spec.ok()) return spec.status();
  return ValidateSpec(*spec);
}

TEST(ConfigParser, SeedPipelineParses) {
  auto spec = ParseConfigText(kSeed, "seed.cfg", ".");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_TRUE(ValidateSpec(*spec).ok()) << ValidateSpec(*spec).ToString();
  ASSERT_EQ(spec->functions.size(), 2u);
  ASSERT_EQ(spec->endpoints.size(), 1u);
  ASSERT_EQ(spec->stages.size(), 2u);
  EXPECT_EQ(spec->functions[1].command, "python3 functions/ecg/python/qrs_detector.py @W");
  EXPECT_EQ(spec->endpoints[0].id, "34a582db-6a61-4acc-ac60-1a0d66ccbf58");
  EXPECT_EQ(spec->stages[1].sources, std::vector<std::string>{"stage1"});
  EXPECT_EQ(spec->stages[1].endpoint, "endpoint_qrs");
  EXPECT_EQ(spec->stages[1].loc.line, 20);
}

// The seed's literal text declares `grsdetector` and asks for `qrsdetector`.
TEST(ConfigParser, SeedLiteralTypoNamesLineAndSuggests) {
  std::string text = kSeed;
  text.replace(text.find("name = qrsdetector"), 18, "name = grsdetector");
  Status s = Check(text);
  ASSERT_TRUE(s.IsInvalidArgument());
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("test.cfg:23: stage 'stage2': unknown function 'qrsdetector' "
                        "(did you mean 'grsdetector'?)"));
}

TEST(ConfigParser, UnknownKeySuggestsNearest) {
  std::string text = kSeed;
  text.replace(text.find("transformation = sensor"), 14, "transformaton");
  Status s = Check(text);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("test.cfg:18: unknown key 'transformaton' in [STAGE] (did you mean "
                        "'transformation'?)"));
}

TEST(ConfigParser, UnknownBlockSuggestsNearest) {
  Status s = Check("[STAGES]\nname = x\n[END]\n");
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("test.cfg:1: unknown block [STAGES] (did you mean 'STAGE'?)"));
}

TEST(ConfigParser, DuplicateNames) {
  std::string text = std::string(kSeed) + "[FUNCTION]\nname = sensor\nbuiltin = qrs_detector\n[END]\n";
  Status s = Check(text);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("test.cfg:26: duplicate function name 'sensor' (first declared at line 2)"));
}

// FUNCTION.writable: a comma list resolved against the config's folder; each
// folder must exist, and only command functions take it.
TEST(ConfigParser, WritableFoldersResolveAndMustExist) {
  const std::string dir = ::testing::TempDir();
  auto spec = ParseConfigText("[FUNCTION]\nname = f\ncommand = true\nwritable = out, " + dir +
                                  "\n[END]\n",
                              "test.cfg", "/etc");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_THAT(spec->functions[0].writable,
              ElementsAre("/etc/out", std::filesystem::path(dir).lexically_normal().string()));
  EXPECT_THAT(std::string(ValidateSpec(*spec).message()),
              HasSubstr("test.cfg:4: function 'f': writable folder '/etc/out' does not exist"));
  EXPECT_THAT(std::string(Check("[FUNCTION]\nname = f\nbuiltin = identity\nwritable = /tmp\n[END]\n")
                              .message()),
              HasSubstr("test.cfg:4: writable applies to command functions only"));
}

TEST(ConfigParser, UnknownEndpointSuggests) {
  std::string text = kSeed;
  text.replace(text.find("endpoint = endpoint_qrs"), 23, "endpoint = endpoint_qr");
  EXPECT_THAT(std::string(Check(text).message()),
              HasSubstr("test.cfg:24: stage 'stage2': unknown endpoint 'endpoint_qr' (did you "
                        "mean 'endpoint_qrs'?)"));
}

// Three endpoints, `fog` with the given extra lines (line 4 onwards).
std::string FallbackConfig(const std::string& fog_lines) {
  return "[ENDPOINT]\nname = fog\naddress = tcp://10.0.0.2:7001\n" + fog_lines +
         "[END]\n[ENDPOINT]\nname = cloud\naddress = tcp://10.0.0.3:7002\n[END]\n"
         "[ENDPOINT]\nname = edge\n[END]\n"
         "[FUNCTION]\nname = f\nbuiltin = identity\n[END]\n"
         "[STAGE]\nname = s\nsource = .\ntransformation = f\nendpoint = fog\n[END]\n";
}

TEST(ConfigParser, FallbackParsesWithItsDelay) {
  auto spec = ParseConfigText(FallbackConfig("fallback = edge\nfallback_after = 750ms\n"),
                              "test.cfg", ".");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_TRUE(ValidateSpec(*spec).ok()) << ValidateSpec(*spec).ToString();
  EXPECT_EQ(spec->endpoints[0].fallback, "edge");
  EXPECT_EQ(spec->endpoints[0].fallback_after_ms, 750);
  EXPECT_EQ(spec->endpoints[1].fallback_after_ms, 5000);  // the default
}

TEST(ConfigParser, FallbackErrorsNameTheLine) {
  EXPECT_THAT(std::string(Check(FallbackConfig("fallback = clod\n")).message()),
              HasSubstr("test.cfg:4: endpoint 'fog': unknown fallback endpoint 'clod' (did you "
                        "mean 'cloud'?)"));
  EXPECT_THAT(std::string(Check(FallbackConfig("fallback = fog\n")).message()),
              HasSubstr("test.cfg:4: endpoint 'fog': its fallbacks lead back to 'fog'"));
  EXPECT_THAT(std::string(Check(FallbackConfig("fallback_after = 2s\n")).message()),
              HasSubstr("test.cfg:4: fallback_after without a fallback endpoint"));
  EXPECT_THAT(std::string(Check(FallbackConfig("fallback = edge\nfallback_after = soon\n"))
                              .message()),
              HasSubstr("test.cfg:5: fallback_after 'soon' is not a duration"));
  std::string local_with_fallback = FallbackConfig("");
  local_with_fallback.replace(local_with_fallback.find("name = edge\n"), 12,
                              "name = edge\nfallback = cloud\n");
  EXPECT_THAT(std::string(Check(local_with_fallback).message()),
              HasSubstr("endpoint 'edge' runs in the client and cannot fail"));
}

TEST(ConfigParser, ObservabilityKeysParseWithTheirDefaults) {
  auto spec = ParseConfigText(FallbackConfig("lost_after = 2s\nlog = logs/fog.log\n"
                                             "metrics_address = 127.0.0.1:0\n"),
                              "test.cfg", "/etc/overlay");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->endpoints[0].lost_after_ms, 2000);
  EXPECT_EQ(spec->endpoints[0].log, "/etc/overlay/logs/fog.log");  // the config's folder
  EXPECT_EQ(spec->endpoints[0].metrics_address, "127.0.0.1:0");
  EXPECT_EQ(spec->endpoints[1].lost_after_ms, 30000);
  EXPECT_EQ(spec->endpoints[1].log, "");
  EXPECT_EQ(spec->endpoints[1].metrics_address, "");
}

TEST(ConfigParser, ObservabilityKeyErrorsNameTheLine) {
  EXPECT_THAT(std::string(Check(FallbackConfig("lost_after = never\n")).message()),
              HasSubstr("test.cfg:4: lost_after 'never' is not a duration"));
  EXPECT_THAT(std::string(Check(FallbackConfig("metrics_address = http://1.2.3.4:9\n")).message()),
              HasSubstr("test.cfg:4: metrics_address 'http://1.2.3.4:9' is HOST:PORT"));
  EXPECT_THAT(std::string(Check(FallbackConfig("metrics_address = 1.2.3.4:99999\n")).message()),
              HasSubstr("test.cfg:4: address '1.2.3.4:99999': port '99999' is not a number"));
  EXPECT_THAT(std::string(Check(FallbackConfig("lost_afte = 2s\n")).message()),
              HasSubstr("did you mean 'lost_after'?"));
}

TEST(ConfigParser, UnknownSourceStageSuggests) {
  std::string text = kSeed;
  text.replace(text.find("source = stage1"), 15, "source = stage7");
  EXPECT_THAT(std::string(Check(text).message()),
              HasSubstr("test.cfg:22: stage 'stage2': source 'stage7' is neither a stage nor a "
                        "directory (did you mean 'stage1'?)"));
}

TEST(ConfigParser, MissingSourceDirectory) {
  std::string text = kSeed;
  text.replace(text.find("source = ."), 10, "source = no/such/dir");
  EXPECT_THAT(std::string(Check(text).message()),
              HasSubstr("test.cfg:17: stage 'stage1': source 'no/such/dir' is neither a stage "
                        "nor a directory (looked for ./no/such/dir)"));
}

TEST(ConfigParser, CycleIsReported) {
  std::string text = std::string(kSeed) +
                     "[STAGE]\nname = a\nsource = b\ntransformation = sensor\n[END]\n"
                     "[STAGE]\nname = b\nsource = a\ntransformation = sensor\n[END]\n";
  Status s = Check(text);
  EXPECT_THAT(std::string(s.message()), HasSubstr("test.cfg:26: stages form a cycle: a, b"));
}

TEST(ConfigParser, SelfSourceIsReported) {
  std::string text = kSeed;
  text.replace(text.find("source = stage1"), 15, "source = stage2");
  EXPECT_THAT(std::string(Check(text).message()),
              HasSubstr("test.cfg:22: stage 'stage2' is its own source"));
}

TEST(ConfigParser, EndpointIdToleratesSpacesAroundHyphens) {
  std::string text = kSeed;
  text.replace(text.find("34a582db-6a61"), 13, "34A582DB - 6a61");
  auto spec = ParseConfigText(text, "test.cfg", ".");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->endpoints[0].id, "34a582db-6a61-4acc-ac60-1a0d66ccbf58");
}

TEST(ConfigParser, MalformedEndpointId) {
  for (const char* bad : {"34a582db-6a61-4acc-ac60", "34a582dg-6a61-4acc-ac60-1a0d66ccbf58",
                          "34a5 82db-6a61-4acc-ac60-1a0d66ccbf58",
                          "34a582db-6a61-4acc-ac60-1a0d66ccbf58-00"}) {
    std::string text = kSeed;
    text.replace(text.find("34a582db-6a61-4acc-ac60-1a0d66ccbf58"), 36, bad);
    EXPECT_THAT(std::string(Check(text).message()),
                HasSubstr("test.cfg:13: endpoint id '" + std::string(bad) + "' is not a UUID"))
        << bad;
  }
}

TEST(ConfigParser, SyntaxErrorsAreAllReported) {
  Status s = Check(
      "name = orphan\n"             // 1: outside a block
      "[FUNCTION]\n"                // 2
      "name = f\n"                  // 3
      "command = a\n"               // 4
      "name = g\n"                  // 5: duplicate key
      "timeout = soon\n"            // 6: bad duration
      "retries = -1\n"              // 7
      "just words\n"                // 8: not key = value
      "[END]\n"                     // 9
      "[END]\n"                     // 10: no open block
      "[FUNCTION]\n"                // 11
      "name = h\n"                  // 12: neither command nor builtin
      "[STAGE]\n");                 // 13: nested, and never closed
  std::string m(s.message());
  EXPECT_THAT(m, HasSubstr("test.cfg:1: 'name' outside a block"));
  EXPECT_THAT(m, HasSubstr("test.cfg:5: duplicate key 'name' (first set at line 3)"));
  EXPECT_THAT(m, HasSubstr("test.cfg:6: timeout 'soon' is not a duration"));
  EXPECT_THAT(m, HasSubstr("test.cfg:7: retries '-1' is not a number from 0 to 100"));
  EXPECT_THAT(m, HasSubstr("test.cfg:8: expected 'key = value', got 'just words'"));
  EXPECT_THAT(m, HasSubstr("test.cfg:10: [END] without an open block"));
  EXPECT_THAT(m, HasSubstr("test.cfg:11: function 'h' needs exactly one of 'command' or 'builtin'"));
  EXPECT_THAT(m, HasSubstr("test.cfg:13: [STAGE] inside [FUNCTION] opened at line 11"));
  EXPECT_THAT(m, HasSubstr("test.cfg:13: [STAGE] is never closed"));
}

TEST(ConfigParser, OptionalKeys) {
  auto spec = ParseConfigText(
      "[FUNCTION]\nname = f\nbuiltin = qrs_detector\nargs = 1000  2\ntimeout = 1500ms\n"
      "retries = 3\n[END]\n"
      "[ENDPOINT]\nname = e\naddress = tcp://127.0.0.1:5555\nworkers = 4\n[END]\n"
      "[STAGE]\nname = s\nsource = ., other\ntransformation = f\ninclude = *.txt\n[END]\n",
      "t.cfg", ".");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->functions[0].args, (std::vector<std::string>{"1000", "2"}));
  EXPECT_EQ(spec->functions[0].timeout_ms, 1500);
  EXPECT_EQ(spec->functions[0].retries, 3);
  EXPECT_EQ(spec->endpoints[0].workers, 4);
  EXPECT_EQ(spec->stages[0].sources, (std::vector<std::string>{".", "other"}));
  EXPECT_EQ(spec->stages[0].include, "*.txt");
}

TEST(ConfigParser, CurveKeys) {
  const std::string pub = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
  auto spec = ParseConfigText("[ENDPOINT]\nname = e\naddress = tcp://127.0.0.1:5555\n"
                              "curve_public = " + pub + "\ncurve_secret_file = /etc/e.key\n[END]\n",
                              "t.cfg", ".");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->endpoints[0].curve_public, pub);
  EXPECT_EQ(spec->endpoints[0].curve_secret_file, "/etc/e.key");
  Status bad = Check("[ENDPOINT]\nname = e\ncurve_public = short\n[END]\n");
  EXPECT_THAT(std::string(bad.message()),
              HasSubstr("test.cfg:3: curve_public 'short' is not a 40-character Z85 key"));
  EXPECT_THAT(std::string(bad.message()),
              HasSubstr("test.cfg:1: endpoint 'e' needs both curve_public and curve_secret_file"));
}

TEST(ConfigParser, ClientsFileNeedsCurve) {
  auto spec = ParseConfigText(
      "[ENDPOINT]\nname = e\ncurve_public = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n"
      "curve_secret_file = /etc/e.key\nclients_file = /etc/e.clients\n[END]\n",
      "t.cfg", ".");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->endpoints[0].clients_file, "/etc/e.clients");
  Status bad = Check("[ENDPOINT]\nname = e\nclients_file = /etc/e.clients\n[END]\n");
  EXPECT_THAT(std::string(bad.message()),
              HasSubstr("test.cfg:3: clients_file needs curve_public and curve_secret_file"));
}

TEST(ConfigParser, EndpointBoundsAndClientBlock) {
  const std::string pub = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
  auto spec = ParseConfigText(
      "[ENDPOINT]\nname = e\nmax_streams = 10\nmax_tasks = 5\nmax_memory = 64MiB\n"
      "stream_idle = 30s\n[END]\n[CLIENT]\ncurve_public = " + pub +
          "\ncurve_secret_file = /home/c.key\n[END]\n",
      "t.cfg", ".");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->endpoints[0].max_streams, 10);
  EXPECT_EQ(spec->endpoints[0].max_tasks, 5);
  EXPECT_EQ(spec->endpoints[0].max_memory, 64u << 20);
  EXPECT_EQ(spec->endpoints[0].stream_idle_ms, 30000);
  EXPECT_EQ(spec->client.curve_public, pub);
  EXPECT_EQ(spec->client.curve_secret_file, "/home/c.key");
  Status bad = Check("[ENDPOINT]\nname = e\nmax_streams = 0\nstream_idle = soon\n[END]\n"
                     "[CLIENT]\ncurve_public = " + pub + "\n[END]\n");
  EXPECT_THAT(std::string(bad.message()), HasSubstr("test.cfg:3: max_streams '0'"));
  EXPECT_THAT(std::string(bad.message()), HasSubstr("test.cfg:4: stream_idle 'soon'"));
  EXPECT_THAT(std::string(bad.message()),
              HasSubstr("test.cfg:6: [CLIENT] needs both curve_public and curve_secret_file"));
}

// One Z85 key a line; comments and blank lines skipped; errors name file:line.
TEST(ConfigParser, ClientKeysFile) {
  const std::string path = ::testing::TempDir() + "clients-" + std::to_string(::getpid());
  const std::string key = "#bcdefghij0123456789ABCDEFGHIJklmnopqrst";  // Z85 has '#'
  {
    std::ofstream out(path);
    out << "# ward 7 tablets\n\n  " << key << "  # alice\n";
  }
  auto keys = ReadClientKeys(path);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(*keys, std::vector<std::string>{key});
  {
    std::ofstream out(path, std::ios::app);
    out << "not-a-key\n";
  }
  Status bad = ReadClientKeys(path).status();
  EXPECT_TRUE(bad.IsInvalidArgument());
  EXPECT_THAT(std::string(bad.message()), HasSubstr(path + ":4: 'not-a-key' is not"));
  {
    std::ofstream out(path);
    out << "# nobody yet\n";
  }
  EXPECT_THAT(std::string(ReadClientKeys(path).status().message()), HasSubstr("no client keys"));
  std::remove(path.c_str());
  EXPECT_TRUE(ReadClientKeys(path).status().IsIOError());
}

TEST(ConfigParser, BadAddressScheme) {
  Status s = Check("[ENDPOINT]\nname = e\naddress = tpc://h:1\n[END]\n");
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("test.cfg:3: address 'tpc://h:1' must start with tcp://, ipc:// or "
                        "fabric:// (did you mean 'tcp'?)"));
}

TEST(ConfigParser, StorageBlockSetsOptionsAndRejectsBadValues) {
  auto spec = ParseConfigText("[STORAGE]\nmemory = 64MiB\npolicy = sieve\n[END]\n", "s.cfg", ".");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_TRUE(spec->has_storage);
  EXPECT_EQ(spec->storage.options.memory, 64ull << 20);
  EXPECT_EQ(spec->storage.options.policy, EvictionPolicy::kSieve);
  Status s = Check("[STORAGE]\npolicy = lfru\nmemroy = 1MiB\n[END]\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("test.cfg:2: "));
  EXPECT_THAT(std::string(s.message()), HasSubstr("lfru"));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("test.cfg:3: unknown key 'memroy' in [STORAGE] (did you mean 'memory'?)"));
}

TEST(ConfigParser, IncludeIsACommaSeparatedListOfGlobs) {
  EXPECT_TRUE(IncludeMatches("*", "README"));
  EXPECT_TRUE(IncludeMatches("signal.txt, *.ecg", "signal.txt"));
  EXPECT_TRUE(IncludeMatches("signal.txt, *.ecg", "patient01.ecg"));
  EXPECT_TRUE(IncludeMatches(" *.ecg ,signal.txt", "signal.txt"));
  for (const char* other : {"beats.txt", "vf.txt", "README", "signal.txt.bak", "p.ecg.gz"})
    EXPECT_FALSE(IncludeMatches("signal.txt, *.ecg", other)) << other;
  EXPECT_FALSE(IncludeMatches("", "a.txt"));
}

// configs/ecg.cfg reads the signal of a record folder and synthetic patients only.
TEST(ConfigParser, EcgConfigReadsSignalsAndSyntheticPatients) {
  auto spec = LoadConfig(std::string(OVERLAY_SOURCE_DIR) + "/configs/ecg.cfg");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  const StageDecl* first = spec->FindStage("stage1");
  ASSERT_NE(first, nullptr);
  EXPECT_TRUE(IncludeMatches(first->include, "signal.txt"));
  EXPECT_TRUE(IncludeMatches(first->include, "patient01.ecg"));
  for (const char* annotation : {"beats.txt", "rhythm.txt", "vf.txt", "README"})
    EXPECT_FALSE(IncludeMatches(first->include, annotation)) << annotation;
}

TEST(ConfigParser, ShippedConfigsValidate) {
  for (const char* name : {"ecg.cfg", "ecg-seed.cfg"}) {
    std::string path = std::string(OVERLAY_SOURCE_DIR) + "/configs/" + name;
    auto spec = LoadConfig(path);
    EXPECT_TRUE(spec.ok()) << path << ": " << spec.status().ToString();
  }
}

TEST(ConfigParser, TrailingCommentsAreDroppedOutsideQuotesAndWords) {
  auto spec = ParseConfigText(R"([FUNCTION]
name = count   # counts its runs
command = sh -c 'echo # kept' "# kept too"  # dropped
[END]
[ENDPOINT]
name = ep	# a tab before it
address = tcp://127.0.0.1:5555 #dropped
curve_public = #bcdefghij0123456789ABCDEFGHIJklmnopqrst
curve_secret_file = /dev/null  # checked when the endpoint starts
[END]
[STORAGE]
cdn = http://127.0.0.1:8080/objects#kept
[END]
)",
                              "test.cfg", ".");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->functions[0].name, "count");
  EXPECT_EQ(spec->functions[0].command, "sh -c 'echo # kept' \"# kept too\"");
  EXPECT_EQ(spec->endpoints[0].name, "ep");
  EXPECT_EQ(spec->endpoints[0].address, "tcp://127.0.0.1:5555");
  EXPECT_EQ(spec->endpoints[0].curve_public,
            "#bcdefghij0123456789ABCDEFGHIJklmnopqrst");  // Z85 has '#'
  EXPECT_EQ(spec->endpoints[0].curve_secret_file, "/dev/null");
  EXPECT_EQ(spec->storage.options.cdn, "http://127.0.0.1:8080/objects#kept");
}

TEST(ConfigParser, MissingFileIsAnIOError) {
  auto spec = ParseConfigFile("/nonexistent/overlay.cfg");
  EXPECT_TRUE(spec.status().IsIOError());
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("/nonexistent/overlay.cfg"));
}

}  // namespace
}  // namespace overlay

namespace overlay {
namespace {

// A chain of `n` stages, each reading the one before; the first reads `dir`.
std::string Chain(size_t n, const std::string& dir) {
  std::string text = "[FUNCTION]\nname = f\nbuiltin = ecg_visualizer\n[END]\n";
  text.reserve(n * 80);
  for (size_t i = 0; i < n; ++i)
    text += "[STAGE]\nname = s" + std::to_string(i) + "\nsource = " +
            (i == 0 ? dir : "s" + std::to_string(i - 1)) + "\ntransformation = f\n[END]\n";
  return text;
}

// 100k stages validate in one pass (the checks were quadratic: 239 s); the
// time is measured in overlay-bench, here only the result.
TEST(ConfigScale, HundredThousandStagesValidate) {
  constexpr size_t kStages = 100'000;
  auto spec = ParseConfigText(Chain(kStages, "."), "big.cfg", ".");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->stages.size(), kStages);
  ASSERT_TRUE(ValidateSpec(*spec).ok());
  auto dag = BuildDag(*spec);
  ASSERT_TRUE(dag.ok()) << dag.status().ToString();
  ASSERT_EQ(dag->order.size(), kStages);
  EXPECT_EQ(dag->order.front(), 0);
  EXPECT_EQ(dag->order.back(), static_cast<int>(kStages - 1));
  EXPECT_EQ(dag->sinks, std::vector<int>{static_cast<int>(kStages - 1)});
  EXPECT_EQ(dag->stages[kStages - 1].sources[0].stage, static_cast<int>(kStages - 2));
  EXPECT_EQ(spec->FindStage("s77777"), &spec->stages[77777]);
}

TEST(ConfigScale, DuplicatesAmongManyStagesAreFound) {
  std::string text = Chain(50'000, ".") + "[STAGE]\nname = s123\nsource = s9\ntransformation = f\n[END]\n";
  auto spec = ParseConfigText(text, "big.cfg", ".");
  ASSERT_TRUE(spec.ok());
  Status s = ValidateSpec(*spec);
  EXPECT_THAT(std::string(s.message()), HasSubstr("duplicate stage name 's123'"));
}

TEST(ConfigParser, UnsafeStageNamesAreRefusedWithFileAndLine) {
  for (const std::string name : {"../../x", "a/b", ".hidden", "a b", "x;y", "é"}) {
    auto spec = ParseConfigText("[FUNCTION]\nname = f\nbuiltin = ecg_visualizer\n[END]\n"
                                "[STAGE]\nname = " + name + "\nsource = .\ntransformation = f\n[END]\n",
                                "c.cfg", ".");
    ASSERT_FALSE(spec.ok()) << name;
    EXPECT_THAT(std::string(spec.status().message()), HasSubstr("c.cfg:6: stage name '" + name + "'"));
  }
  auto ok = ParseConfigText("[FUNCTION]\nname = f\nbuiltin = ecg_visualizer\n[END]\n"
                            "[STAGE]\nname = Stage_1.v-2\nsource = .\ntransformation = f\n[END]\n",
                            "c.cfg", ".");
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

// A 5 MB line is refused with file:line and read no further than the limit;
// the lines after it are still checked.
TEST(ConfigParser, OverlongLineIsRefusedWithFileAndLine) {
  const std::string path = ::testing::TempDir() + "/long-" + std::to_string(::getpid()) + ".cfg";
  {
    std::ofstream f(path);
    f << "[FUNCTION]\nname = f\n# " << std::string(5 << 20, 'x') << "\nbuiltin = nope\n[END]\n"
      << "[FUNCTION]\nbogus = 1\n[END]\n";
  }
  auto spec = ParseConfigFile(path);
  std::remove(path.c_str());
  ASSERT_FALSE(spec.ok());
  const std::string msg(spec.status().message());
  EXPECT_THAT(msg, HasSubstr(path + ":3: line of 5242882 bytes, longer than the 65536 allowed"));
  EXPECT_THAT(msg, HasSubstr(path + ":7: unknown key 'bogus'"));
  auto text = ParseConfigText("[FUNCTION]\nname = " + std::string(70'000, 'n') + "\n[END]\n",
                              "t.cfg", ".");
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(std::string(text.status().message()), HasSubstr("t.cfg:2: line of 70007 bytes"));
}

}  // namespace
}  // namespace overlay
