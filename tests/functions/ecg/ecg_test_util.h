// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the ECG tests.
#ifndef OVERLAY_TESTS_FUNCTIONS_ECG_ECG_TEST_UTIL_H_
#define OVERLAY_TESTS_FUNCTIONS_ECG_ECG_TEST_UTIL_H_

#include <span>
#include <string>
#include <vector>

#include "ecg_text.h"
#include "qrs_detector.h"

namespace overlay::ecg::testing {

// Beats of the whole record fed at once.
inline std::vector<Beat> DetectWhole(std::span<const float> mv, double fs) {
  std::vector<Beat> beats;
  QrsDetector det(fs);
  det.Process(mv, &beats);
  det.Flush(&beats);
  return beats;
}

inline std::vector<int64_t> Samples(const std::vector<Beat>& beats) {
  std::vector<int64_t> out;
  for (const Beat& b : beats) out.push_back(b.sample);
  return out;
}

// The shared MIT-BIH folder, or "" when this machine has none.
inline std::string SharedEcgDir() { return std::string(OVERLAY_SHARED_DIR) + "/ecg"; }

}  // namespace overlay::ecg::testing

#endif  // OVERLAY_TESTS_FUNCTIONS_ECG_ECG_TEST_UTIL_H_
