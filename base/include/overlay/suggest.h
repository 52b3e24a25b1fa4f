// SPDX-License-Identifier: Apache-2.0
// "Did you mean …" for config keys, names and CLI words.
#ifndef OVERLAY_BASE_SUGGEST_H_
#define OVERLAY_BASE_SUGGEST_H_

#include <string>
#include <string_view>
#include <vector>

namespace overlay {

// The candidate closest to `word` by edit distance (case-insensitive), or ""
// when none is close enough to be a plausible typo.
std::string NearestName(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "" when NearestName finds nothing.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace overlay

#endif  // OVERLAY_BASE_SUGGEST_H_
