// SPDX-License-Identifier: Apache-2.0
// overlay::Client: config from text, in-memory inputs, results per stage,
// futures, functions registered by the application, the data container path.
#include "overlay/client.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "overlay/endpoint_server.h"

namespace overlay {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// The ECG pipeline in 1 s chunks; `records` does not exist (inputs replace it).
constexpr char kEcg[] = R"([FUNCTION]
name = sensor
builtin = sensor_simulator
args = 360
[END]
[FUNCTION]
name = qrs
builtin = qrs_detector
[END]
[STAGE]
name = chunks
source = records
transformation = sensor
include = *.ecg
[END]
[STAGE]
name = beats
source = chunks
transformation = qrs
[END]
)";

InputItem Patient(const std::string& stream, int seconds, int bpm) {
  return {stream, stream + ".ecg",
          Blob::FromString("# overlay-synthetic-ecg\nduration_s = " + std::to_string(seconds) +
                           "\nhr_bpm = " + std::to_string(bpm) + "\nseed = 3\n")};
}

std::unique_ptr<Client> OpenText(const std::string& text, bool use_store = false) {
  ClientOptions o;
  o.config_text = text;
  o.use_store = use_store;
  auto c = Client::Open(o);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(*c) : nullptr;
}

// Beat rows (not '#' lines nor the header) in beats CSV outputs.
int64_t BeatRows(const std::vector<StageOutput>& outputs) {
  int64_t rows = 0;
  for (const auto& o : outputs) {
    std::istringstream in{std::string(o.data.view())};
    for (std::string line; std::getline(in, line);)
      rows += !line.empty() && line[0] != '#' && !line.starts_with("sample");
  }
  return rows;
}

TEST(Client, RunsInMemoryInputsAndReturnsTheResultStagesOutputs) {
  auto client = OpenText(kEcg);
  ASSERT_NE(client, nullptr);
  RunRequest req;
  req.inputs = {Patient("b", 10, 60), Patient("a", 10, 90)};
  RunResult out;
  ASSERT_TRUE(client->Run(req, &out).ok());
  EXPECT_EQ(out.report.streams, 2u);
  ASSERT_FALSE(out.outputs.empty());
  for (const auto& o : out.outputs) {
    EXPECT_EQ(o.stage, "beats");
    EXPECT_THAT(o.name, HasSubstr(".beats.csv"));
  }
  EXPECT_EQ(out.outputs.front().stream, "a");  // sorted by stream
  EXPECT_EQ(out.outputs.back().stream, "b");
  EXPECT_EQ(out.outputs.back().name, "b_final.beats.csv");  // end of stream comes last
  const int64_t beats = out.report.counters["beats"];
  EXPECT_EQ(BeatRows(out.outputs), beats);
  EXPECT_NEAR(beats, 10 + 15, 3);  // 10 s at 60 and at 90 bpm
}

TEST(Client, GivesTheBeatsOfARunOverTheSameFileInADirectory) {
  const fs::path dir = fs::temp_directory_path() / ("overlay-client-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const InputItem p = Patient("p", 12, 75);
  std::ofstream(dir / "p.ecg") << p.data.view();
  auto client = OpenText(kEcg);
  ASSERT_NE(client, nullptr);
  RunResult from_memory, from_dir;
  RunRequest mem;
  mem.inputs = {p};
  ASSERT_TRUE(client->Run(mem, &from_memory).ok());
  RunRequest files;
  files.input_dir = dir.string();
  ASSERT_TRUE(client->Run(files, &from_dir).ok());
  fs::remove_all(dir);
  ASSERT_EQ(from_memory.outputs.size(), from_dir.outputs.size());
  for (size_t i = 0; i < from_dir.outputs.size(); ++i) {
    EXPECT_EQ(from_memory.outputs[i].name, from_dir.outputs[i].name);
    EXPECT_EQ(from_memory.outputs[i].data.view(), from_dir.outputs[i].data.view());
  }
}

TEST(Client, ReturnsTheStagesARequestNames) {
  auto client = OpenText(kEcg);
  ASSERT_NE(client, nullptr);
  RunRequest req;
  req.inputs = {Patient("p", 5, 60)};
  req.stages = {"chunks", "beats"};
  RunResult out;
  ASSERT_TRUE(client->Run(req, &out).ok());
  size_t chunks = 0;
  for (const auto& o : out.outputs) chunks += o.stage == "chunks";
  EXPECT_EQ(chunks, 5u);  // 5 s in 1 s chunks
  EXPECT_EQ(out.outputs.front().stage, "chunks");  // config order within a stream
  req.stages = {"beat"};
  Status s = client->Run(req, &out);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("did you mean 'beats'"));
}

// Uppercases its input; the application's own native function.
class Upper : public Function {
 public:
  Status Process(Task& t) const override {
    std::string s(t.inputs[0].data.view());
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    t.outputs.push_back({t.inputs[0].name, Blob::FromString(s)});
    return Status::OK();
  }
};

constexpr char kUpper[] = R"([FUNCTION]
name = up
builtin = app_upper
[END]
[STAGE]
name = upper
source = inputs
transformation = up
[END]
)";

TEST(Client, RunsAFunctionTheApplicationRegistered) {
  auto client = OpenText(kUpper);
  ASSERT_NE(client, nullptr);
  RunRequest req;
  req.inputs = {{"x", "x.txt", Blob::FromString("abc")}};
  RunResult out;
  // Not a builtin until registered: the run cannot start, naming the function.
  Status s = client->Run(req, &out);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("unknown builtin 'app_upper'"));
  client->RegisterFunction("app_upper", [](const std::vector<std::string>& args)
                                            -> Result<std::unique_ptr<Function>> {
    if (!args.empty()) return Status::InvalidArgument("app_upper takes no args");
    return std::unique_ptr<Function>(new Upper);
  });
  ASSERT_TRUE(client->Run(req, &out).ok());
  ASSERT_EQ(out.outputs.size(), 1u);
  EXPECT_EQ(out.outputs[0].data.view(), "ABC");
  // Another client does not see it.
  auto other = OpenText(kUpper);
  ASSERT_NE(other, nullptr);
  EXPECT_FALSE(other->Run(req, &out).ok());
}

TEST(Client, CallsReturnFuturesAndItemFailuresStayInTheResult) {
  auto client = OpenText(kEcg);
  ASSERT_NE(client, nullptr);
  RunRequest good, bad;
  good.inputs = {Patient("p", 5, 60)};
  bad.inputs = {{"q", "q.ecg", Blob::FromString("not an ecg\n")}};
  auto f1 = client->Call(good);
  auto f2 = client->Call(bad);
  Result<RunResult> r1 = f1.get(), r2 = f2.get();
  ASSERT_TRUE(r1.ok());
  EXPECT_GT(r1->report.counters["beats"], 0);
  ASSERT_TRUE(r2.ok());  // it ran; its item failed
  ASSERT_EQ(r2->report.failures.size(), 1u);
  EXPECT_EQ(r2->report.failures[0].stage, "chunks");
  RunResult direct;
  Status s = client->Run(bad, &direct);
  EXPECT_EQ(s.code(), Status::Code::kFailed);
  EXPECT_THAT(std::string(s.message()), HasSubstr("stage chunks stream q item q.ecg"));
}

TEST(Client, PassesDataThroughTheDataContainer) {
  const std::string segment = "overlay-client-test-" + std::to_string(getpid());
  auto client = OpenText(std::string(kEcg) + "[STORAGE]\nsegment = " + segment +
                             "\nmemory = 16MiB\ndisk = none\n[END]\n",
                         /*use_store=*/true);
  ASSERT_NE(client, nullptr);
  RunRequest req;
  req.inputs = {Patient("p", 5, 60)};
  RunResult out;
  Status s = client->Run(req, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_FALSE(out.outputs.empty());
  for (const auto& o : out.outputs) EXPECT_TRUE(o.data.key().has_value()) << o.name;
  EXPECT_EQ(out.report.stored.size(), out.outputs.size());
  client.reset();
  fs::remove("/dev/shm/" + segment);
}

// The detector on an endpoint daemon (in this process, its own data
// container), reached through the address the client's config names.
TEST(Client, RunsAStageOnTheEndpointItsConfigNames) {
  const std::string name = fmt::format("clienttest{}", getpid());
  auto endpoint = [&](const std::string& address) {
    return "[ENDPOINT]\nname = " + name + "\nid = 34a582db-6a61-4acc-ac60-1a0d66ccbf58\naddress = " +
           address + "\n[END]\n";
  };
  const std::string ecg = std::string(kEcg).replace(std::string(kEcg).rfind("[END]"), 5,
                                                    "endpoint = " + name + "\n[END]");
  auto server_spec = ParseConfigText(ecg + endpoint("tcp://127.0.0.1:0"), "<endpoint>", ".");
  ASSERT_TRUE(server_spec.ok()) << server_spec.status().ToString();
  auto server = EndpointServer::Create(*server_spec, name);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  (*server)->Start();
  const std::string segment = "overlay-client-remote-" + std::to_string(getpid());
  auto client = OpenText(ecg + endpoint((*server)->address()) +
                             "[STORAGE]\nsegment = " + segment + "\ndisk = none\n[END]\n",
                         /*use_store=*/true);
  ASSERT_NE(client, nullptr);
  auto local = OpenText(kEcg);
  ASSERT_NE(local, nullptr);
  RunRequest req;
  req.inputs = {Patient("p", 8, 80)};
  RunResult there, here;
  Status s = client->Run(req, &there);
  EXPECT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(local->Run(req, &here).ok());
  ASSERT_EQ(there.outputs.size(), here.outputs.size());
  for (size_t i = 0; i < here.outputs.size(); ++i)
    EXPECT_EQ(there.outputs[i].data.view(), here.outputs[i].data.view()) << here.outputs[i].name;
  EXPECT_GT(there.report.counters["beats"], 0);
  client.reset();
  server->reset();
  fs::remove("/dev/shm/" + segment);
  fs::remove("/dev/shm/overlay-" + name);
}

TEST(Client, OpenReportsConfigErrorsWithTheirLine) {
  ClientOptions o;
  o.config_text = "[FUNCTION]\nname = f\nbuiltn = qrs_detector\n[END]\n";
  auto c = Client::Open(o);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("<text>:3"));
  // A missing source that is a typo of a stage name is not taken for a directory.
  std::string typo = kEcg;
  typo.replace(typo.find("source = chunks"), 15, "source = chunk");
  o.config_text = typo;
  c = Client::Open(o);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("did you mean 'chunks'"));
  EXPECT_FALSE(Client::Open(ClientOptions{}).ok());
}

}  // namespace
}  // namespace overlay
