// SPDX-License-Identifier: Apache-2.0
#include "annotated_record.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "beat_classifier.h"

namespace overlay::ecg {
namespace {

bool ParseInt(std::string_view s, int64_t* out) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// Calls fn(line_no, first field, rest) for each non-empty, non-comment line.
template <typename Fn>
Status ForEachRow(std::string_view text, std::string_view what, Fn&& fn) {
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    size_t comma = line.find(',');
    int64_t first;
    if (comma == std::string_view::npos || !ParseInt(line.substr(0, comma), &first) ||
        !fn(first, line.substr(comma + 1)))
      return Status::InvalidArgument(
          fmt::format("{} line {}: cannot parse '{}'", what, line_no, line.substr(0, 60)));
  }
  return Status::OK();
}

}  // namespace

Result<std::vector<int64_t>> ParseReferenceBeats(std::string_view text) {
  std::vector<int64_t> beats;
  Status s = ForEachRow(text, "beats", [&](int64_t sample, std::string_view) {
    beats.push_back(sample);
    return sample >= 0;
  });
  if (!s.ok()) return s;
  std::sort(beats.begin(), beats.end());
  return beats;
}

Result<std::vector<std::pair<int64_t, char>>> ParseReferenceBeatClasses(std::string_view text) {
  std::vector<std::pair<int64_t, char>> beats;
  Status s = ForEachRow(text, "beats", [&](int64_t sample, std::string_view rest) {
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
    const char cls = rest.size() == 1 ? AamiClassOfSymbol(rest[0]) : 0;
    beats.emplace_back(sample, cls);
    return sample >= 0 && cls != 0;
  });
  if (!s.ok()) return s;
  std::stable_sort(beats.begin(), beats.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return beats;
}

Result<std::vector<SampleInterval>> ParseIntervals(std::string_view text) {
  std::vector<SampleInterval> out;
  Status s = ForEachRow(text, "intervals", [&](int64_t a, std::string_view rest) {
    int64_t b;
    if (!ParseInt(rest, &b) || b < a) return false;
    out.emplace_back(a, b);
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read " + path);
  return ss.str();
}

Result<AnnotatedRecord> LoadAnnotatedRecord(const std::string& dir) {
  AnnotatedRecord rec;
  std::string_view d(dir);
  while (d.size() > 1 && d.back() == '/') d.remove_suffix(1);
  size_t slash = d.rfind('/');
  rec.name = std::string(slash == std::string_view::npos ? d : d.substr(slash + 1));

  Result<std::string> signal = ReadTextFile(dir + "/signal.txt");
  if (!signal.ok()) return signal.status();
  Result<Recording> parsed = ParseRecording(*signal);
  if (!parsed.ok())
    return Status::InvalidArgument(dir + "/signal.txt: " + std::string(parsed.status().message()));
  rec.signal = std::move(parsed).value();

  Result<std::string> beats = ReadTextFile(dir + "/beats.txt");
  if (!beats.ok()) return beats.status();
  Result<std::vector<std::pair<int64_t, char>>> b = ParseReferenceBeatClasses(*beats);
  if (!b.ok())
    return Status::InvalidArgument(dir + "/beats.txt: " + std::string(b.status().message()));
  for (const auto& [sample, cls] : *b) {
    rec.beats.push_back(sample);
    rec.classes.push_back(cls);
  }

  Result<std::string> vf = ReadTextFile(dir + "/vf.txt");
  if (vf.ok()) {
    Result<std::vector<SampleInterval>> v = ParseIntervals(*vf);
    if (!v.ok())
      return Status::InvalidArgument(dir + "/vf.txt: " + std::string(v.status().message()));
    rec.excluded = std::move(v).value();
  }
  return rec;
}

}  // namespace overlay::ecg
