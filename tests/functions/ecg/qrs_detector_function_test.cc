// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <string>

#include "common/sensor_chunks.h"
#include "ecg_chunk.h"
#include "ecg_functions.h"
#include "ecg_test_util.h"
#include "ecg_text.h"
#include "synthetic_ecg.h"

namespace overlay::ecg {
namespace {

using testing_common::SensorChunks;

const char kSpec[] =
    "# overlay-synthetic-ecg\nduration_s = 75\nhr_bpm = 88\nseed = 3\nnoise_mv = 0.04\n"
    "pvc_fraction = 0.06\n";

TEST(QrsDetectorFunction, PerChunkAndFinalBeatsEqualWholeRecord) {
  auto f = NewQrsDetector({});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const Function& fn = **f;
  std::unique_ptr<StreamState> state = fn.NewStream("ward/patient");
  ASSERT_NE(state, nullptr);
  std::vector<NamedBlob> chunks = SensorChunks(kSpec, "ward/patient", 1000);
  ASSERT_EQ(chunks.size(), 27u);
  std::vector<int64_t> found;
  int64_t counted = 0;
  uint64_t seq = 0;
  for (const NamedBlob& c : chunks) {
    Task t;
    t.stream = "ward/patient";
    t.seq = seq++;
    t.state = state.get();
    t.inputs.push_back(c);
    ASSERT_TRUE(fn.Process(t).ok()) << c.name;
    ASSERT_EQ(t.outputs.size(), 1u);
    EXPECT_EQ(t.outputs[0].name, c.name.substr(0, c.name.size() - 4) + ".beats.csv");
    Result<BeatList> b = ParseBeats(t.outputs[0].data.view());
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->stream, "ward/patient");
    EXPECT_EQ(b->fs, 360);
    for (const Beat& x : b->beats) found.push_back(x.sample);
    counted += t.counters["beats"];
  }
  Task end;
  end.stream = "ward/patient";
  end.state = state.get();
  ASSERT_TRUE(fn.EndStream(end).ok());
  ASSERT_EQ(end.outputs.size(), 1u);
  EXPECT_EQ(end.outputs[0].name, "ward_patient_final.beats.csv");
  Result<BeatList> last = ParseBeats(end.outputs[0].data.view());
  ASSERT_TRUE(last.ok());
  for (const Beat& x : last->beats) found.push_back(x.sample);
  counted += end.counters["beats"];

  SyntheticEcg e = GenerateSyntheticEcg(*ParseSyntheticSpec(kSpec));
  std::vector<int64_t> whole = testing::Samples(testing::DetectWhole(e.mv, 360));
  EXPECT_EQ(found, whole);
  EXPECT_EQ(counted, static_cast<int64_t>(whole.size()));
  EXPECT_GT(whole.size(), 100u);
}

// All beats files of one stream fed `chunks`, in order, then ended.
std::vector<NamedBlob> DetectStream(const std::vector<NamedBlob>& chunks, const std::string& stream) {
  auto f = NewQrsDetector({});
  EXPECT_TRUE(f.ok());
  if (!f.ok()) return {};
  std::unique_ptr<StreamState> state = (*f)->NewStream(stream);
  std::vector<NamedBlob> out;
  for (const NamedBlob& c : chunks) {
    Task t;
    t.stream = stream;
    t.state = state.get();
    t.inputs.push_back(c);
    Status s = (*f)->Process(t);
    EXPECT_TRUE(s.ok()) << s.ToString();
    out.insert(out.end(), t.outputs.begin(), t.outputs.end());
  }
  Task end;
  end.stream = stream;
  end.state = state.get();
  EXPECT_TRUE((*f)->EndStream(end).ok());
  out.insert(out.end(), end.outputs.begin(), end.outputs.end());
  return out;
}

// A stream as binary chunks (native simulator) and as their text form (what a
// command function such as the seed's Python simulator writes) gives the same
// beats files, byte for byte.
TEST(QrsDetectorFunction, BinaryAndTextChunksGiveTheSameBeats) {
  std::vector<NamedBlob> binary = SensorChunks(kSpec, "ward/patient", 1000);
  ASSERT_EQ(binary.size(), 27u);
  std::vector<NamedBlob> text;
  for (const NamedBlob& c : binary) {
    ASSERT_TRUE(IsBinaryChunk(c.data.view())) << c.name;
    Result<std::string> t = ChunkText(c.data.view(), "ward/patient");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    text.push_back({c.name, Blob::FromString(std::move(t).value())});
  }
  std::vector<NamedBlob> from_binary = DetectStream(binary, "ward/patient");
  std::vector<NamedBlob> from_text = DetectStream(text, "ward/patient");
  ASSERT_EQ(from_binary.size(), binary.size() + 1);
  ASSERT_EQ(from_text.size(), from_binary.size());
  size_t beat_lines = 0;
  for (size_t i = 0; i < from_binary.size(); ++i) {
    EXPECT_EQ(from_text[i].name, from_binary[i].name);
    EXPECT_EQ(from_text[i].data.view(), from_binary[i].data.view()) << from_binary[i].name;
    beat_lines += ParseBeats(from_binary[i].data.view())->beats.size();
  }
  EXPECT_GT(beat_lines, 100u);
}

TEST(QrsDetectorFunction, GarbledBinaryChunkFailsWithTheReason) {
  std::vector<NamedBlob> chunks = SensorChunks(kSpec, "s", 1000);
  ASSERT_FALSE(chunks.empty());
  std::string cut(chunks[0].data.view().substr(0, 100));
  auto f = NewQrsDetector({});
  ASSERT_TRUE(f.ok());
  std::unique_ptr<StreamState> state = (*f)->NewStream("s");
  Task t;
  t.stream = "s";
  t.state = state.get();
  t.inputs.push_back({chunks[0].name, Blob::FromString(cut)});
  Status s = (*f)->Process(t);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(chunks[0].name), std::string_view::npos) << s.ToString();
  EXPECT_NE(s.message().find("truncated"), std::string_view::npos) << s.ToString();
}

TEST(QrsDetectorFunction, GapFailsTheChunkAndResyncs) {
  auto f = NewQrsDetector({});
  ASSERT_TRUE(f.ok());
  const Function& fn = **f;
  std::unique_ptr<StreamState> state = fn.NewStream("s");
  std::vector<NamedBlob> chunks = SensorChunks(kSpec, "s", 1000);
  auto run = [&](const NamedBlob& c) {
    Task t;
    t.stream = "s";
    t.state = state.get();
    t.inputs.push_back(c);
    return fn.Process(t);
  };
  ASSERT_TRUE(run(chunks[0]).ok());
  ASSERT_TRUE(run(chunks[1]).ok());
  Status gap = run(chunks[3]);  // chunk 2 lost
  ASSERT_FALSE(gap.ok());
  EXPECT_NE(gap.message().find("first_sample 3000"), std::string_view::npos) << gap.ToString();
  EXPECT_NE(gap.message().find("expected 2000"), std::string_view::npos) << gap.ToString();
  // Re-synced on chunk 3: chunk 4 continues it.
  EXPECT_TRUE(run(chunks[4]).ok());
  EXPECT_FALSE(run(chunks[4]).ok());  // a repeat does not continue
}

TEST(QrsDetectorFunction, MalformedChunkNamesFileAndLine) {
  auto f = NewQrsDetector({});
  ASSERT_TRUE(f.ok());
  std::unique_ptr<StreamState> state = (*f)->NewStream("s");
  Task t;
  t.stream = "s";
  t.state = state.get();
  t.inputs.push_back({"x_00000.txt", Blob::FromString("# stream=s\n# fs=360\n0.1\nzz\n")});
  Status s = (*f)->Process(t);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("x_00000.txt"), std::string_view::npos) << s.ToString();
  EXPECT_NE(s.message().find("line 4"), std::string_view::npos) << s.ToString();
}

TEST(QrsDetectorFunction, RejectsSamplingRatesOutsideItsDesign) {
  auto f = NewQrsDetector({});
  ASSERT_TRUE(f.ok());
  std::unique_ptr<StreamState> state = (*f)->NewStream("s");
  for (const char* fs : {"10", "1e9"}) {
    Task t;
    t.stream = "s";
    t.state = state.get();
    t.inputs.push_back({"c.txt", Blob::FromString(std::string("# fs=") + fs + "\n0.1\n")});
    Status s = (*f)->Process(t);
    ASSERT_FALSE(s.ok()) << fs;
    EXPECT_NE(s.message().find("outside"), std::string_view::npos) << s.ToString();
  }
}

TEST(QrsDetectorFunction, EmptyStreamStillEmitsFinalFile) {
  auto f = NewQrsDetector({});
  ASSERT_TRUE(f.ok());
  std::unique_ptr<StreamState> state = (*f)->NewStream("a/b");
  Task end;
  end.stream = "a/b";
  end.state = state.get();
  ASSERT_TRUE((*f)->EndStream(end).ok());
  ASSERT_EQ(end.outputs.size(), 1u);
  EXPECT_EQ(end.outputs[0].name, "a_b_final.beats.csv");
  EXPECT_TRUE(ParseBeats(end.outputs[0].data.view())->beats.empty());
  EXPECT_FALSE(NewQrsDetector({"extra"}).ok());
}

}  // namespace
}  // namespace overlay::ecg
