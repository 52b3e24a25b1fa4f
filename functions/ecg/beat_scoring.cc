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

// Indices of the beats outside the excluded intervals.
std::vector<size_t> Scored(std::span<const int64_t> v, std::span<const SampleInterval> excluded) {
  std::vector<size_t> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    if (!Excluded(v[i], excluded)) out.push_back(i);
  return out;
}

}  // namespace

BeatMatch MatchBeats(std::span<const int64_t> reference, std::span<const int64_t> detected,
                     int64_t tolerance, std::span<const SampleInterval> excluded) {
  const std::vector<size_t> ref = Scored(reference, excluded);
  const std::vector<size_t> det = Scored(detected, excluded);
  BeatMatch m;
  size_t j = 0;  // first detection not yet matched or counted
  for (size_t ri : ref) {
    const int64_t r = reference[ri];
    while (j < det.size() && detected[det[j]] < r - tolerance) m.extra.push_back(det[j++]);
    // Nearest detection within the window; those skipped before it are false.
    size_t best = det.size();
    for (size_t k = j; k < det.size() && detected[det[k]] <= r + tolerance; ++k)
      if (best == det.size() ||
          std::abs(detected[det[k]] - r) < std::abs(detected[det[best]] - r))
        best = k;
    if (best == det.size()) {
      m.missed.push_back(ri);
      continue;
    }
    while (j < best) m.extra.push_back(det[j++]);
    m.pairs.emplace_back(ri, det[best]);
    j = best + 1;
  }
  while (j < det.size()) m.extra.push_back(det[j++]);
  return m;
}

BeatScore ScoreBeats(std::span<const int64_t> reference, std::span<const int64_t> detected,
                     int64_t tolerance, std::span<const SampleInterval> excluded) {
  const BeatMatch m = MatchBeats(reference, detected, tolerance, excluded);
  BeatScore s;
  s.tp = static_cast<int64_t>(m.pairs.size());
  s.fn = static_cast<int64_t>(m.missed.size());
  s.fp = static_cast<int64_t>(m.extra.size());
  s.reference = s.tp + s.fn;
  return s;
}

}  // namespace overlay::ecg
