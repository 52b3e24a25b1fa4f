// SPDX-License-Identifier: Apache-2.0
// ecg_visualizer: collects one stream's chunk files and beats files (from two
// sources, in any order) and renders, at end of stream, one SVG a clinician can
// read: a summary title, a heart-rate trend over the whole record, and a strip
// chart of the first seconds on standard ECG paper with every detected beat
// marked in the colour of its AAMI class. Only the strip window is kept at full rate, so memory and SVG size do
// not grow with the record's length.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "ecg_chunk.h"
#include "ecg_functions.h"
#include "ecg_text.h"

namespace overlay::ecg {
namespace {

// Paper: 25 mm/s and 10 mm/mV at 4 px/mm; a strip row holds 10 s.
constexpr double kPxPerMm = 4;
constexpr double kPxPerSecond = 25 * kPxPerMm;
constexpr double kPxPerMv = 10 * kPxPerMm;
constexpr double kRowSeconds = 10;
constexpr double kRowWidth = kRowSeconds * kPxPerSecond;
constexpr double kMarginLeft = 70;
constexpr double kMarginRight = 20;
constexpr double kWidth = kMarginLeft + kRowWidth + kMarginRight;
constexpr double kTrendTop = 96;
constexpr double kTrendHeight = 170;
constexpr double kRowGap = 34;  // below each row: its time labels

constexpr const char* kChunkMark = "# first_sample=";
constexpr const char* kBeatsHeader = "sample,time_s,rr_s,hr_bpm";

// What one stream has delivered so far; owned by the executor's stream lane.
class VisualizerState : public StreamState {
 public:
  double fs = 0;  // 0 until the first input says
  std::string header_stream;
  int64_t total_samples = 0;  // end of the furthest chunk
  bool any_chunk = false;
  std::vector<float> strip;  // the strip window; NaN where no chunk arrived
  std::vector<Beat> beats;
};

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// "m:ss" (or "h:mm:ss").
std::string Clock(double seconds) {
  auto s = static_cast<int64_t>(std::llround(std::max(seconds, 0.0)));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

// A tick step giving at most ~`max_ticks` ticks over `span`.
double NiceStep(double span, int max_ticks, std::initializer_list<double> steps) {
  for (double s : steps)
    if (span / s <= max_ticks) return s;
  return *(steps.end() - 1) * std::ceil(span / max_ticks / *(steps.end() - 1));
}

std::string RenderSvg(const VisualizerState& st, const std::string& stream);

// Thread-safety: immutable; all per-stream data lives in VisualizerState, which
// the executor hands to one call at a time.
class EcgVisualizer final : public Function {
 public:
  explicit EcgVisualizer(double strip_seconds) : strip_seconds_(strip_seconds) {}

  std::unique_ptr<StreamState> NewStream(std::string_view) const override {
    return std::make_unique<VisualizerState>();
  }

  Status Process(Task& task) const override {
    auto* st = dynamic_cast<VisualizerState*>(task.state);
    if (st == nullptr)
      return Status::InvalidArgument("ecg_visualizer: called without stream state");
    for (const NamedBlob& in : task.inputs) {
      std::string_view text = in.data.view();
      if (IsBinaryChunk(text) || text.find(kChunkMark) != std::string_view::npos) {
        Result<SignalChunk> chunk = ReadChunk(text);
        if (!chunk.ok()) return Failed(in, chunk.status());
        if (Status s = AddChunk(*st, *chunk); !s.ok()) return Failed(in, s);
      } else if (text.find(kBeatsHeader) != std::string_view::npos) {
        Result<BeatList> beats = ParseBeats(text);
        if (!beats.ok()) return Failed(in, beats.status());
        if (st->fs == 0) st->fs = beats->fs;
        if (st->header_stream.empty()) st->header_stream = beats->stream;
        st->beats.insert(st->beats.end(), beats->beats.begin(), beats->beats.end());
      } else {
        return Status::InvalidArgument(fmt::format(
            "ecg_visualizer: input '{}' is neither an ECG chunk (binary, or a '{}' header) nor a "
            "beats file ('{}' header)",
            in.name, kChunkMark, kBeatsHeader));
      }
    }
    return Status::OK();
  }

  Status EndStream(Task& task) const override {
    auto* st = dynamic_cast<VisualizerState*>(task.state);
    if (st == nullptr || (!st->any_chunk && st->beats.empty())) return Status::OK();
    std::string stream = !task.stream.empty()         ? task.stream
                         : !st->header_stream.empty() ? st->header_stream
                                                      : "ecg";
    std::sort(st->beats.begin(), st->beats.end(),
              [](const Beat& a, const Beat& b) { return a.sample < b.sample; });
    st->beats.erase(std::unique(st->beats.begin(), st->beats.end(),
                                [](const Beat& a, const Beat& b) { return a.sample == b.sample; }),
                    st->beats.end());
    std::string file = stream;
    std::replace(file.begin(), file.end(), '/', '_');
    task.outputs.push_back({file + ".svg", Blob::FromString(RenderSvg(*st, stream))});
    task.counters["svgs"] += 1;
    return Status::OK();
  }

 private:
  static Status Failed(const NamedBlob& in, const Status& s) {
    return Status::InvalidArgument(
        fmt::format("ecg_visualizer: input '{}': {}", in.name, s.message()));
  }

  Status AddChunk(VisualizerState& st, const SignalChunk& c) const {
    if (st.fs == 0) st.fs = c.fs;
    if (st.header_stream.empty()) st.header_stream = c.stream;
    if (!st.any_chunk) {
      // A stated fs is the client's word: bound the strip it sizes.
      const double samples = strip_seconds_ * st.fs;
      if (!(samples <= kMaxStripSamples))
        return Status::InvalidArgument(fmt::format(
            "a {} s strip at fs={} Hz is more than {} samples", strip_seconds_, st.fs,
            kMaxStripSamples));
      st.strip.assign(static_cast<size_t>(std::llround(samples)),
                      std::numeric_limits<float>::quiet_NaN());
      st.any_chunk = true;
    }
    st.total_samples =
        std::max(st.total_samples, c.first_sample + static_cast<int64_t>(c.mv.size()));
    for (size_t i = 0; i < c.mv.size(); ++i) {
      int64_t at = c.first_sample + static_cast<int64_t>(i);
      if (at >= 0 && at < static_cast<int64_t>(st.strip.size())) st.strip[at] = c.mv[i];
    }
    return Status::OK();
  }

  // 64 MiB of floats: an hour at 4.6 kHz.
  static constexpr double kMaxStripSamples = 16 << 20;
  const double strip_seconds_;
};

// Summary numbers of the record.
struct Summary {
  double duration_s = 0;
  size_t beats = 0;
  size_t with_rr = 0;
  double mean_hr = 0, min_hr = 0, max_hr = 0;
};

Summary Summarize(const VisualizerState& st) {
  Summary s;
  s.beats = st.beats.size();
  s.duration_s = st.any_chunk       ? st.total_samples / st.fs
                 : st.beats.empty() ? 0
                                    : st.beats.back().time_s;
  double rr_sum = 0;
  s.min_hr = std::numeric_limits<double>::max();
  for (const Beat& b : st.beats) {
    if (b.rr_s <= 0) continue;
    ++s.with_rr;
    rr_sum += b.rr_s;
    double hr = b.hr_bpm > 0 ? b.hr_bpm : 60 / b.rr_s;
    s.min_hr = std::min(s.min_hr, hr);
    s.max_hr = std::max(s.max_hr, hr);
  }
  if (s.with_rr > 0) s.mean_hr = 60 / (rr_sum / s.with_rr);
  return s;
}

void RenderTrend(const VisualizerState& st, const Summary& sum, double strip_end_s,
                 std::string& out) {
  const double x0 = kMarginLeft, y0 = kTrendTop, w = kRowWidth, h = kTrendHeight;
  auto o = std::back_inserter(out);
  fmt::format_to(o,
                 R"~(<text x="{}" y="{}" class="h2">Heart-rate trend (whole record)</text>)~"
                 "\n",
                 x0, y0 - 10);
  fmt::format_to(o,
                 R"~(<rect x="{}" y="{}" width="{}" height="{}" fill="#fff" stroke="#888"/>)~"
                 "\n",
                 x0, y0, w, h);
  double span = std::max(sum.duration_s, 1.0);
  double lo = 40, hi = 120;
  if (sum.with_rr > 0) {
    lo = std::clamp(std::floor(sum.min_hr / 20) * 20 - 20, 0.0, 280.0);
    hi = std::clamp(std::ceil(sum.max_hr / 20) * 20 + 20, lo + 40, 300.0);
  }
  auto X = [&](double t) { return x0 + t / span * w; };
  auto Y = [&](double bpm) { return y0 + h - (bpm - lo) / (hi - lo) * h; };
  // Which part of the record the strip below shows.
  if (strip_end_s > 0 && strip_end_s < span)
    fmt::format_to(o,
                   R"~(<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="#e6f0ff"/>)~"
                   "\n",
                   x0, y0, X(std::min(strip_end_s, span)) - x0, h);
  double ystep = NiceStep(hi - lo, 8, {10, 20, 40, 50, 100});
  for (double v = std::ceil(lo / ystep) * ystep; v <= hi + 1e-9; v += ystep)
    fmt::format_to(o,
                   R"~(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" class="tg"/>)~"
                   R"~(<text x="{}" y="{:.1f}" class="yl">{}</text>)~"
                   "\n",
                   x0, Y(v), x0 + w, Y(v), x0 - 6, Y(v) + 4, v);
  double xstep = NiceStep(span, 12, {1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600});
  for (double t = 0; t <= span + 1e-9; t += xstep)
    fmt::format_to(o,
                   R"~(<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" class="tg"/>)~"
                   R"~(<text x="{:.1f}" y="{}" class="xl">{}</text>)~"
                   "\n",
                   X(t), y0, X(t), y0 + h, X(t), y0 + h + 14,
                   span < 60 ? fmt::format("{:g} s", t) : Clock(t));
  fmt::format_to(o,
                 R"~(<text x="{}" y="{}" class="xl">time ({})</text>)~"
                 "\n",
                 x0 + w / 2, y0 + h + 30, span < 60 ? "s" : "m:ss");
  fmt::format_to(o,
                 R"~(<text transform="translate({},{}) rotate(-90)" class="xl">HR (bpm)</text>)~"
                 "\n",
                 x0 - 40, y0 + h / 2);
  if (sum.with_rr == 0) {
    fmt::format_to(o,
                   R"~(<text x="{}" y="{}" class="note">{}</text>)~"
                   "\n",
                   x0 + w / 2, y0 + h / 2,
                   st.beats.empty() ? "no beats detected" : "too few beats for a heart rate");
    return;
  }
  out += R"~(<polyline id="hr-trend" clip-path="url(#trend-clip)" fill="none" stroke="#c00" )~"
         R"~(stroke-width="1.2" points=")~";
  for (const Beat& b : st.beats)
    if (b.rr_s > 0)
      fmt::format_to(o, "{:.1f},{:.1f} ", X(b.time_s), Y(b.hr_bpm > 0 ? b.hr_bpm : 60 / b.rr_s));
  out += "\"/>\n";
  fmt::format_to(o,
                 R"~(<clipPath id="trend-clip"><rect x="{}" y="{}" width="{}" height="{}"/>)~"
                 "</clipPath>\n",
                 x0, y0, w, h);
}

std::string RenderSvg(const VisualizerState& st, const std::string& stream) {
  const Summary sum = Summarize(st);
  const double fs = st.fs > 0 ? st.fs : kDefaultFs;
  const int64_t strip_end =
      std::min<int64_t>(static_cast<int64_t>(st.strip.size()), st.total_samples);
  const double strip_s = strip_end / fs;
  const int rows = static_cast<int>(std::ceil(strip_s / kRowSeconds - 1e-9));

  // Vertical range shared by all rows, on whole 0.5 mV lines, with room above
  // the R peaks for the beat markers.
  float vmin = std::numeric_limits<float>::max(), vmax = std::numeric_limits<float>::lowest();
  for (int64_t i = 0; i < strip_end; ++i)
    if (!std::isnan(st.strip[i])) {
      vmin = std::min(vmin, st.strip[i]);
      vmax = std::max(vmax, st.strip[i]);
    }
  if (vmin > vmax) vmin = vmax = 0;
  double lo = std::floor(std::max<double>(vmin, -4) * 2) / 2;
  double hi = std::ceil(std::min<double>(vmax, 5) * 2) / 2 + 1.0;
  hi = std::max(hi, lo + 3);
  const double row_h = (hi - lo) * kPxPerMv;
  const double strip_top = kTrendTop + kTrendHeight + 90;
  const double height = strip_top + std::max(rows, 1) * (row_h + kRowGap) + 10;

  std::string out;
  out.reserve(64 * 1024 + static_cast<size_t>(strip_end) * 13);
  auto o = std::back_inserter(out);
  fmt::format_to(o,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 R"~(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1:.0f}" )~"
                 R"~(viewBox="0 0 {0} {1:.0f}" font-family="sans-serif">)~"
                 "\n",
                 kWidth, height);
  out +=
      "<style>.h1{font-size:18px;font-weight:bold}.h2{font-size:13px;font-weight:bold}"
      ".sub{font-size:12px;fill:#333}.xl{font-size:10px;fill:#444;text-anchor:middle}"
      ".yl{font-size:10px;fill:#444;text-anchor:end}.tg{stroke:#ddd;stroke-width:1}"
      ".note{font-size:14px;fill:#a00;text-anchor:middle;font-style:italic}"
      ".hr{font-size:9px;fill:#036;text-anchor:middle}.beat,.bN{fill:#036}"
      ".bS{fill:#e07000}.bV{fill:#d00}.bF{fill:#909}.bQ{fill:#888}"
      ".sig{fill:none;stroke:#000;stroke-width:1.1;stroke-linejoin:round}</style>\n";
  // ECG paper: 1 mm minor and 5 mm (0.2 s, 0.5 mV) major lines.
  out += R"~(<defs><pattern id="paper" width="20" height="20" patternUnits="userSpaceOnUse">)~"
         R"~(<rect width="20" height="20" fill="#fff8f8"/>)~"
         R"~(<path d="M4 0V20M8 0V20M12 0V20M16 0V20M0 4H20M0 8H20M0 12H20M0 16H20" )~"
         R"~(stroke="#f6d3d3" stroke-width="0.5"/>)~"
         R"~(<path d="M0 0V20M0 0H20" stroke="#e59a9a" stroke-width="1"/></pattern></defs>)~"
         "\n";
  out += R"~(<rect width="100%" height="100%" fill="#fff"/>)~"
         "\n";

  std::string hr_text = sum.with_rr > 0 ? fmt::format("HR mean {:.0f} bpm (min {:.0f}, max {:.0f})",
                                                      sum.mean_hr, sum.min_hr, sum.max_hr)
                                        : std::string("no heart rate");
  std::string beats_text =
      sum.beats > 0 ? fmt::format("{} beats", sum.beats) : std::string("no beats detected");
  // Beats of each class but N, e.g. " (V 992, F 373)".
  std::string classed;
  for (char c : {'S', 'V', 'F', 'Q'}) {
    const auto n = std::count_if(st.beats.begin(), st.beats.end(),
                                 [c](const Beat& b) { return b.beat_class == c; });
    if (n > 0) classed += fmt::format("{}{} {}", classed.empty() ? " (" : ", ", c, n);
  }
  if (!classed.empty()) beats_text += classed + ")";
  fmt::format_to(o,
                 R"~(<text x="{}" y="28" class="h1">ECG {}</text>)~"
                 "\n",
                 kMarginLeft, Escape(stream));
  fmt::format_to(o,
                 R"~(<text x="{}" y="50" class="sub">duration {} · {} · {} · fs {:g} Hz</text>)~"
                 "\n",
                 kMarginLeft, Clock(sum.duration_s), beats_text, hr_text, fs);
  RenderTrend(st, sum, strip_s, out);

  const double title_y = strip_top - 28;
  if (!st.any_chunk) {
    fmt::format_to(o,
                   R"~(<text x="{}" y="{}" class="note">no signal received</text>)~"
                   "\n",
                   kMarginLeft + kRowWidth / 2, strip_top + 20);
  } else {
    fmt::format_to(
        o,
        R"~(<text x="{}" y="{}" class="h2">ECG strip: first {:.0f} s</text>)~"
        R"~(<text x="{}" y="{}" class="sub">25 mm/s · 10 mm/mV · grid 0.2 s × 0.5 mV · )~"
        R"~(▼ detected beat: <tspan class="bN">N normal</tspan>, )~"
        R"~(<tspan class="bS">S supraventricular</tspan>, <tspan class="bV">V ventricular</tspan>, )~"
        R"~(<tspan class="bF">F fusion</tspan>, <tspan class="bQ">Q unclassified</tspan>; )~"
        R"~(number = instantaneous HR (bpm))~"
        R"~(; left: 1 mV calibration pulse</text>)~"
        "\n",
        kMarginLeft, title_y, strip_s, kMarginLeft, title_y + 16);
  }

  auto beat = st.beats.begin();
  for (int r = 0; r < rows; ++r) {
    const int64_t first = static_cast<int64_t>(std::llround(r * kRowSeconds * fs));
    const int64_t last = std::min<int64_t>(strip_end, std::llround((r + 1) * kRowSeconds * fs));
    const double top = strip_top + r * (row_h + kRowGap);
    // The last row's paper ends at the next 0.2 s line after the signal.
    const double row_s = (last - first) / fs;
    const double paper_w = std::max(1.0, std::ceil(row_s / 0.2 - 1e-6)) * 0.2 * kPxPerSecond;
    fmt::format_to(o,
                   R"~(<g transform="translate({},{:.0f})">)~"
                   "\n",
                   kMarginLeft, top);
    fmt::format_to(o,
                   R"~(<rect width="{}" height="{:.0f}" fill="url(#paper)" stroke="#e59a9a"/>)~"
                   "\n",
                   paper_w, row_h);
    // Calibration pulse (1 mV, 0.2 s) from the 0 mV line, in the margin.
    const double zero = hi * kPxPerMv;
    fmt::format_to(o,
                   R"~(<path d="M-60 {0:.0f}h10v-40h20v40h10" fill="none" stroke="#000"/>)~"
                   R"~(<text x="-40" y="{1:.0f}" class="xl">{2}</text>)~"
                   "\n",
                   zero, row_h + 14, Clock(r * kRowSeconds));
    for (int s = 0; s <= kRowSeconds && s * kPxPerSecond <= paper_w + 1e-6; ++s)
      fmt::format_to(o, R"~(<text x="{}" y="{:.0f}" class="xl">{}s</text>)~", s * kPxPerSecond,
                     row_h + 14, r * kRowSeconds + s);
    out += "\n";
    auto Y = [&](float v) { return std::clamp((hi - v) * kPxPerMv, 0.0, row_h); };
    auto X = [&](int64_t i) { return (i - first) / fs * kPxPerSecond; };
    // The signal; a gap (a chunk that never arrived) splits the polyline.
    bool open = false;
    for (int64_t i = first; i < last; ++i) {
      float v = st.strip[i];
      if (std::isnan(v)) {
        if (open) out += "\"/>\n";
        open = false;
        continue;
      }
      if (!open) out += R"~(<polyline class="sig" points=")~";
      open = true;
      fmt::format_to(o, "{:.1f},{:.1f} ", X(i), Y(v));
    }
    if (open) out += "\"/>\n";
    // Beats: a triangle above the highest point within ±60 ms, then the HR.
    const int64_t near = static_cast<int64_t>(0.06 * fs);
    for (; beat != st.beats.end() && beat->sample < last; ++beat) {
      if (beat->sample < first) continue;
      float peak = std::numeric_limits<float>::lowest();
      for (int64_t i = std::max(first, beat->sample - near);
           i < std::min(last, beat->sample + near + 1); ++i)
        if (!std::isnan(st.strip[i])) peak = std::max(peak, st.strip[i]);
      double y = std::max(peak == std::numeric_limits<float>::lowest() ? 16.0 : Y(peak) - 4, 16.0);
      double x = X(beat->sample);
      const bool other = beat->beat_class != 0 && beat->beat_class != 'N';
      fmt::format_to(o, R"~(<path class="beat{}{}" d="M{:.1f} {:.1f}l-4 -7h8z"/>)~",
                     other ? " b" : "", other ? std::string(1, beat->beat_class) : "", x, y);
      if (beat->rr_s > 0)
        fmt::format_to(o, R"~(<text x="{:.1f}" y="{:.1f}" class="hr">{:.0f}</text>)~", x, y - 9,
                       beat->hr_bpm > 0 ? beat->hr_bpm : 60 / beat->rr_s);
      out += "\n";
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
  return out;
}

}  // namespace

Result<std::unique_ptr<Function>> NewEcgVisualizer(const std::vector<std::string>& args) {
  double strip_seconds = 60;
  if (args.size() > 1)
    return Status::InvalidArgument("ecg_visualizer takes at most one argument: [strip_seconds=60]");
  if (args.size() == 1) {
    std::string_view a = args[0];
    if (a.rfind("strip_seconds=", 0) == 0) a.remove_prefix(sizeof("strip_seconds=") - 1);
    auto [p, ec] = std::from_chars(a.data(), a.data() + a.size(), strip_seconds);
    if (ec != std::errc() || p != a.data() + a.size() || !(strip_seconds > 0) ||
        strip_seconds > 3600)
      return Status::InvalidArgument(
          "ecg_visualizer: strip_seconds must be a number in (0, 3600], got '" + args[0] + "'");
  }
  return std::unique_ptr<Function>(std::make_unique<EcgVisualizer>(strip_seconds));
}

}  // namespace overlay::ecg
