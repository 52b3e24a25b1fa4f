// SPDX-License-Identifier: Apache-2.0
// Beat-by-beat scoring of detections against reference annotations, in the
// ANSI/AAMI EC57 style: a detection within the tolerance of a reference beat
// matches it, each reference beat is matched at most once, and beats and
// detections inside excluded intervals (e.g. ventricular flutter) are not scored.
#ifndef OVERLAY_FUNCTIONS_ECG_BEAT_SCORING_H_
#define OVERLAY_FUNCTIONS_ECG_BEAT_SCORING_H_

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace overlay::ecg {

struct BeatScore {
  int64_t reference = 0;  // scored reference beats (TP + FN)
  int64_t tp = 0, fn = 0, fp = 0;

  // Sensitivity and positive predictivity in percent (100 when undefined).
  double SensitivityPercent() const { return tp + fn ? 100.0 * tp / (tp + fn) : 100.0; }
  double PositivePredictivityPercent() const { return tp + fp ? 100.0 * tp / (tp + fp) : 100.0; }
  BeatScore& operator+=(const BeatScore& o) {
    reference += o.reference;
    tp += o.tp;
    fn += o.fn;
    fp += o.fp;
    return *this;
  }
};

// Closed sample interval [first, second].
using SampleInterval = std::pair<int64_t, int64_t>;

// How ScoreBeats pairs the beats, as indices into its spans: matched pairs
// (reference, detection), scored reference beats left unmatched (FN) and
// scored detections left unmatched (FP). Excluded beats appear in none.
struct BeatMatch {
  std::vector<std::pair<size_t, size_t>> pairs;
  std::vector<size_t> missed;  // reference indices
  std::vector<size_t> extra;   // detection indices
};

// REQUIRES: as ScoreBeats.
BeatMatch MatchBeats(std::span<const int64_t> reference, std::span<const int64_t> detected,
                     int64_t tolerance, std::span<const SampleInterval> excluded = {});

// REQUIRES: `reference` and `detected` sorted ascending. Each reference beat is
// matched to the nearest unmatched detection within `tolerance` samples.
BeatScore ScoreBeats(std::span<const int64_t> reference, std::span<const int64_t> detected,
                     int64_t tolerance, std::span<const SampleInterval> excluded = {});

}  // namespace overlay::ecg

#endif  // OVERLAY_FUNCTIONS_ECG_BEAT_SCORING_H_
