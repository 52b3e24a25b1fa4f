// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <string>

#include "ecg_chunk.h"
#include "ecg_functions.h"
#include "ecg_text.h"
#include "synthetic_ecg.h"

namespace overlay::ecg {
namespace {

std::unique_ptr<Function> Make(std::vector<std::string> args) {
  Result<std::unique_ptr<Function>> f = NewSensorSimulator(args);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? std::move(f).value() : nullptr;
}

Task TaskFor(std::string name, std::string text) {
  Task t;
  t.stream = "ward3/" + name;
  t.inputs.push_back({std::move(name), Blob::FromString(std::move(text))});
  return t;
}

TEST(SensorSimulator, SplitsRecordingIntoNumberedChunks) {
  std::string text = "time,mV\n# fs=250\n";
  for (int i = 0; i < 2500; ++i)
    text += std::to_string(i) + "," + std::to_string(i % 100 / 100.0) + "\n";
  auto f = Make({"1000"});
  ASSERT_TRUE(f);
  Task t = TaskFor("rec.csv", text);
  ASSERT_TRUE(f->Process(t).ok());
  ASSERT_EQ(t.outputs.size(), 3u);
  EXPECT_EQ(t.counters["samples"], 2500);
  const char* names[] = {"rec_00000.txt", "rec_00001.txt", "rec_00002.txt"};
  const size_t sizes[] = {1000, 1000, 500};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(t.outputs[i].name, names[i]);
    ASSERT_TRUE(IsBinaryChunk(t.outputs[i].data.view()));
    EXPECT_EQ(t.outputs[i].data.size(), EncodedChunkSize(sizes[i]));
    Result<SignalChunk> c = DecodeChunk(t.outputs[i].data.view());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->fs, 250);
    EXPECT_EQ(c->first_sample, static_cast<int64_t>(1000 * i));
    ASSERT_EQ(c->mv.size(), sizes[i]);
    for (size_t k = 0; k < c->mv.size(); ++k)
      ASSERT_NEAR(c->mv[k], ((1000 * i + k) % 100) / 100.0, 1e-6) << i << ":" << k;
  }
}

TEST(SensorSimulator, DefaultChunkIsThousandSamples) {
  auto f = Make({});
  ASSERT_TRUE(f);
  std::string text = "# fs=360\n";
  for (int i = 0; i < 1001; ++i) text += "0.5\n";
  Task t = TaskFor("a.txt", text);
  ASSERT_TRUE(f->Process(t).ok());
  ASSERT_EQ(t.outputs.size(), 2u);
  EXPECT_EQ(DecodeChunk(t.outputs[1].data.view())->mv.size(), 1u);
  EXPECT_EQ(DecodeChunk(t.outputs[1].data.view())->fs, 360);
}

TEST(SensorSimulator, SynthesizesFromSpec) {
  auto f = Make({"4096"});
  ASSERT_TRUE(f);
  const std::string spec = "# overlay-synthetic-ecg\nduration_s = 30\nhr_bpm = 80\nseed = 5\n";
  Task t = TaskFor("patient7.txt", spec);
  ASSERT_TRUE(f->Process(t).ok());
  SyntheticEcgOptions o = *ParseSyntheticSpec(spec);
  SyntheticEcg e = GenerateSyntheticEcg(o);
  ASSERT_EQ(t.outputs.size(), (e.mv.size() + 4095) / 4096);
  std::vector<float> joined;
  for (const auto& out : t.outputs) {
    Result<SignalChunk> c = DecodeChunk(out.data.view());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->first_sample, static_cast<int64_t>(joined.size()));
    joined.insert(joined.end(), c->mv.begin(), c->mv.end());
  }
  EXPECT_EQ(joined, e.mv);
  EXPECT_EQ(t.outputs.back().name, "patient7_00002.txt");
}

TEST(SensorSimulator, MalformedInputFailsWithLineNumber) {
  auto f = Make({"100"});
  ASSERT_TRUE(f);
  Task bad = TaskFor("broken.txt", "# fs=360\n0.1\n0.2\n0.3\n0.4oops\n0.5\n");
  Status s = f->Process(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("broken.txt"), std::string_view::npos) << s.ToString();
  EXPECT_NE(s.message().find("line 5"), std::string_view::npos) << s.ToString();
  Task bad_spec = TaskFor("p.txt", "# overlay-synthetic-ecg\nhr_bpm = 70\nhr = 3\n");
  Status s2 = f->Process(bad_spec);
  ASSERT_FALSE(s2.ok());
  EXPECT_NE(s2.message().find("line 3"), std::string_view::npos) << s2.ToString();
}

// The files of a record folder besides its signal (shared/ecg/<record>/) are
// not ECG records: each is refused with the reason, not read as 0 samples.
TEST(SensorSimulator, RefusesFilesThatAreNotEcgRecords) {
  auto f = Make({"100"});
  ASSERT_TRUE(f);
  struct Case {
    const char* name;
    const char* text;
    const char* reason;
  } cases[] = {
      {"vf.txt", "14665,18396\n19715,21827\n", "no '# fs=<Hz>' header"},
      {"beats.txt", "83,N\n396,N\n711,N\n", "no numeric samples"},
      {"header_only.txt", "# MIT-BIH record\n# fs=360\n# units=mV\n", "no numeric samples"},
      {"empty.txt", "", "no numeric samples"},
  };
  for (const Case& c : cases) {
    Task t = TaskFor(c.name, c.text);
    Status s = f->Process(t);
    ASSERT_FALSE(s.ok()) << c.name;
    EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
    EXPECT_NE(s.message().find(c.name), std::string_view::npos) << s.ToString();
    EXPECT_NE(s.message().find("not an ECG record"), std::string_view::npos) << s.ToString();
    EXPECT_NE(s.message().find(c.reason), std::string_view::npos) << s.ToString();
    EXPECT_TRUE(t.outputs.empty()) << c.name;
  }
}

TEST(SensorSimulator, ReadsAnMitBihStyleRecord) {
  auto f = Make({"2"});
  ASSERT_TRUE(f);
  Task t = TaskFor("signal.txt",
                   "# MIT-BIH Arrhythmia Database record 101, lead MLII\n# fs=360\n# units=mV\n"
                   "-0.345\n-0.345\n-0.350\n");
  ASSERT_TRUE(f->Process(t).ok());
  ASSERT_EQ(t.outputs.size(), 2u);
  Result<SignalChunk> c = DecodeChunk(t.outputs[1].data.view());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->first_sample, 2);
  EXPECT_EQ(c->mv, std::vector<float>{-0.350f});
}

TEST(SensorSimulator, RejectsBadArguments) {
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"0"}, {"-5"}, {"12x"}, {"abc"}, {"10", "20"}}) {
    Result<std::unique_ptr<Function>> f = NewSensorSimulator(args);
    EXPECT_FALSE(f.ok()) << args[0];
  }
}

}  // namespace
}  // namespace overlay::ecg
