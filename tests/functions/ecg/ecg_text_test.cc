// SPDX-License-Identifier: Apache-2.0
#include "ecg_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace overlay::ecg {
namespace {

using ::testing::HasSubstr;

TEST(EcgText, ChunkRoundTrip) {
  SignalChunk c;
  c.stream = "patient42/rec.txt";
  c.fs = 250.5;
  c.first_sample = 123456789012;
  c.mv = {0.0f, -1.25f, 2.5f, 0.001f, -0.999f};
  std::string text = FormatChunk(c);
  EXPECT_EQ(text.substr(0, text.find("0.000")),
            "# stream=patient42/rec.txt\n# fs=250.5\n# first_sample=123456789012\n");
  Result<SignalChunk> back = ParseChunk(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->stream, c.stream);
  EXPECT_EQ(back->fs, c.fs);
  EXPECT_EQ(back->first_sample, c.first_sample);
  EXPECT_EQ(back->mv, c.mv);
}

TEST(EcgText, ChunkAcceptsCrlfAndBlankLines) {
  Result<SignalChunk> c = ParseChunk("# stream=s\r\n# fs=500\r\n\r\n0.5\r\n+1.5\r\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->fs, 500);
  EXPECT_EQ(c->first_sample, 0);
  EXPECT_EQ(c->mv, (std::vector<float>{0.5f, 1.5f}));
}

TEST(EcgText, ChunkErrorsNameTheLine) {
  Result<SignalChunk> c = ParseChunk("# stream=s\n# fs=360\n0.1\n0.2x\n");
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsInvalidArgument());
  EXPECT_NE(c.status().message().find("line 4"), std::string_view::npos) << c.status().ToString();
  EXPECT_FALSE(ParseChunk("# fs=abc\n1\n").ok());
  EXPECT_FALSE(ParseChunk("# fs=0\n1\n").ok());
  EXPECT_FALSE(ParseChunk("# first_sample=1.5\n1\n").ok());
  // Positive but absurd timing: a corrupt or hostile header, not a recording.
  EXPECT_THAT(ParseChunk("# fs=1e-300\n1\n").status().message(), HasSubstr("outside 1..1000000 Hz"));
  EXPECT_FALSE(ParseChunk("# fs=inf\n1\n").ok());
  EXPECT_THAT(ParseChunk("# first_sample=-1\n1\n").status().message(), HasSubstr("position -1"));
  EXPECT_FALSE(ParseChunk("# first_sample=9223372036854775807\n1\n").ok());
  EXPECT_FALSE(ParseChunk("# first_sample=281474976710656\n1\n").ok());  // ends past 2^48
  EXPECT_FALSE(ParseChunk("nan\n").ok());
  EXPECT_FALSE(ParseChunk("1e99\n").ok());  // beyond float
}

TEST(EcgText, BeatsRoundTrip) {
  BeatList b{"p/1", 360, {{100, 100 / 360.0, 0, 0, 0}, {460, 460 / 360.0, 1.0, 60.0, 'V'}}};
  std::string text = FormatBeats(b);
  EXPECT_EQ(text,
            "# stream=p/1\n# fs=360\nsample,time_s,rr_s,hr_bpm,class\n100,0.278,,,\n"
            "460,1.278,1.000,60.0,V\n");
  Result<BeatList> back = ParseBeats(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->stream, "p/1");
  EXPECT_EQ(back->fs, 360);
  ASSERT_EQ(back->beats.size(), 2u);
  EXPECT_EQ(back->beats[0].sample, 100);
  EXPECT_EQ(back->beats[0].rr_s, 0);
  EXPECT_EQ(back->beats[1].sample, 460);
  EXPECT_DOUBLE_EQ(back->beats[1].rr_s, 1.0);
  EXPECT_DOUBLE_EQ(back->beats[1].hr_bpm, 60.0);
  EXPECT_EQ(back->beats[0].beat_class, 0);
  EXPECT_EQ(back->beats[1].beat_class, 'V');
}

TEST(EcgText, BeatsWithoutClassColumnStillParse) {
  Result<BeatList> b =
      ParseBeats("# fs=360\nsample,time_s,rr_s,hr_bpm\n100,0.278,,\n460,1.278,1.000,60.0\n");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->beats.size(), 2u);
  EXPECT_EQ(b->beats[1].sample, 460);
  EXPECT_EQ(b->beats[1].beat_class, 0);
  // An old-format row under the new header is malformed, and the reverse.
  EXPECT_FALSE(ParseBeats("sample,time_s,rr_s,hr_bpm,class\n100,0.278,,\n").ok());
  EXPECT_FALSE(ParseBeats("sample,time_s,rr_s,hr_bpm\n100,0.278,,,N\n").ok());
}

TEST(EcgText, ClassedBeatsErrorsNameTheLine) {
  for (const char* bad : {"1,2,,,X\n", "1,2,,,NN\n", "1,2,,,N,\n", "1,2,,\n", "1,2,3,4,5\n"}) {
    Result<BeatList> b = ParseBeats(std::string("# fs=360\nsample,time_s,rr_s,hr_bpm,class\n") + bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find("line 3"), std::string_view::npos) << b.status().ToString();
  }
  // An absurd fs is blamed on its own header line, before any row.
  Result<BeatList> b = ParseBeats("# stream=s\n# fs=1e-300\nsample,time_s,rr_s,hr_bpm\n");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("line 2"), std::string_view::npos) << b.status().ToString();
}

TEST(EcgText, BeatsErrorsNameTheLine) {
  for (const char* bad : {"1,2,3\n", "x,1,,\n", "1,2,3,4,5\n", "1,2,a,\n", "-1,0,,\n", "1,inf,,\n",
                          "1,1e300,,\n", "1,0,nan,\n", "1,0,1,-5\n"}) {
    Result<BeatList> b = ParseBeats(std::string("# fs=360\nsample,time_s,rr_s,hr_bpm\n") + bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find("line 3"), std::string_view::npos) << b.status().ToString();
  }
}

TEST(EcgText, RecordingOneOrTwoColumnsWithHeader) {
  Result<Recording> r = ParseRecording("time;mV\n# fs=500\n0.000;0.25\n0.002 ; -0.5\n0.004\t1\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->fs, 500);
  EXPECT_EQ(r->mv, (std::vector<float>{0.25f, -0.5f, 1.0f}));
  Result<Recording> one = ParseRecording("-0.145\n-0.145\n");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->fs, kDefaultFs);
  EXPECT_EQ(one->mv.size(), 2u);
}

TEST(EcgText, RecordingErrorsNameTheLine) {
  Result<Recording> r = ParseRecording("# fs=360\n0.1\n0.2\n0.3 0.4 0.5\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("line 4"), std::string_view::npos) << r.status().ToString();
  Result<Recording> text_in_data = ParseRecording("0.1\nhello\n");
  ASSERT_FALSE(text_in_data.ok());
  EXPECT_NE(text_in_data.status().message().find("line 2"), std::string_view::npos);
  EXPECT_FALSE(ParseRecording("# fs=-5\n1\n").ok());
  EXPECT_FALSE(ParseRecording("header only\n").ok());
  EXPECT_FALSE(ParseRecording("").ok());
}

}  // namespace
}  // namespace overlay::ecg
