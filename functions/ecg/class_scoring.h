// SPDX-License-Identifier: Apache-2.0
// Beat classification scored EC57-style: reference and detected beats are
// paired as ScoreBeats pairs them, and each pair counts in a confusion matrix
// of AAMI classes (reference row, detected column). Missed reference beats
// count in a "not detected" column, extra detections in a "no reference" row,
// so a class's Se and +P include detection errors.
#ifndef OVERLAY_FUNCTIONS_ECG_CLASS_SCORING_H_
#define OVERLAY_FUNCTIONS_ECG_CLASS_SCORING_H_

#include <cstdint>
#include <span>
#include <string>

#include "beat_scoring.h"

namespace overlay::ecg {

struct ClassConfusion {
  // Rows and columns 0..4 follow kAamiClasses; row kNone: extra detections;
  // column kNone: missed reference beats.
  static constexpr int kNone = 5;
  int64_t counts[6][6] = {};

  double SensitivityPercent(int cls) const;
  double PositivePredictivityPercent(int cls) const;
  ClassConfusion& operator+=(const ClassConfusion& o);
  // The matrix and per-class Se / +P as a plain-text table.
  std::string Table() const;
};

// REQUIRES: as MatchBeats; ref_classes parallel to reference and det_classes
// to detected, holding AAMI class letters (an unknown letter counts as Q).
ClassConfusion ScoreClasses(std::span<const int64_t> reference, std::span<const char> ref_classes,
                            std::span<const int64_t> detected, std::span<const char> det_classes,
                            int64_t tolerance, std::span<const SampleInterval> excluded = {});

}  // namespace overlay::ecg

#endif  // OVERLAY_FUNCTIONS_ECG_CLASS_SCORING_H_
