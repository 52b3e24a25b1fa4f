// SPDX-License-Identifier: Apache-2.0
// File-name helpers shared by the ECG functions (header-only).
#ifndef OVERLAY_FUNCTIONS_ECG_FILE_NAMES_H_
#define OVERLAY_FUNCTIONS_ECG_FILE_NAMES_H_

#include <algorithm>
#include <string>
#include <string_view>

namespace overlay::ecg {

// "dir/101_00007.txt" -> "101_00007"; a name without '.' is kept whole.
inline std::string FileStem(std::string_view name) {
  size_t slash = name.rfind('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  size_t dot = name.rfind('.');
  if (dot != std::string_view::npos && dot > 0) name = name.substr(0, dot);
  return std::string(name);
}

// A stream name usable as a file name: '/' becomes '_'.
inline std::string StreamFileName(std::string_view stream) {
  std::string s(stream);
  std::replace(s.begin(), s.end(), '/', '_');
  return s;
}

}  // namespace overlay::ecg

#endif  // OVERLAY_FUNCTIONS_ECG_FILE_NAMES_H_
