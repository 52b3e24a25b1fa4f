// SPDX-License-Identifier: Apache-2.0
#include "class_scoring.h"

#include <fmt/format.h>

#include "beat_classifier.h"

namespace overlay::ecg {
namespace {

int Index(char cls) {
  const int i = AamiClassIndex(cls);
  return i < 0 ? AamiClassIndex('Q') : i;
}

}  // namespace

double ClassConfusion::SensitivityPercent(int cls) const {
  int64_t row = 0;
  for (int j = 0; j < 6; ++j) row += counts[cls][j];
  return row ? 100.0 * static_cast<double>(counts[cls][cls]) / static_cast<double>(row) : 100.0;
}

double ClassConfusion::PositivePredictivityPercent(int cls) const {
  int64_t col = 0;
  for (int i = 0; i < 6; ++i) col += counts[i][cls];
  return col ? 100.0 * static_cast<double>(counts[cls][cls]) / static_cast<double>(col) : 100.0;
}

ClassConfusion& ClassConfusion::operator+=(const ClassConfusion& o) {
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j) counts[i][j] += o.counts[i][j];
  return *this;
}

std::string ClassConfusion::Table() const {
  std::string out = fmt::format("{:<14}", "reference \\ classed");
  for (char c : kAamiClasses) out += fmt::format(" {:>7}", c);
  out += fmt::format(" {:>7} {:>8} {:>8}\n", "missed", "Se %", "+P %");
  for (int i = 0; i < 6; ++i) {
    out += fmt::format("{:<20}", i < 5 ? std::string(1, kAamiClasses[i]) : "(no reference)");
    for (int j = 0; j < 6; ++j)
      out += i == 5 && j == 5 ? fmt::format(" {:>7}", "") : fmt::format(" {:>7}", counts[i][j]);
    if (i < 5)
      out += fmt::format(" {:>8.2f} {:>8.2f}", SensitivityPercent(i), PositivePredictivityPercent(i));
    out += "\n";
  }
  return out;
}

ClassConfusion ScoreClasses(std::span<const int64_t> reference, std::span<const char> ref_classes,
                            std::span<const int64_t> detected, std::span<const char> det_classes,
                            int64_t tolerance, std::span<const SampleInterval> excluded) {
  const BeatMatch m = MatchBeats(reference, detected, tolerance, excluded);
  ClassConfusion c;
  for (const auto& [r, d] : m.pairs) ++c.counts[Index(ref_classes[r])][Index(det_classes[d])];
  for (size_t r : m.missed) ++c.counts[Index(ref_classes[r])][ClassConfusion::kNone];
  for (size_t d : m.extra) ++c.counts[ClassConfusion::kNone][Index(det_classes[d])];
  return c;
}

}  // namespace overlay::ecg
