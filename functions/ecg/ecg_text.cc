// SPDX-License-Identifier: Apache-2.0
#include "ecg_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace overlay::ecg {
namespace {

// Splits `text` into lines without copying; tolerates CRLF.
template <typename Fn>
Status ForEachLine(std::string_view text, Fn&& fn) {
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    OVERLAY_RETURN_IF_ERROR(fn(++line_no, line));
  }
  return Status::OK();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "# key=value" comment lines carry the metadata.
bool HeaderValue(std::string_view line, std::string_view key, std::string_view* value) {
  line = Trim(line.substr(1));
  if (line.substr(0, key.size()) != key || line.size() <= key.size() || line[key.size()] != '=')
    return false;
  *value = Trim(line.substr(key.size() + 1));
  return true;
}

Status BadLine(std::string_view what, size_t line_no, std::string_view line) {
  return Status::InvalidArgument(
      fmt::format("{} line {}: cannot parse '{}'", what, line_no, line.substr(0, 60)));
}

}  // namespace

std::string FormatChunk(const SignalChunk& chunk) {
  std::string out = fmt::format("# stream={}\n# fs={}\n# first_sample={}\n", chunk.stream, chunk.fs,
                                chunk.first_sample);
  out.reserve(out.size() + chunk.mv.size() * 7);
  for (float v : chunk.mv) fmt::format_to(std::back_inserter(out), "{:.3f}\n", v);
  return out;
}

Status CheckTiming(double fs, int64_t first_sample) {
  if (!(fs >= kMinStatedFs && fs <= kMaxStatedFs))
    return Status::InvalidArgument(
        fmt::format("fs {} Hz is outside {}..{} Hz", fs, kMinStatedFs, kMaxStatedFs));
  if (first_sample < 0 || first_sample > kMaxStatedSample)
    return Status::InvalidArgument(
        fmt::format("sample position {} is outside 0..{}", first_sample, kMaxStatedSample));
  return Status::OK();
}

Result<SignalChunk> ParseChunk(std::string_view text) {
  SignalChunk c;
  c.mv.reserve(text.size() / 6);
  Status s = ForEachLine(text, [&](size_t n, std::string_view line) -> Status {
    std::string_view v;
    if (line.empty()) return Status::OK();
    if (line[0] == '#') {
      if (HeaderValue(line, "stream", &v))
        c.stream = std::string(v);
      else if (HeaderValue(line, "fs", &v) && !ParseNumber(v, &c.fs))
        return BadLine("chunk", n, line);
      else if (HeaderValue(line, "first_sample", &v) && !ParseNumber(v, &c.first_sample))
        return BadLine("chunk", n, line);
      return Status::OK();
    }
    float x;
    if (!ParseNumber(line, &x) || !std::isfinite(x)) return BadLine("chunk", n, line);
    c.mv.push_back(x);
    return Status::OK();
  });
  if (!s.ok()) return s;
  if (Status t = CheckTiming(c.fs, c.first_sample); !t.ok())
    return Status::InvalidArgument(fmt::format("chunk: {}", t.message()));
  if (c.mv.size() > static_cast<size_t>(kMaxStatedSample - c.first_sample))
    return Status::InvalidArgument("chunk: ends past the last allowed sample position");
  return c;
}

std::string FormatBeats(const BeatList& b) {
  std::string out = fmt::format("# stream={}\n# fs={}\n{}\n", b.stream, b.fs, kBeatsCsvHeader);
  for (const Beat& x : b.beats) {
    const std::string_view cls = x.beat_class ? std::string_view(&x.beat_class, 1) : "";
    if (x.rr_s > 0)
      fmt::format_to(std::back_inserter(out), "{},{:.3f},{:.3f},{:.1f},{}\n", x.sample, x.time_s,
                     x.rr_s, x.hr_bpm, cls);
    else
      fmt::format_to(std::back_inserter(out), "{},{:.3f},,,{}\n", x.sample, x.time_s, cls);
  }
  return out;
}

Result<BeatList> ParseBeats(std::string_view text) {
  BeatList b;
  size_t fields = 4;  // the older format until its header says otherwise
  Status s = ForEachLine(text, [&](size_t n, std::string_view line) -> Status {
    std::string_view v;
    if (line.empty()) return Status::OK();
    if (line.rfind("sample,", 0) == 0) {
      fields = line == kBeatsCsvHeader ? 5 : 4;
      return Status::OK();
    }
    if (line[0] == '#') {
      if (HeaderValue(line, "stream", &v))
        b.stream = std::string(v);
      else if (HeaderValue(line, "fs", &v) &&
               (!ParseNumber(v, &b.fs) || !CheckTiming(b.fs, 0).ok()))
        return BadLine("beats", n, line);
      return Status::OK();
    }
    // Exactly the header's fields: a row with more is malformed, not truncated.
    if (static_cast<size_t>(std::count(line.begin(), line.end(), ',')) != fields - 1)
      return BadLine("beats", n, line);
    std::string_view f[5];
    size_t k = 0;
    for (std::string_view rest = line; k < fields; ++k) {
      size_t comma = rest.find(',');
      f[k] = rest.substr(0, comma);
      if (comma == std::string_view::npos) {
        ++k;
        break;
      }
      rest = rest.substr(comma + 1);
    }
    Beat beat;
    if (fields == 5) {
      const std::string_view c = Trim(f[4]);
      if (c.size() > 1 ||
          (c.size() == 1 && std::string_view("NSVFQ").find(c[0]) == std::string_view::npos))
        return BadLine("beats", n, line);
      beat.beat_class = c.empty() ? 0 : c[0];
    }
    if (k != fields || !ParseNumber(f[0], &beat.sample) || !ParseNumber(f[1], &beat.time_s) ||
        (!Trim(f[2]).empty() && !ParseNumber(f[2], &beat.rr_s)) ||
        (!Trim(f[3]).empty() && !ParseNumber(f[3], &beat.hr_bpm)))
      return BadLine("beats", n, line);
    // fs was checked at its header line; each row brings its own position and times.
    constexpr double kMaxSeconds = kMaxStatedSample / kMinStatedFs;
    if (beat.sample < 0 || beat.sample > kMaxStatedSample || !(beat.time_s >= 0) ||
        !(beat.time_s <= kMaxSeconds) || !(beat.rr_s >= 0) || !(beat.rr_s <= kMaxSeconds) ||
        !(beat.hr_bpm >= 0) || !(beat.hr_bpm <= 60 * kMaxStatedFs))
      return BadLine("beats", n, line);
    b.beats.push_back(beat);
    return Status::OK();
  });
  if (!s.ok()) return s;
  return b;
}

Result<Recording> ParseRecording(std::string_view text) {
  Recording r;
  r.mv.reserve(text.size() / 6);
  bool in_data = false;
  Status s = ForEachLine(text, [&](size_t n, std::string_view line) -> Status {
    std::string_view v;
    line = Trim(line);
    if (line.empty()) return Status::OK();
    if (line[0] == '#') {
      if (HeaderValue(line, "fs", &v)) {
        if (!ParseNumber(v, &r.fs) || !CheckTiming(r.fs, 0).ok())
          return BadLine("recording", n, line);
        r.fs_stated = true;
      }
      return Status::OK();
    }
    // Up to two columns; the signal is the last one.
    std::string_view cols[3];
    size_t k = 0;
    std::string_view rest = line;
    while (!rest.empty() && k < 3) {
      size_t sep = rest.find_first_of(" \t,;");
      cols[k++] = rest.substr(0, sep);
      if (sep == std::string_view::npos) break;
      rest = rest.substr(sep + 1);
      while (!rest.empty() &&
             std::string_view(" \t,;").find(rest.front()) != std::string_view::npos)
        rest.remove_prefix(1);
    }
    float x;
    bool numeric = k >= 1 && k <= 2 && ParseNumber(cols[k - 1], &x) && std::isfinite(x);
    if (k == 2) {
      double first;
      numeric = numeric && ParseNumber(cols[0], &first);
    }
    if (!numeric) {
      if (!in_data) return Status::OK();  // a header line such as "time,mV"
      return BadLine("recording", n, line);
    }
    in_data = true;
    r.mv.push_back(x);
    return Status::OK();
  });
  if (!s.ok()) return s;
  if (r.mv.empty()) return Status::InvalidArgument("not an ECG record: no numeric samples");
  return r;
}

}  // namespace overlay::ecg
