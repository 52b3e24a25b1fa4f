// SPDX-License-Identifier: Apache-2.0
#include "beat_scoring.h"

#include <gtest/gtest.h>

#include <vector>

#include "annotated_record.h"

namespace overlay::ecg {
namespace {

TEST(BeatScoring, ExactAndToleranceEdges) {
  std::vector<int64_t> ref = {100, 500, 900};
  BeatScore s = ScoreBeats(ref, std::vector<int64_t>{154, 446, 955}, 54);
  EXPECT_EQ(s.tp, 2);  // 154 and 446 are exactly 54 away; 955 is 55
  EXPECT_EQ(s.fn, 1);
  EXPECT_EQ(s.fp, 1);
  EXPECT_EQ(s.reference, 3);
}

TEST(BeatScoring, EachReferenceMatchedOnce) {
  std::vector<int64_t> ref = {1000};
  BeatScore s = ScoreBeats(ref, std::vector<int64_t>{990, 1005, 1030}, 54);
  EXPECT_EQ(s.tp, 1);
  EXPECT_EQ(s.fp, 2);
  EXPECT_EQ(s.fn, 0);
  EXPECT_NEAR(s.PositivePredictivityPercent(), 100.0 / 3, 1e-9);
  EXPECT_EQ(s.SensitivityPercent(), 100.0);
}

TEST(BeatScoring, CloseBeatsEachKeepTheirDetection) {
  std::vector<int64_t> ref = {1000, 1050};
  BeatScore s = ScoreBeats(ref, std::vector<int64_t>{990, 1049}, 54);
  EXPECT_EQ(s.tp, 2);
  EXPECT_EQ(s.fp, 0);
  EXPECT_EQ(s.fn, 0);
}

TEST(BeatScoring, ExcludedIntervalsAreNotScored) {
  std::vector<int64_t> ref = {100, 500, 900};
  std::vector<int64_t> det = {100, 520, 530, 540, 700};
  std::vector<SampleInterval> vf = {{450, 750}};
  BeatScore s = ScoreBeats(ref, det, 54, vf);
  EXPECT_EQ(s.reference, 2);
  EXPECT_EQ(s.tp, 1);
  EXPECT_EQ(s.fn, 1);  // 900
  EXPECT_EQ(s.fp, 0);
}

TEST(BeatScoring, EmptyInputs) {
  BeatScore none = ScoreBeats({}, {}, 54);
  EXPECT_EQ(none.SensitivityPercent(), 100.0);
  EXPECT_EQ(none.PositivePredictivityPercent(), 100.0);
  std::vector<int64_t> ref = {5, 10};
  BeatScore missed = ScoreBeats(ref, {}, 54);
  EXPECT_EQ(missed.fn, 2);
  EXPECT_EQ(missed.reference, 2);
}

TEST(BeatScoring, Totals) {
  BeatScore a{10, 9, 1, 2}, b{5, 5, 0, 0};
  a += b;
  EXPECT_EQ(a.reference, 15);
  EXPECT_EQ(a.tp, 14);
  EXPECT_EQ(a.fn, 1);
  EXPECT_EQ(a.fp, 2);
}

TEST(AnnotatedRecord, ParsersReportLines) {
  Result<std::vector<int64_t>> b = ParseReferenceBeats("10,N\n5,V\n");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (std::vector<int64_t>{5, 10}));
  Result<std::vector<int64_t>> bad = ParseReferenceBeats("10,N\nx,V\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string_view::npos);
  Result<std::vector<SampleInterval>> iv = ParseIntervals("1,5\n10,20\n");
  ASSERT_TRUE(iv.ok());
  EXPECT_EQ(iv->size(), 2u);
  EXPECT_FALSE(ParseIntervals("5,1\n").ok());
  EXPECT_TRUE(LoadAnnotatedRecord("/nonexistent/record").status().IsNotFound());
}

}  // namespace
}  // namespace overlay::ecg
