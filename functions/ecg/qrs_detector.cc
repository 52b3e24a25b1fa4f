// SPDX-License-Identifier: Apache-2.0
#include "qrs_detector.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace overlay::ecg {
namespace {

// Rounds half up; the Python port computes the same with math.floor(x + 0.5).
int64_t RoundHalfUp(double x) { return static_cast<int64_t>(std::floor(x + 0.5)); }

int FloorLog2(int64_t v) { return static_cast<int>(std::bit_width(static_cast<uint64_t>(v))) - 1; }

// Input clamp (µV): keeps every intermediate inside int64 at any sane fs.
constexpr int64_t kMaxMicrovolts = int64_t{1} << 20;

// Search-back candidates kept since the last beat (about 10 s of noise peaks).
constexpr size_t kMaxNoisePeaks = 64;

}  // namespace

QrsDetector::QrsDetector(double fs) : fs_(fs) {
  auto samples = [fs](double seconds) { return std::max<int64_t>(1, RoundHalfUp(seconds * fs)); };
  // Band-pass 5-15 Hz: two 30 ms boxcars (low-pass, as the 1985 filter at
  // 200 Hz) and a 160 ms boxcar subtracted from the delayed signal (high-pass).
  l1_ = samples(0.03);
  l2_ = 2 * RoundHalfUp(0.08 * fs) + 1;  // odd, so its delay is whole samples
  dd_ = std::max<int64_t>(1, RoundHalfUp(fs / 200.0));
  w_ = samples(0.15);
  sh_lp_ = FloorLog2(l1_ * l1_);
  sh_hp_ = FloorLog2(l2_);
  bp_delay_ = (l1_ - 1) + (l2_ - 1) / 2;
  ms95_ = samples(0.095);
  ms200_ = samples(0.2);
  // Hamilton holds a peak 200 ms for a larger one; 250 ms also merges the big
  // P waves of records like MIT-BIH 108 into their QRS.
  hold_ = samples(0.25);
  ms360_ = samples(0.36);
  learn_ = samples(2.0);
  int64_t need = samples(1.0) + l2_ + w_;
  int64_t size = int64_t{1} << std::bit_width(static_cast<uint64_t>(need));
  mask_ = size - 1;
  for (auto* r : {&ring_x_, &ring_s1_, &ring_lp_, &ring_bp_, &ring_der_, &ring_sq_})
    r->assign(static_cast<size_t>(size), 0);
  rr_count_ = 0;
  for (auto& r : rr2_) r = samples(1.0);
  rr2_sum_ = 8 * samples(1.0);
  sb_limit_ = RrAverage() * 166 / 100 + ms95_ + hold_;
}

void QrsDetector::Process(std::span<const float> mv, std::vector<Beat>* out) {
  out_ = out;
  const float* p = mv.data();
  Run(static_cast<int64_t>(mv.size()), [&p] {
    // Clamped before the conversion: a finite sample beyond int64 is UB to
    // convert (on x86 it became INT64_MIN, a huge positive sample negative).
    constexpr double kMax = static_cast<double>(kMaxMicrovolts);
    const double uv = std::nearbyint(static_cast<double>(*p++) * 1000.0);
    return static_cast<int64_t>(uv > -kMax ? std::min(uv, kMax) : -kMax);
  });
  out_ = nullptr;
}

void QrsDetector::Flush(std::vector<Beat>* out) {
  out_ = out;
  int64_t real_end = n_;
  // Holding the last value lets every pending peak complete and be decided.
  if (real_end > 0) {
    const int64_t last = last_x_;
    Run(bp_delay_ + 4 * dd_ + w_ + ms95_ + hold_ + 2, [last] { return last; });
  }
  if (learning_) EndLearning();
  n_ = real_end;
  out_ = nullptr;
}

void QrsDetector::Prime(int64_t x) {
  // As if the signal had been constant at x before the stream began, so the
  // filters start without a step transient.
  int64_t lp0 = (x * l1_ * l1_) >> sh_lp_;
  std::fill(ring_x_.begin(), ring_x_.end(), x);
  std::fill(ring_s1_.begin(), ring_s1_.end(), x * l1_);
  std::fill(ring_lp_.begin(), ring_lp_.end(), lp0);
  s1_ = x * l1_;
  s2_ = x * l1_ * l1_;
  hsum_ = lp0 * l2_;
}

// The per-sample loop. Hot state lives in locals (ring stores could alias
// members); members are synced around the rare calls that read them.
template <typename NextX>
void QrsDetector::Run(int64_t count, NextX next_x) {
  const int64_t m = mask_, l1 = l1_, l2 = l2_, mid = (l2_ - 1) / 2, dd = dd_, w = w_;
  const int64_t ms95 = ms95_;
  const int sh_lp = sh_lp_, sh_hp = sh_hp_;
  int64_t* const rx = ring_x_.data();
  int64_t* const rs1 = ring_s1_.data();
  int64_t* const rlp = ring_lp_.data();
  int64_t* const rbp = ring_bp_.data();
  int64_t* const rder = ring_der_.data();
  int64_t* const rsq = ring_sq_.data();
  int64_t n = n_, s1 = s1_, s2 = s2_, hsum = hsum_, msum = msum_, x = last_x_;
  int64_t pk_max = pk_max_, pk_step = pk_step_, pk_since = pk_since_, pk_last = pk_last_;
  int64_t hold_left = hold_left_;
  bool learning = learning_;
  int64_t sb_after = last_step_ + sb_limit_;
  auto reload = [&] {
    hold_left = hold_left_;
    learning = learning_;
    sb_after = last_step_ + sb_limit_;
  };
  for (int64_t c = 0; c < count; ++c) {
    x = next_x();
    if (n == 0) {
      Prime(x);
      s1 = s1_;
      s2 = s2_;
      hsum = hsum_;
    }
    const int64_t i = n & m;
    s1 += x - rx[(n - l1) & m];
    rx[i] = x;
    s2 += s1 - rs1[(n - l1) & m];
    rs1[i] = s1;
    const int64_t lp = s2 >> sh_lp;
    hsum += lp - rlp[(n - l2) & m];
    rlp[i] = lp;
    const int64_t bp = (rlp[(n - mid) & m] * l2 - hsum) >> sh_hp;
    rbp[i] = bp;
    const int64_t der =
        2 * bp + rbp[(n - dd) & m] - rbp[(n - 3 * dd) & m] - 2 * rbp[(n - 4 * dd) & m];
    rder[i] = der;
    const int64_t sq = der * der;
    msum += sq - rsq[(n - w) & m];
    rsq[i] = sq;
    const int64_t mwi = msum;

    if (learning) {
      learn_max_i_ = std::max(learn_max_i_, mwi);
      learn_sum_i_ += mwi;
      int64_t abp = bp < 0 ? -bp : bp;
      learn_max_f_ = std::max(learn_max_f_, abp);
      learn_sum_f_ += abp;
    }

    // Hamilton's peak finder: a maximum ends when the signal halves or 95 ms pass.
    bool found = false;
    if (pk_since > 0) ++pk_since;
    if (mwi > pk_last && mwi > pk_max) {
      pk_max = mwi;
      pk_step = n;
      pk_since = 1;
    } else if (pk_max > 0 && (mwi < (pk_max >> 1) || pk_since > ms95)) {
      hold_left_ = hold_left;
      OnIntegratedPeak(pk_step, pk_max);
      reload();
      found = true;
      pk_max = 0;
      pk_since = 0;
    }
    pk_last = mwi;
    if (!found && hold_left > 0 && --hold_left == 0) {
      hold_left_ = 0;
      Evaluate(held_);
      reload();
    }

    ++n;
    if (learning) {
      if (n == learn_) {
        n_ = n;
        hold_left_ = hold_left;
        EndLearning();
        reload();
      }
      continue;
    }
    // Search-back: no beat for 166% of the mean RR, once every peak of that
    // span has been decided.
    if (n - 1 > sb_after) {
      n_ = n;
      hold_left_ = hold_left;
      SearchBack();
      reload();
    }
  }
  n_ = n;
  s1_ = s1;
  s2_ = s2;
  hsum_ = hsum;
  msum_ = msum;
  last_x_ = x;
  pk_max_ = pk_max;
  pk_step_ = pk_step;
  pk_since_ = pk_since;
  pk_last_ = pk_last;
  hold_left_ = hold_left;
}

int64_t QrsDetector::RrAverage() const {
  return rr_count_ == 0 ? RoundHalfUp(fs_) : rr_sum_ / rr_count_;
}

bool QrsDetector::Eligible(const Peak& p) const {
  if (last_loc_ < 0) return true;
  int64_t dist = p.loc - last_loc_;
  return dist >= ms360_ || (dist >= ms200_ && 2 * p.slope >= last_slope_);
}

void QrsDetector::SearchBack() {
  // The largest eligible noise peak above half the thresholds becomes a beat;
  // repeated while the gap after it is still too long.
  for (;;) {
    const Peak* best = nullptr;
    for (const Peak& p : noise_)
      if (p.step > last_step_ && Eligible(p) && p.height > (thr_i1_ >> 1) &&
          p.filt > (thr_f1_ >> 1) && (!best || p.height > best->height))
        best = &p;
    if (!best) break;
    Accept(Peak(*best), true);  // a copy: Accept erases from noise_
    if (n_ - 1 - last_step_ <= sb_limit_) return;
  }
  // Nothing qualifies: the beats may have shrunk, so lower the signal levels.
  if (n_ - 1 >= decay_at_) {
    spki_ -= spki_ >> 2;
    spkf_ -= spkf_ >> 2;
    UpdateThresholds();
    decay_at_ = n_ - 1 + RrAverage();
  }
}

void QrsDetector::OnIntegratedPeak(int64_t peak_step, int64_t height) {
  const int64_t m = mask_;
  Peak p;
  p.step = peak_step;
  p.height = height;
  // The integration window of this peak, in band-passed samples.
  int64_t end = peak_step - 2 * dd_;
  int64_t begin = end - w_ + 1;
  int64_t best = begin;
  for (int64_t k = begin; k <= end; ++k) {
    int64_t a = ring_bp_[k & m] < 0 ? -ring_bp_[k & m] : ring_bp_[k & m];
    if (a > p.filt) {
      p.filt = a;
      best = k;
    }
    int64_t d = ring_der_[(k + 2 * dd_) & m];
    d = d < 0 ? -d : d;
    if (d > p.slope) p.slope = d;
  }
  p.loc = std::max<int64_t>(0, best - bp_delay_);
  if (hold_left_ == 0 || p.height > held_.height) {
    held_ = p;
    hold_left_ = hold_;
  } else if (--hold_left_ == 0) {
    Evaluate(held_);
  }
}

void QrsDetector::EndLearning() {
  learning_ = false;
  int64_t len = std::max<int64_t>(1, std::min(n_, learn_));
  spki_ = learn_max_i_ / 3;
  npki_ = learn_sum_i_ / len / 2;
  spkf_ = learn_max_f_ / 3;
  npkf_ = learn_sum_f_ / len / 2;
  UpdateThresholds();
  std::vector<Peak> peaks;
  peaks.swap(learn_peaks_);
  for (const Peak& p : peaks) Evaluate(p);
}

void QrsDetector::Evaluate(const Peak& p) {
  if (learning_) {
    learn_peaks_.push_back(p);
    return;
  }
  int64_t dist = last_loc_ < 0 ? ms360_ : p.loc - last_loc_;
  if (dist < ms200_) return;  // refractory: part of the last complex
  if (p.height > thr_i1_ && p.filt > thr_f1_) {
    // T-wave: early, and its slope under half the last QRS slope.
    if (dist < ms360_ && 2 * p.slope < last_slope_) {
      Noise(p);
      return;
    }
    Accept(p, false);
    return;
  }
  Noise(p);
}

void QrsDetector::Noise(const Peak& p) {
  npki_ = (p.height + 7 * npki_) >> 3;
  npkf_ = (p.filt + 7 * npkf_) >> 3;
  UpdateThresholds();
  if (noise_.size() == kMaxNoisePeaks) noise_.erase(noise_.begin());
  noise_.push_back(p);
}

void QrsDetector::Accept(const Peak& p, bool search_back) {
  if (search_back) {
    spki_ = (p.height + 3 * spki_) >> 2;
    spkf_ = (p.filt + 3 * spkf_) >> 2;
  } else {
    spki_ = (p.height + 7 * spki_) >> 3;
    spkf_ = (p.filt + 7 * spkf_) >> 3;
  }
  if (last_loc_ >= 0) {
    int64_t rr = p.loc - last_loc_;
    if (rr_count_ == 8)
      rr_sum_ -= rr_[rr_pos_];
    else
      ++rr_count_;
    rr_[rr_pos_] = rr;
    rr_sum_ += rr;
    rr_pos_ = (rr_pos_ + 1) & 7;
    // RR AVERAGE2: the intervals within 92-116% of its own mean.
    if (rr * 100 >= rr2_sum_ * 92 / 8 && rr * 100 <= rr2_sum_ * 116 / 8) {
      rr2_sum_ += rr - rr2_[rr2_pos_];
      rr2_[rr2_pos_] = rr;
      rr2_pos_ = (rr2_pos_ + 1) & 7;
    }
    regular_ = rr_count_ == 8;
    for (int k = 0; k < rr_count_; ++k)
      if (rr_[k] * 100 < rr2_sum_ * 92 / 8 || rr_[k] * 100 > rr2_sum_ * 116 / 8) regular_ = false;
  }
  sb_limit_ = RrAverage() * 166 / 100 + ms95_ + hold_;
  last_loc_ = p.loc;
  last_step_ = p.step;
  last_slope_ = p.slope;
  std::erase_if(noise_, [&](const Peak& q) { return q.step <= p.step; });
  decay_at_ = p.step + sb_limit_;
  UpdateThresholds();
  Emit(p.loc);
}

void QrsDetector::UpdateThresholds() {
  thr_i1_ = npki_ + ((spki_ - npki_) >> 2);
  thr_f1_ = npkf_ + ((spkf_ - npkf_) >> 2);
  // Pan & Tompkins: an irregular rhythm halves the thresholds.
  if (!regular_) {
    thr_i1_ >>= 1;
    thr_f1_ >>= 1;
  }
}

void QrsDetector::Emit(int64_t loc) {
  if (loc <= prev_emitted_) return;
  Beat b;
  b.sample = loc;
  b.time_s = static_cast<double>(loc) / fs_;
  if (prev_emitted_ >= 0) {
    b.rr_s = static_cast<double>(loc - prev_emitted_) / fs_;
    b.hr_bpm = 60.0 / b.rr_s;
  }
  prev_emitted_ = loc;
  if (out_) out_->push_back(b);
}

}  // namespace overlay::ecg
