// SPDX-License-Identifier: Apache-2.0
#include "storage/file_corruption.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

namespace overlay::storage::testing {

Result<std::string> FlipByteInStoreFiles(const std::string& dir, std::string_view needle) {
  namespace fs = std::filesystem;
  std::vector<std::pair<std::string, size_t>> hits;  // file, offset of the needle
  std::error_code ec;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (!e.is_regular_file() || (ext != ".sst" && ext != ".blob")) continue;
    std::ifstream in(e.path(), std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const size_t at = bytes.find(needle);
    if (at != std::string::npos) hits.emplace_back(e.path().string(), at);
  }
  if (ec) return Status::IOError("scanning " + dir + ": " + ec.message());
  if (hits.empty()) return Status::NotFound("no store file under " + dir + " holds the bytes");
  if (hits.size() > 1) return Status::InvalidArgument(hits[0].first + " and " + hits[1].first);
  std::fstream f(hits[0].first, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(hits[0].second));
  const char c = static_cast<char>(f.get());
  f.seekp(static_cast<std::streamoff>(hits[0].second));
  f.put(static_cast<char>(c ^ 0x01));
  if (!f.flush()) return Status::IOError("cannot rewrite " + hits[0].first);
  return hits[0].first;
}

}  // namespace overlay::storage::testing
