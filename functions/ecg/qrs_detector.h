// SPDX-License-Identifier: Apache-2.0
// A streaming Pan–Tompkins QRS detector (Pan & Tompkins, IEEE TBME 32(3), 1985),
// with Hamilton & Tompkins' peak finder (IEEE TBME 33(12), 1986).
//
// Pipeline: band-pass 5-15 Hz (boxcar low- and high-pass), five-point
// derivative, squaring, 150 ms moving-window integration. Peaks of the
// integrated signal are held 250 ms for a larger one, then judged against
// adaptive thresholds on the integrated (SPKI/NPKI) and band-passed
// (SPKF/NPKF) signals, with a 2 s learning phase, a 200 ms refractory period,
// the 360 ms T-wave slope test, halved thresholds while the rhythm is
// irregular (RR AVERAGE2 limits), and search-back at half threshold when no
// beat came for 166% of the mean RR (thresholds decay while nothing qualifies).
// The R peak is the largest band-passed sample under the integration window,
// moved back by the filter delay.
//
// Every stage runs in integer arithmetic on microvolts, so the Python port
// (functions/ecg/python/qrs_detector.py) finds bit-identical beats, and every
// decision depends only on the sample stream: feeding a record in chunks of any
// size finds exactly the beats that feeding it whole finds.
#ifndef OVERLAY_FUNCTIONS_ECG_QRS_DETECTOR_H_
#define OVERLAY_FUNCTIONS_ECG_QRS_DETECTOR_H_

#include <cstdint>
#include <span>
#include <vector>

#include "ecg_text.h"

namespace overlay::ecg {

// Thread-safety: none; one instance per stream. Holds its buffers by value.
class QrsDetector {
 public:
  // REQUIRES: fs >= 50 (Hz). Coefficients and time windows scale with fs.
  explicit QrsDetector(double fs);

  QrsDetector(const QrsDetector&) = delete;
  QrsDetector& operator=(const QrsDetector&) = delete;

  // Feeds the next samples (mV) of the stream and appends the beats decided so
  // far to *out, in time order. A beat is decided a bounded time after its R peak
  // (about 0.5 s, longer when found by search-back).
  void Process(std::span<const float> mv, std::vector<Beat>* out);

  // End of stream: decides the pending beats and appends them. The detector
  // must not be fed afterwards.
  void Flush(std::vector<Beat>* out);

  double fs() const { return fs_; }
  // Samples fed so far, i.e. the stream index of the next sample.
  int64_t samples_seen() const { return n_; }

 private:
  // A local maximum of the integrated signal with its features.
  struct Peak {
    int64_t step = -1;   // sample count when the integrated signal peaked
    int64_t loc = 0;     // R-peak sample index in the stream
    int64_t height = 0;  // integrated-signal peak (for SPKI/NPKI)
    int64_t filt = 0;    // |band-passed| peak (for SPKF/NPKF)
    int64_t slope = 0;   // max |derivative| (T-wave discrimination)
  };

  template <typename NextX>
  void Run(int64_t count, NextX next_x);
  void Prime(int64_t x);
  void OnIntegratedPeak(int64_t peak_step, int64_t height);
  void Evaluate(const Peak& p);
  void EndLearning();
  void Accept(const Peak& p, bool search_back);
  void Noise(const Peak& p);
  void UpdateThresholds();
  void SearchBack();
  int64_t RrAverage() const;
  bool Eligible(const Peak& p) const;
  void Emit(int64_t loc);

  // Constant after construction.
  double fs_;
  int64_t l1_, l2_, dd_, w_;  // low-pass, high-pass, derivative, window lengths
  int sh_lp_, sh_hp_;         // gain normalisation shifts
  int64_t bp_delay_;          // band-pass group delay (samples)
  int64_t hold_, ms95_, ms200_, ms360_, learn_;
  int64_t mask_;

  // Filter state; rings are indexed by sample count & mask_.
  std::vector<int64_t> ring_x_, ring_s1_, ring_lp_, ring_bp_, ring_der_, ring_sq_;
  int64_t n_ = 0;
  int64_t s1_ = 0, s2_ = 0, hsum_ = 0, msum_ = 0, last_x_ = 0;

  // Peak finder on the integrated signal.
  int64_t pk_max_ = 0, pk_step_ = 0, pk_since_ = 0, pk_last_ = 0;
  Peak held_;
  int64_t hold_left_ = 0;

  // Learning phase (first 2 s).
  bool learning_ = true;
  int64_t learn_max_i_ = 0, learn_sum_i_ = 0, learn_max_f_ = 0, learn_sum_f_ = 0;
  std::vector<Peak> learn_peaks_;

  // Adaptive thresholds (Pan–Tompkins names).
  int64_t spki_ = 0, npki_ = 0, spkf_ = 0, npkf_ = 0;
  int64_t thr_i1_ = 0, thr_f1_ = 0;
  int64_t rr_[8] = {};
  int64_t rr_sum_ = 0, rr_count_ = 0, rr_pos_ = 0;
  int64_t rr2_[8] = {};
  int64_t rr2_sum_ = 0, rr2_pos_ = 0;
  bool regular_ = false;  // the last 8 RR all within 92-116% of RR AVERAGE2
  int64_t last_loc_ = -1, last_step_ = 0, last_slope_ = 0;
  std::vector<Peak> noise_;  // noise peaks since the last beat (search-back candidates)
  int64_t sb_limit_ = 0;     // search-back after this many steps without a beat
  int64_t decay_at_ = 0;     // step at which thresholds next decay without beats

  // Output.
  std::vector<Beat>* out_ = nullptr;
  int64_t prev_emitted_ = -1;
};

}  // namespace overlay::ecg

#endif  // OVERLAY_FUNCTIONS_ECG_QRS_DETECTOR_H_
