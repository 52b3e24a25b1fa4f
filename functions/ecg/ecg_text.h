// SPDX-License-Identifier: Apache-2.0
// The plain-text formats the ECG functions exchange, so every stage (native or
// Python) reads and writes the same bytes.
//
// Chunk file (sensor_simulator output, one per N samples):
//   # stream=<id>
//   # fs=<Hz>
//   # first_sample=<index of the first sample in the stream>
//   <mV, 3 decimals>            one sample a line
//
// Beats file (qrs_detector output):
//   # stream=<id>
//   # fs=<Hz>
//   sample,time_s,rr_s,hr_bpm,class
//   <sample>,<time>,<rr or empty>,<hr or empty>,<class or empty>   one beat a line
// class is an AAMI beat class letter (N S V F Q, see beat_classifier.h). Files
// with the older header "sample,time_s,rr_s,hr_bpm" (four fields a row, as the
// Python detector writes) parse too, with beat_class 0.
#ifndef OVERLAY_FUNCTIONS_ECG_ECG_TEXT_H_
#define OVERLAY_FUNCTIONS_ECG_ECG_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "overlay/status.h"

namespace overlay::ecg {

inline constexpr double kDefaultFs = 360.0;

// The beats file's column header (the older one lacks ",class").
inline constexpr std::string_view kBeatsCsvHeader = "sample,time_s,rr_s,hr_bpm,class";

// What a header may state: fs within [kMinStatedFs, kMaxStatedFs] Hz and stream
// positions within [0, kMaxStatedSample]. Only corrupt or hostile input goes
// beyond, and downstream it would overflow positions or draw time axes that
// never end (a record of 2^40 samples at 1e-300 Hz).
inline constexpr double kMinStatedFs = 1;
inline constexpr double kMaxStatedFs = 1e6;
inline constexpr int64_t kMaxStatedSample = int64_t{1} << 48;  // 8.9 years at 1 MHz

// InvalidArgument naming the value when fs or first_sample is out of range.
Status CheckTiming(double fs, int64_t first_sample);

struct SignalChunk {
  std::string stream;
  double fs = kDefaultFs;
  int64_t first_sample = 0;
  std::vector<float> mv;
};

struct Beat {
  int64_t sample = 0;
  double time_s = 0;
  double rr_s = 0;    // 0: first beat of the stream, no RR yet
  double hr_bpm = 0;  // 60 / rr_s, or 0
  char beat_class = 0;  // 'N', 'S', 'V', 'F' or 'Q'; 0: not classified
};

struct BeatList {
  std::string stream;
  double fs = kDefaultFs;
  std::vector<Beat> beats;
};

// A raw recording as a sensor hub writes it: one or two numeric columns
// (separated by spaces, tabs, commas or semicolons; with two, the last is the
// signal), optional non-numeric header lines before the data, '#' comments,
// and an optional "# fs=<Hz>" comment (default kDefaultFs).
struct Recording {
  double fs = kDefaultFs;
  bool fs_stated = false;  // the file has a "# fs=<Hz>" line (an ECG record does)
  std::vector<float> mv;
};

std::string FormatChunk(const SignalChunk& chunk);
Result<SignalChunk> ParseChunk(std::string_view text);

std::string FormatBeats(const BeatList& beats);
Result<BeatList> ParseBeats(std::string_view text);

// Fails with the line number of the first malformed data line, or when there
// are no samples.
Result<Recording> ParseRecording(std::string_view text);

}  // namespace overlay::ecg

#endif  // OVERLAY_FUNCTIONS_ECG_ECG_TEXT_H_
