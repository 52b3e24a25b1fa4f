// SPDX-License-Identifier: Apache-2.0
#include "beat_scoring.h"

#include <cstdlib>
#include <vector>

namespace overlay::ecg {
namespace {

bool Excluded(int64_t s, std::span<const SampleInterval> excluded) {
  for (const auto& [a, b] : excluded)
    if (s >= a && s <= b) return true;
  return false;
}

std::vector<int64_t> Scored(std::span<const int64_t> v, std::span<const SampleInterval> excluded) {
  std::vector<int64_t> out;
  out.reserve(v.size());
  for (int64_t s : v)
    if (!Excluded(s, excluded)) out.push_back(s);
  return out;
}

}  // namespace

BeatScore ScoreBeats(std::span<const int64_t> reference, std::span<const int64_t> detected,
                     int64_t tolerance, std::span<const SampleInterval> excluded) {
  std::vector<int64_t> ref = Scored(reference, excluded);
  std::vector<int64_t> det = Scored(detected, excluded);
  BeatScore s;
  s.reference = static_cast<int64_t>(ref.size());
  size_t j = 0;  // first detection not yet matched or counted
  for (size_t i = 0; i < ref.size(); ++i) {
    const int64_t r = ref[i];
    while (j < det.size() && det[j] < r - tolerance) {
      ++s.fp;
      ++j;
    }
    // Nearest detection within the window; those skipped before it are false.
    size_t best = det.size();
    for (size_t k = j; k < det.size() && det[k] <= r + tolerance; ++k)
      if (best == det.size() || std::abs(det[k] - r) < std::abs(det[best] - r)) best = k;
    if (best == det.size()) {
      ++s.fn;
      continue;
    }
    s.fp += static_cast<int64_t>(best - j);
    ++s.tp;
    j = best + 1;
  }
  s.fp += static_cast<int64_t>(det.size() - j);
  return s;
}

}  // namespace overlay::ecg
