// SPDX-License-Identifier: Apache-2.0
#include "synthetic_ecg.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace overlay::ecg {
namespace {

TEST(SyntheticEcg, DeterministicFromSeed) {
  SyntheticEcgOptions o;
  o.duration_s = 20;
  SyntheticEcg a = GenerateSyntheticEcg(o);
  SyntheticEcg b = GenerateSyntheticEcg(o);
  EXPECT_EQ(a.mv, b.mv);
  EXPECT_EQ(a.r_peaks, b.r_peaks);
  o.seed = 2;
  SyntheticEcg c = GenerateSyntheticEcg(o);
  EXPECT_NE(a.mv, c.mv);
}

TEST(SyntheticEcg, BeatCountFollowsHeartRate) {
  for (double hr : {45.0, 72.0, 150.0}) {
    SyntheticEcgOptions o;
    o.duration_s = 120;
    o.hr_bpm = hr;
    SyntheticEcg e = GenerateSyntheticEcg(o);
    EXPECT_EQ(e.mv.size(), static_cast<size_t>(120 * o.fs));
    double expected = 120 * hr / 60;
    EXPECT_NEAR(static_cast<double>(e.r_peaks.size()), expected, 0.06 * expected) << hr;
    EXPECT_TRUE(std::is_sorted(e.r_peaks.begin(), e.r_peaks.end()));
  }
}

TEST(SyntheticEcg, RPeaksSitOnTheRWave) {
  SyntheticEcgOptions o;
  o.duration_s = 30;
  o.noise_mv = 0;
  o.wander_mv = 0;
  o.pvc_fraction = 0.1;
  SyntheticEcg e = GenerateSyntheticEcg(o);
  ASSERT_GT(e.r_peaks.size(), 20u);
  for (int64_t r : e.r_peaks) {
    // The largest sample within 50 ms is at most 2 samples from the R peak.
    int64_t lo = std::max<int64_t>(0, r - 18), hi = std::min<int64_t>(e.mv.size() - 1, r + 18);
    int64_t best = lo;
    for (int64_t k = lo; k <= hi; ++k)
      if (e.mv[k] > e.mv[best]) best = k;
    EXPECT_LE(std::abs(best - r), 2) << r;
    EXPECT_GT(e.mv[r], 0.7f) << r;
  }
  // Every sample is whole microvolts.
  for (float v : e.mv) ASSERT_NEAR(v * 1000.0, std::round(v * 1000.0), 1e-3);
}

TEST(SyntheticEcg, SpecParsing) {
  Result<SyntheticEcgOptions> o = ParseSyntheticSpec(
      "# overlay-synthetic-ecg\n# a comment\n\nduration_s = 12.5\nhr_bpm=100\nseed = "
      "18446744073709551615\r\nfs = 500\n");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->duration_s, 12.5);
  EXPECT_EQ(o->hr_bpm, 100);
  EXPECT_EQ(o->seed, 18446744073709551615ULL);
  EXPECT_EQ(o->fs, 500);
  EXPECT_EQ(o->noise_mv, SyntheticEcgOptions().noise_mv);
  EXPECT_TRUE(IsSyntheticSpec("# overlay-synthetic-ecg\r\n"));
  EXPECT_FALSE(IsSyntheticSpec("0.1\n# overlay-synthetic-ecg\n"));
}

TEST(SyntheticEcg, SpecErrorsNameTheLine) {
  struct Case {
    const char* text;
    const char* line;
  } cases[] = {
      {"# overlay-synthetic-ecg\nhr_bpm = 70\nheart = 3\n", "line 3"},
      {"# overlay-synthetic-ecg\nhr_bpm = fast\n", "line 2"},
      {"# overlay-synthetic-ecg\n\nhr_bpm = 900\n", "line 3"},
      {"# overlay-synthetic-ecg\nduration_s = 0\n", "line 2"},
      {"# overlay-synthetic-ecg\nseed = -1\n", "line 2"},
      {"# overlay-synthetic-ecg\njust words\n", "line 2"},
      {"0.1\n0.2\n", "line 1"},
  };
  for (const auto& c : cases) {
    Result<SyntheticEcgOptions> o = ParseSyntheticSpec(c.text);
    ASSERT_FALSE(o.ok()) << c.text;
    EXPECT_TRUE(o.status().IsInvalidArgument());
    EXPECT_NE(o.status().message().find(c.line), std::string_view::npos) << o.status().ToString();
  }
}

}  // namespace
}  // namespace overlay::ecg
