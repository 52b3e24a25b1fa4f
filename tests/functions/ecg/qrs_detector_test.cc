// SPDX-License-Identifier: Apache-2.0
#include "qrs_detector.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "annotated_record.h"
#include "beat_scoring.h"
#include "ecg_test_util.h"
#include "synthetic_ecg.h"

namespace overlay::ecg {
namespace {

using testing::DetectWhole;
using testing::Samples;

int64_t Tolerance(double fs) { return static_cast<int64_t>(0.15 * fs + 0.5); }

std::vector<Beat> DetectChunked(std::span<const float> mv, double fs, size_t chunk) {
  std::vector<Beat> beats;
  QrsDetector det(fs);
  for (size_t i = 0; i < mv.size(); i += chunk)
    det.Process(mv.subspan(i, std::min(chunk, mv.size() - i)), &beats);
  det.Flush(&beats);
  return beats;
}

void ExpectSameBeats(const std::vector<Beat>& a, const std::vector<Beat>& b,
                     const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].sample, b[i].sample) << what << " beat " << i;
    EXPECT_EQ(a[i].time_s, b[i].time_s) << what << " beat " << i;
    EXPECT_EQ(a[i].rr_s, b[i].rr_s) << what << " beat " << i;
    EXPECT_EQ(a[i].hr_bpm, b[i].hr_bpm) << what << " beat " << i;
  }
}

struct SyntheticCase {
  double hr;
  uint64_t seed;
  double fs;
  double pvc;
};

std::string CaseName(const SyntheticCase& c) {
  return fmt::format("hr{}_seed{}_fs{}_pvc{}", c.hr, c.seed, c.fs, static_cast<int>(c.pvc * 100));
}

void PrintTo(const SyntheticCase& c, std::ostream* os) { *os << CaseName(c); }

class SyntheticAccuracy : public ::testing::TestWithParam<SyntheticCase> {};

TEST_P(SyntheticAccuracy, FindsEveryKnownBeatAndNothingElse) {
  SyntheticEcgOptions o;
  o.hr_bpm = GetParam().hr;
  o.seed = GetParam().seed;
  o.fs = GetParam().fs;
  o.pvc_fraction = GetParam().pvc;
  o.duration_s = 120;
  o.noise_mv = 0.03;
  o.wander_mv = 0.3;
  o.mains_mv = 0.02;
  SyntheticEcg ecg = GenerateSyntheticEcg(o);
  ASSERT_GT(ecg.r_peaks.size(), 90u);
  std::vector<Beat> beats = DetectWhole(ecg.mv, o.fs);
  std::vector<int64_t> found = Samples(beats);
  BeatScore s = ScoreBeats(ecg.r_peaks, found, Tolerance(o.fs));
  EXPECT_EQ(s.fn, 0) << "missed beats";
  EXPECT_EQ(s.fp, 0) << "extra detections";
  // Every beat after the first carries its RR interval and rate.
  ASSERT_FALSE(beats.empty());
  EXPECT_EQ(beats[0].rr_s, 0);
  for (size_t i = 1; i < beats.size(); ++i) {
    EXPECT_NEAR(beats[i].rr_s, (beats[i].sample - beats[i - 1].sample) / o.fs, 1e-12);
    EXPECT_NEAR(beats[i].hr_bpm, 60.0 / beats[i].rr_s, 1e-9);
    EXPECT_NEAR(beats[i].time_s, beats[i].sample / o.fs, 1e-12);
  }
}

INSTANTIATE_TEST_SUITE_P(
    RatesSeedsAndSamplingRates, SyntheticAccuracy,
    ::testing::Values(SyntheticCase{50, 1, 360, 0}, SyntheticCase{60, 2, 360, 0.05},
                      SyntheticCase{75, 3, 360, 0}, SyntheticCase{90, 4, 360, 0.08},
                      SyntheticCase{110, 5, 360, 0}, SyntheticCase{130, 6, 360, 0.05},
                      SyntheticCase{150, 7, 360, 0}, SyntheticCase{70, 8, 250, 0.05},
                      SyntheticCase{120, 9, 250, 0}, SyntheticCase{80, 10, 500, 0.05},
                      SyntheticCase{140, 11, 500, 0}, SyntheticCase{65, 12, 1000, 0}),
    [](const ::testing::TestParamInfo<SyntheticCase>& info) { return CaseName(info.param); });

TEST(QrsDetector, ChunkedEqualsWholeOnSynthetic) {
  SyntheticEcgOptions o;
  o.duration_s = 90;
  o.hr_bpm = 95;
  o.seed = 42;
  o.noise_mv = 0.05;
  o.pvc_fraction = 0.1;
  SyntheticEcg ecg = GenerateSyntheticEcg(o);
  std::vector<Beat> whole = DetectWhole(ecg.mv, o.fs);
  ASSERT_GT(whole.size(), 100u);
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{360}, size_t{1000}, size_t{4096}})
    ExpectSameBeats(whole, DetectChunked(ecg.mv, o.fs, chunk), "chunk " + std::to_string(chunk));
}

TEST(QrsDetector, ChunkedEqualsWholeWithIrregularChunks) {
  SyntheticEcgOptions o;
  o.duration_s = 60;
  o.seed = 7;
  o.pvc_fraction = 0.1;
  SyntheticEcg ecg = GenerateSyntheticEcg(o);
  std::vector<Beat> whole = DetectWhole(ecg.mv, o.fs);
  std::vector<Beat> beats;
  QrsDetector det(o.fs);
  std::span<const float> rest(ecg.mv);
  for (size_t k = 0; !rest.empty(); ++k) {
    size_t n = std::min(rest.size(), (k * 7919) % 1500);  // includes empty chunks
    det.Process(rest.first(n), &beats);
    rest = rest.subspan(n);
  }
  det.Flush(&beats);
  ExpectSameBeats(whole, beats, "irregular chunks");
}

TEST(QrsDetector, ShortAndFlatStreams) {
  std::vector<Beat> beats;
  {
    QrsDetector det(360);
    det.Flush(&beats);  // nothing fed
  }
  EXPECT_TRUE(beats.empty());
  std::vector<float> flat(3600, 0.25f);
  EXPECT_TRUE(DetectWhole(flat, 360).empty());
  // Shorter than the 2 s learning phase: beats are still found at the flush.
  SyntheticEcgOptions o;
  o.duration_s = 1.5;
  o.hr_bpm = 120;
  SyntheticEcg ecg = GenerateSyntheticEcg(o);
  std::vector<int64_t> found = Samples(DetectWhole(ecg.mv, o.fs));
  BeatScore s = ScoreBeats(ecg.r_peaks, found, Tolerance(o.fs));
  EXPECT_EQ(s.fn, 0);
  EXPECT_EQ(s.fp, 0);
}

TEST(QrsDetector, SurvivesExtremeValues) {
  std::vector<float> mv(7200, 0.0f);
  for (size_t i = 0; i < mv.size(); i += 97) mv[i] = (i / 97) % 2 ? 1e30f : -1e30f;
  std::vector<Beat> beats = DetectWhole(mv, 360);
  for (size_t i = 1; i < beats.size(); ++i) EXPECT_GT(beats[i].sample, beats[i - 1].sample);
  // Beyond the detector's range (2^20 µV) a sample counts as the bound, of
  // its own sign (found by fuzz_chunk: the conversion to int64 came first).
  std::vector<float> bounded = mv;
  for (float& v : bounded)
    if (v != 0) v = v > 0 ? 1048.576f : -1048.576f;
  ExpectSameBeats(DetectWhole(bounded, 360), beats, "bounded");
}

// MIT-BIH Arrhythmia Database, DS1 half (see shared/ecg/README).
TEST(QrsDetector, MitBihAccuracy) {
  namespace fs = std::filesystem;
  const std::string dir = testing::SharedEcgDir();
  if (!fs::exists(dir)) GTEST_SKIP() << "no MIT-BIH records at " << dir;
  std::vector<std::string> records;
  for (const auto& e : fs::directory_iterator(dir))
    if (fs::exists(e.path() / "signal.txt")) records.push_back(e.path().string());
  std::sort(records.begin(), records.end());
  ASSERT_FALSE(records.empty());
  BeatScore total;
  bool checked_chunking = false;
  for (const auto& r : records) {
    Result<AnnotatedRecord> rec = LoadAnnotatedRecord(r);
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    std::vector<Beat> beats = DetectWhole(rec->signal.mv, rec->signal.fs);
    BeatScore s = ScoreBeats(rec->beats, Samples(beats), Tolerance(rec->signal.fs), rec->excluded);
    RecordProperty("record_" + rec->name, fmt::format("Se {:.2f} +P {:.2f}", s.SensitivityPercent(),
                                                      s.PositivePredictivityPercent()));
    total += s;
    if (rec->name == "203") {
      // The hardest record (noise, multiform PVCs): chunking changes nothing.
      ExpectSameBeats(beats, DetectChunked(rec->signal.mv, rec->signal.fs, 1000), "203 in 1000s");
      ExpectSameBeats(beats, DetectChunked(rec->signal.mv, rec->signal.fs, 7), "203 in 7s");
      checked_chunking = true;
    }
  }
  EXPECT_TRUE(checked_chunking || records.size() < 22);
  EXPECT_GE(total.SensitivityPercent(), 99.7)
      << "TP " << total.tp << " FN " << total.fn << " FP " << total.fp;
  EXPECT_GE(total.PositivePredictivityPercent(), 99.7)
      << "TP " << total.tp << " FN " << total.fn << " FP " << total.fp;
}

}  // namespace
}  // namespace overlay::ecg
