// SPDX-License-Identifier: Apache-2.0
#include "synthetic_ecg.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numbers>
#include <span>
#include <string>

namespace overlay::ecg {
namespace {

constexpr double kTwoPi = 2.0 * std::numbers::pi;

// SplitMix64: tiny, and easy to reproduce bit for bit in Python.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
  // Standard normal (Box-Muller, one value per call).
  double Gauss() {
    double u1 = 1.0 - Uniform();
    double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
  }

 private:
  uint64_t state_;
};

struct Wave {
  double offset_s, amp_mv, width_s;
};

struct BeatPlan {
  double t;      // R time, s
  double scale;  // sqrt(RR): P and T move with the rate, as in ECGSYN
  double amp;    // amplitude factor (breathing modulates it)
  bool pvc;
};

void AddWave(std::vector<double>& sig, double fs, double center, double amp, double width) {
  const int64_t n = static_cast<int64_t>(sig.size());
  int64_t k0 = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((center - 4.0 * width) * fs)));
  int64_t k1 =
      std::min<int64_t>(n - 1, static_cast<int64_t>(std::floor((center + 4.0 * width) * fs)));
  for (int64_t k = k0; k <= k1; ++k) {
    double d = (static_cast<double>(k) / fs - center) / width;
    sig[k] += amp * std::exp(-0.5 * d * d);
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

template <typename T>
bool ParseValue(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

SyntheticEcg GenerateSyntheticEcg(const SyntheticEcgOptions& o) {
  Rng rng(o.seed);
  const double mean_rr = 60.0 / o.hr_bpm;
  const double phase_resp = kTwoPi * rng.Uniform();
  const double phase_drift = kTwoPi * rng.Uniform();
  const double phase_wander = kTwoPi * rng.Uniform();

  // The beat plan: RR from breathing, drift and jitter; a PVC comes early and
  // is followed by a compensatory pause.
  std::vector<BeatPlan> plan;
  const double end = o.duration_s - 0.4;
  double t = 0.3 + 0.4 * rng.Uniform();
  while (t < end) {
    double rr = mean_rr *
                (1.0 + o.rsa * std::sin(kTwoPi * o.resp_hz * t + phase_resp) +
                 o.drift * std::sin(kTwoPi * t / 90.0 + phase_drift)) *
                (1.0 + 0.02 * rng.Gauss());
    rr = std::max(rr, 0.6 * mean_rr);
    double amp = o.amplitude_mv * (1.0 + 0.1 * std::sin(kTwoPi * o.resp_hz * t + phase_resp));
    plan.push_back({t, std::sqrt(rr), amp, false});
    if (rng.Uniform() < o.pvc_fraction) {
      double tp = t + 0.62 * rr;
      if (tp < end) plan.push_back({tp, std::sqrt(rr), amp, true});
      t += 2.0 * rr;
    } else {
      t += rr;
    }
  }

  const int64_t n = static_cast<int64_t>(std::floor(o.duration_s * o.fs));
  std::vector<double> sig(static_cast<size_t>(std::max<int64_t>(0, n)), 0.0);
  SyntheticEcg out;
  static constexpr Wave kNormal[] = {{-0.2, 0.12, 0.025},
                                     {-0.03, -0.10, 0.008},
                                     {0.0, 1.0, 0.010},
                                     {0.03, -0.22, 0.010},
                                     {0.28, 0.28, 0.045}};
  static constexpr Wave kPvc[] = {{0.0, 1.3, 0.03}, {0.07, -0.45, 0.035}, {0.33, -0.35, 0.07}};
  for (const BeatPlan& b : plan) {
    std::span<const Wave> waves =
        b.pvc ? std::span<const Wave>(kPvc) : std::span<const Wave>(kNormal);
    for (const Wave& w : waves) {
      // P (before R) and T (after ~0.25 s) scale with the rate; QRS does not.
      bool scaled = w.offset_s < -0.1 || w.offset_s > 0.1;
      double center = b.t + (scaled ? w.offset_s * b.scale : w.offset_s);
      AddWave(sig, o.fs, center, w.amp_mv * b.amp, w.width_s);
    }
    int64_t k = static_cast<int64_t>(std::floor(b.t * o.fs + 0.5));
    if (k < n) {
      out.r_peaks.push_back(k);
      out.classes.push_back(b.pvc ? 'V' : 'N');
    }
  }

  out.mv.resize(sig.size());
  for (int64_t k = 0; k < n; ++k) {
    double tk = static_cast<double>(k) / o.fs;
    double wander = o.wander_mv * (0.7 * std::sin(kTwoPi * 0.15 * tk + phase_wander) +
                                   0.3 * std::sin(kTwoPi * 0.04 * tk + 2.0 * phase_wander));
    double mains = o.mains_mv * std::sin(kTwoPi * 50.0 * tk);
    double v = sig[k] + wander + mains + o.noise_mv * rng.Gauss();
    out.mv[k] = static_cast<float>(std::floor(v * 1000.0 + 0.5) / 1000.0);
  }
  return out;
}

bool IsSyntheticSpec(std::string_view text) {
  size_t nl = text.find('\n');
  return Trim(text.substr(0, nl)) == kSyntheticSpecMagic;
}

Result<SyntheticEcgOptions> ParseSyntheticSpec(std::string_view text) {
  if (!IsSyntheticSpec(text))
    return Status::InvalidArgument(
        fmt::format("synthetic spec line 1: expected '{}'", kSyntheticSpecMagic));
  SyntheticEcgOptions o;
  struct Field {
    std::string_view key;
    double* value;
    double lo, hi;
    bool lo_open;
  };
  const Field fields[] = {
      {"fs", &o.fs, 50, 10000, false},
      {"duration_s", &o.duration_s, 0, 86400, true},
      {"hr_bpm", &o.hr_bpm, 20, 250, false},
      {"noise_mv", &o.noise_mv, 0, 10, false},
      {"wander_mv", &o.wander_mv, 0, 10, false},
      {"mains_mv", &o.mains_mv, 0, 10, false},
      {"amplitude_mv", &o.amplitude_mv, 0, 10, true},
      {"rsa", &o.rsa, 0, 0.49, false},
      {"resp_hz", &o.resp_hz, 0, 2, true},
      {"drift", &o.drift, 0, 0.49, false},
      {"pvc_fraction", &o.pvc_fraction, 0, 0.5, false},
  };
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (++line_no == 1 || line.empty() || line.front() == '#') continue;
    auto bad = [&](std::string_view why) {
      return Status::InvalidArgument(
          fmt::format("synthetic spec line {}: {}: '{}'", line_no, why, line.substr(0, 60)));
    };
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return bad("expected 'key = value'");
    std::string_view key = Trim(line.substr(0, eq));
    std::string_view value = Trim(line.substr(eq + 1));
    if (key == "seed") {
      if (!ParseValue(value, &o.seed)) return bad("seed must be an unsigned integer");
      continue;
    }
    const Field* f = nullptr;
    for (const Field& c : fields)
      if (c.key == key) f = &c;
    if (!f) return bad("unknown key");
    double v;
    if (!ParseValue(value, &v) || !std::isfinite(v)) return bad("not a number");
    if (v > f->hi || v < f->lo || (f->lo_open && v == f->lo))
      return bad(fmt::format("{} must be in {}{}, {}]", key, f->lo_open ? "(" : "[", f->lo, f->hi));
    *f->value = v;
  }
  return o;
}

}  // namespace overlay::ecg
