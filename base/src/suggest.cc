// SPDX-License-Identifier: Apache-2.0
#include "overlay/suggest.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace overlay {
namespace {

// A typo changes a few characters; more than a third of the word is a different word.
size_t TypoLimit(size_t a, size_t b) { return std::max<size_t>(2, std::max(a, b) / 3); }

// Optimal string alignment distance: a swap of two neighbours ("tpc" for
// "tcp") is one typo, not two. Three rolling rows, so a long word costs no
// more memory than its length.
size_t EditDistance(std::string_view a, std::string_view b) {
  auto same = [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  };
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1,
                         prev[j - 1] + (same(a[i - 1], b[j - 1]) ? 0 : 1)});
      if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1]))
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string NearestName(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    // The distance is at least the difference in length: skip what cannot pass.
    size_t gap = word.size() > c.size() ? word.size() - c.size() : c.size() - word.size();
    if (gap > TypoLimit(word.size(), c.size()) || gap >= best_d) continue;
    size_t d = EditDistance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best_d <= TypoLimit(word.size(), best.size()) ? best : std::string();
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string n = NearestName(word, candidates);
  return n.empty() ? std::string() : " (did you mean '" + n + "'?)";
}

}  // namespace overlay
