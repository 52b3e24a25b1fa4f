// SPDX-License-Identifier: Apache-2.0
// Test helper: corrupts stored bytes the way a failing disk does, in the files
// themselves, below every checksum the store keeps.
#ifndef OVERLAY_TESTS_STORAGE_FILE_CORRUPTION_H_
#define OVERLAY_TESTS_STORAGE_FILE_CORRUPTION_H_

#include <string>
#include <string_view>

#include "overlay/status.h"

namespace overlay::storage::testing {

// Finds the one RocksDB table or blob file (*.sst, *.blob) under `dir` that
// holds `needle` verbatim (uncompressed, e.g. random bytes) and flips one bit
// of its first byte there. Returns the file's path; NotFound when no file holds
// it, InvalidArgument when more than one does.
// REQUIRES: the store is closed (its files are not being written).
Result<std::string> FlipByteInStoreFiles(const std::string& dir, std::string_view needle);

}  // namespace overlay::storage::testing

#endif  // OVERLAY_TESTS_STORAGE_FILE_CORRUPTION_H_
