// SPDX-License-Identifier: Apache-2.0
#include "beat_classifier.h"

#include <algorithm>
#include <cmath>

namespace overlay::ecg {
namespace {

int64_t Samples(double seconds, double fs) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::floor(seconds * fs + 0.5)));
}

// Template matching: a beat this correlated with the template is "like" it.
constexpr double kLikeCorr = 0.9;
// Only like beats at least this late (RR ratio) update the template.
constexpr double kUpdateMinRr = 0.85;
// Template and width follow like beats with weight 1/8.
constexpr double kUpdateWeight = 1.0 / 8;
// A more frequent rival becomes the template unless this much wider; an
// equally frequent one when this much narrower.
constexpr double kMaxWiderRival = 1.25;
constexpr double kNarrowerRival = 0.85;
// Peak deviations under 20 µV are taken as 20 µV (keeps ratios finite).
constexpr double kMinPeakMv = 0.02;
// Input clamp, as the detector's (2^20 µV).
constexpr float kMaxMv = 1048.576f;

}  // namespace

char AamiClassOfSymbol(char symbol) {
  switch (symbol) {
    case 'N': case 'L': case 'R': case 'e': case 'j':
      return 'N';
    case 'A': case 'a': case 'J': case 'S':
      return 'S';
    case 'V': case 'E':
      return 'V';
    case 'F':
      return 'F';
    case '/': case 'f': case 'Q': case '?':
      return 'Q';
    default:
      return 0;
  }
}

int AamiClassIndex(char cls) {
  for (int i = 0; i < 5; ++i)
    if (kAamiClasses[i] == cls) return i;
  return -1;
}

BeatClassifier::BeatClassifier(double fs) : fs_(fs) {
  // The template spans -90..+110 ms around the R peak, matched within ±25 ms.
  pre_ = Samples(0.09, fs);
  len_ = Samples(0.2, fs);
  shift_ = Samples(0.025, fs);
  width_half_ = Samples(0.1, fs);
  // Baseline: the median of -220..-120 ms (the PR segment of a normal beat).
  base_from_ = Samples(0.22, fs);
  base_to_ = Samples(0.12, fs);
  keep_ = Samples(20, fs);
}

void BeatClassifier::AddSamples(std::span<const float> mv) {
  // As the detector clamps its input, so a hostile sample cannot overflow sums.
  for (float x : mv) buf_.push_back(std::isfinite(x) ? std::clamp(x, -kMaxMv, kMaxMv) : 0.0f);
}

float BeatClassifier::At(int64_t sample) const {
  if (buf_.empty()) return 0;
  int64_t i = std::clamp<int64_t>(sample - buf_start_, 0, static_cast<int64_t>(buf_.size()) - 1);
  return buf_[static_cast<size_t>(i)];
}

void BeatClassifier::Trim() {
  // Beats are emitted well within 20 s of their R peak; older samples go.
  if (static_cast<int64_t>(buf_.size()) <= 2 * keep_) return;
  const int64_t drop = static_cast<int64_t>(buf_.size()) - keep_;
  buf_.erase(buf_.begin(), buf_.begin() + drop);
  buf_start_ += drop;
}

void BeatClassifier::Classify(std::span<Beat> beats, std::vector<BeatFeatures>* features) {
  for (Beat& b : beats) {
    BeatFeatures f = Describe(b.sample);
    b.beat_class = ClassifyFeatures(f);
    if (features) features->push_back(f);
  }
  Trim();
}

BeatFeatures BeatClassifier::Describe(int64_t r) {
  BeatFeatures f;
  if (prev_r_ >= 0 && r > prev_r_) {
    const int64_t rr = r - prev_r_;
    if (rr_count_ > 0) {
      int64_t sum = 0;
      for (int k = 0; k < rr_count_; ++k) sum += rr_[k];
      f.rr_ratio = static_cast<double>(rr) * rr_count_ / static_cast<double>(sum);
    }
    rr_[rr_pos_] = rr;
    rr_pos_ = (rr_pos_ + 1) & 7;
    rr_count_ = std::min(rr_count_ + 1, 8);
  }
  prev_r_ = r;

  std::vector<double> base;
  for (int64_t i = r - base_from_; i <= r - base_to_; ++i) base.push_back(At(i));
  std::nth_element(base.begin(), base.begin() + static_cast<int64_t>(base.size() / 2), base.end());
  const double b0 = base[base.size() / 2];

  // Signed peak deviation and equivalent width (area / peak) within ±100 ms.
  double peak = 0, area = 0;
  for (int64_t i = r - width_half_; i <= r + width_half_; ++i) {
    const double d = At(i) - b0;
    area += std::abs(d);
    if (std::abs(d) > std::abs(peak)) peak = d;
  }
  if (std::abs(peak) < kMinPeakMv) peak = peak < 0 ? -kMinPeakMv : kMinPeakMv;
  const double width = area / std::abs(peak);

  std::vector<double> seg(static_cast<size_t>(len_ + 2 * shift_));
  for (int64_t k = 0; k < static_cast<int64_t>(seg.size()); ++k)
    seg[static_cast<size_t>(k)] = At(r - pre_ - shift_ + k) - b0;
  if (tmpl_.wave.empty()) {
    Adopt(tmpl_, seg, shift_, peak, width, 1);
    return f;
  }
  const auto [corr, shift] = Match(tmpl_, seg);
  f.corr = corr;
  f.amp_ratio = peak / tmpl_.peak;
  f.width_ratio = width / tmpl_.width;

  // Keep the template on the dominant morphology: like beats refine it, unlike
  // ones feed the rival, and the rival takes over when it has been the more
  // frequent of the last 16 beats (or as frequent and clearly narrower: in
  // bigeminy the normal beats are the narrow ones) without being much wider.
  uint8_t like = 2;
  if (corr >= kLikeCorr) {
    like = 0;
    if (f.rr_ratio >= kUpdateMinRr) Adopt(tmpl_, seg, shift, peak, width, kUpdateWeight);
  } else if (!rival_.wave.empty() && Match(rival_, seg).first >= kLikeCorr) {
    like = 1;
    Adopt(rival_, seg, Match(rival_, seg).second, peak, width, kUpdateWeight);
  } else {
    Adopt(rival_, seg, shift_, peak, width, 1);
  }
  recent_[recent_pos_] = like;
  recent_pos_ = (recent_pos_ + 1) & 15;
  recent_count_ = std::min(recent_count_ + 1, 16);
  int as_tmpl = 0, as_rival = 0;
  for (int k = 0; k < recent_count_; ++k) {
    as_tmpl += recent_[k] == 0;
    as_rival += recent_[k] == 1;
  }
  if (!rival_.wave.empty() &&
      ((as_rival > as_tmpl && rival_.width < kMaxWiderRival * tmpl_.width) ||
       (as_rival >= as_tmpl && as_rival >= 4 && rival_.width < kNarrowerRival * tmpl_.width))) {
    std::swap(tmpl_, rival_);
    for (int k = 0; k < recent_count_; ++k)
      recent_[k] = recent_[k] == 2 ? 2 : static_cast<uint8_t>(1 - recent_[k]);
  }
  return f;
}

std::pair<double, int64_t> BeatClassifier::Match(const Shape& shape,
                                                 const std::vector<double>& seg) const {
  const double n = static_cast<double>(len_);
  double tm = 0, tv = 0;
  for (double t : shape.wave) tm += t;
  tm /= n;
  for (double t : shape.wave) tv += (t - tm) * (t - tm);
  double best = -1;
  int64_t best_shift = shift_;
  for (int64_t s = 0; s <= 2 * shift_; ++s) {
    double xm = 0;
    for (int64_t k = 0; k < len_; ++k) xm += seg[static_cast<size_t>(s + k)];
    xm /= n;
    double xv = 0, xt = 0;
    for (int64_t k = 0; k < len_; ++k) {
      const double x = seg[static_cast<size_t>(s + k)] - xm;
      xv += x * x;
      xt += x * (shape.wave[static_cast<size_t>(k)] - tm);
    }
    const double c = xv > 0 && tv > 0 ? xt / std::sqrt(xv * tv) : 0;
    if (c > best) {
      best = c;
      best_shift = s;
    }
  }
  return {best, best_shift};
}

// Moves `shape` toward the beat by `weight` (1: replaces it).
void BeatClassifier::Adopt(Shape& shape, const std::vector<double>& seg, int64_t shift,
                           double peak, double width, double weight) const {
  if (shape.wave.empty()) shape.wave.assign(static_cast<size_t>(len_), 0.0);
  for (int64_t k = 0; k < len_; ++k)
    shape.wave[static_cast<size_t>(k)] +=
        (seg[static_cast<size_t>(shift + k)] - shape.wave[static_cast<size_t>(k)]) * weight;
  shape.peak += (peak - shape.peak) * weight;
  if (std::abs(shape.peak) < kMinPeakMv) shape.peak = shape.peak < 0 ? -kMinPeakMv : kMinPeakMv;
  shape.width += (width - shape.width) * weight;
}

// The decision tree bench/ecg/fit_beat_classifier.py fitted on the features of
// the 50,952 DS1 beats the detector matched (depth 3, leaves of >= 40 beats,
// classes weighted by frequency^-0.5); see docs/ecg.md.
char ClassifyFeatures(const BeatFeatures& f) {
  if (f.corr < 0.934) {
    if (f.rr_ratio < 0.899) {
      if (f.rr_ratio < 0.516) {
        return 'S';
      }
      return 'V';
    }
    if (f.amp_ratio < 1.0) {
      return 'V';
    }
    return 'F';
  }
  if (f.rr_ratio < 0.883) {
    if (f.rr_ratio < 0.853) {
      return 'S';
    }
    return 'N';
  }
  if (f.width_ratio < 1.197) {
    return 'N';
  }
  return 'F';
}

}  // namespace overlay::ecg
