// SPDX-License-Identifier: Apache-2.0
// Streaming per-beat classification into the ANSI/AAMI EC57 classes
// N (normal and bundle-branch), S (supraventricular ectopic), V (ventricular
// ectopic), F (fusion) and Q (unclassifiable).
//
// Each detected beat is described by its RR rhythm (the RR before it against
// the mean of the last 8 RR) and its QRS shape against the stream's running
// normal template (correlation, amplitude, width), then classed by a small
// decision tree whose thresholds are code constants learned on MIT-BIH DS1
// (docs/ecg.md says how, and how it was validated). A beat is classed when
// the detector emits it: no look-ahead, so the RR after a beat is not used.
#ifndef OVERLAY_FUNCTIONS_ECG_BEAT_CLASSIFIER_H_
#define OVERLAY_FUNCTIONS_ECG_BEAT_CLASSIFIER_H_

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "ecg_text.h"

namespace overlay::ecg {

// The AAMI class letters, as written in the beats file's class column.
inline constexpr char kAamiClasses[] = {'N', 'S', 'V', 'F', 'Q'};

// The AAMI class of a MIT-BIH beat symbol (N L R e j -> N; A a J S -> S;
// V E -> V; F -> F; / f Q ? -> Q), or 0 for a symbol that is not a beat.
char AamiClassOfSymbol(char symbol);

// Index of an AAMI class letter in kAamiClasses, or -1.
int AamiClassIndex(char cls);

struct BeatFeatures {
  double rr_ratio = 1;     // RR before the beat / mean of the last 8 RR (1: none yet)
  double corr = 1;         // best Pearson correlation with the normal template (±25 ms shift)
  double amp_ratio = 1;    // signed peak deviation / the template's (negative: polarity flipped)
  double width_ratio = 1;  // QRS equivalent width / the normal beats' running mean
};

// The class of a beat with these features (the learned decision tree).
char ClassifyFeatures(const BeatFeatures& f);

// Thread-safety: none; one instance per stream, fed alongside its QrsDetector.
class BeatClassifier {
 public:
  // REQUIRES: fs >= 50 (Hz).
  explicit BeatClassifier(double fs);

  // Appends the next samples of the stream: the same samples the detector was
  // fed, before the beats it emitted for them are classified.
  void AddSamples(std::span<const float> mv);

  // Sets beat_class of each beat (in stream order, sample indices counted from
  // the first sample added). `features`, when given, receives each beat's
  // features in the same order.
  void Classify(std::span<Beat> beats, std::vector<BeatFeatures>* features = nullptr);

 private:
  // A QRS shape (baseline removed) with its peak deviation and width.
  struct Shape {
    std::vector<double> wave;
    double peak = 0, width = 0;
  };

  float At(int64_t sample) const;
  BeatFeatures Describe(int64_t r);
  // Best correlation of `shape` with seg over the shifts, and that shift.
  std::pair<double, int64_t> Match(const Shape& shape, const std::vector<double>& seg) const;
  void Adopt(Shape& shape, const std::vector<double>& seg, int64_t shift, double peak,
             double width, double weight) const;
  void Trim();

  // Constant after construction.
  double fs_;
  int64_t pre_, len_, shift_, width_half_, base_from_, base_to_, keep_;

  // Signal history: buf_[i] is stream sample buf_start_ + i.
  std::vector<float> buf_;
  int64_t buf_start_ = 0;

  // Rhythm: the last 8 RR intervals (samples).
  int64_t prev_r_ = -1;
  int64_t rr_[8] = {};
  int rr_count_ = 0, rr_pos_ = 0;

  // The normal template, and a rival: the latest other morphology. Which one
  // each of the last 16 beats was like (0 template, 1 rival, 2 neither).
  Shape tmpl_, rival_;
  uint8_t recent_[16] = {};
  int recent_count_ = 0, recent_pos_ = 0;
};

}  // namespace overlay::ecg

#endif  // OVERLAY_FUNCTIONS_ECG_BEAT_CLASSIFIER_H_
