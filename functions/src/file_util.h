// SPDX-License-Identifier: Apache-2.0
// Whole-file reads and writes for task workspaces (internal to functions/).
#ifndef OVERLAY_FUNCTIONS_SRC_FILE_UTIL_H_
#define OVERLAY_FUNCTIONS_SRC_FILE_UTIL_H_

#include <string>
#include <string_view>
#include <vector>

#include "overlay/status.h"

namespace overlay::detail {

// Creates `path` (mode 0600); fails if it exists.
Status WriteNewFile(const std::string& path, std::string_view bytes);

Result<std::string> ReadFile(const std::string& path);

// Names of the regular files directly in `dir` (symlinks and directories
// excluded), sorted.
Result<std::vector<std::string>> ListRegularFiles(const std::string& dir);

// True when `dir` holds at least one entry; false when empty or unreadable.
bool DirHasEntries(const std::string& dir);

}  // namespace overlay::detail

#endif  // OVERLAY_FUNCTIONS_SRC_FILE_UTIL_H_
