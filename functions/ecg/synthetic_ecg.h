// SPDX-License-Identifier: Apache-2.0
// A synthetic ECG with known beat times, for tests and the sensor simulator.
//
// Each beat is a sum of Gaussian P, Q, R, S and T waves (after McSharry et al.,
// "A dynamical model for generating synthetic electrocardiogram signals", IEEE
// TBME 50(3), 2003), placed on an RR series with respiratory sinus arrhythmia,
// a slow drift and jitter; optional wide premature ventricular beats; white
// noise, baseline wander and mains hum. Deterministic from the seed, and
// computed in double with the same operation order as
// functions/ecg/python/sensor_simulator.py, so both produce the same samples.
#ifndef OVERLAY_FUNCTIONS_ECG_SYNTHETIC_ECG_H_
#define OVERLAY_FUNCTIONS_ECG_SYNTHETIC_ECG_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "overlay/status.h"

namespace overlay::ecg {

// Each field is also a key of the synthetic-patient spec file (same name).
struct SyntheticEcgOptions {
  double fs = 360;            // sampling rate, Hz; 50..10000
  double duration_s = 60;     // record length, s; (0, 86400]
  double hr_bpm = 70;         // mean heart rate; 20..250
  uint64_t seed = 1;          // any value; equal seeds give equal records
  double noise_mv = 0.01;     // white noise standard deviation, mV; >= 0
  double wander_mv = 0.1;     // baseline wander amplitude, mV; >= 0
  double mains_mv = 0;        // 50 Hz hum amplitude, mV; >= 0
  double amplitude_mv = 1.0;  // R-wave amplitude, mV; (0, 10]
  double rsa = 0.05;          // RR modulation by breathing, fraction of RR; [0, 0.5)
  double resp_hz = 0.25;      // breathing rate, Hz; (0, 2]
  double drift = 0.05;        // slow RR drift (90 s period), fraction of RR; [0, 0.5)
  double pvc_fraction = 0;    // probability that a beat is followed by a PVC; [0, 0.5]
};

struct SyntheticEcg {
  std::vector<float> mv;         // samples, rounded to 1 µV
  std::vector<int64_t> r_peaks;  // sample index of every beat's R wave, ascending
  std::vector<char> classes;     // AAMI class of each beat: 'N', or 'V' for a PVC
};

// REQUIRES: options within the documented ranges (ParseSyntheticSpec checks).
SyntheticEcg GenerateSyntheticEcg(const SyntheticEcgOptions& options);

// The first line that marks a synthetic-patient spec file.
inline constexpr std::string_view kSyntheticSpecMagic = "# overlay-synthetic-ecg";

// True when `text` starts with kSyntheticSpecMagic.
bool IsSyntheticSpec(std::string_view text);

// Parses a spec file: the magic line, then `key = value` lines (the fields of
// SyntheticEcgOptions), blank lines and '#' comments. Unknown keys, malformed
// values and values out of range fail with the line number.
Result<SyntheticEcgOptions> ParseSyntheticSpec(std::string_view text);

}  // namespace overlay::ecg

#endif  // OVERLAY_FUNCTIONS_ECG_SYNTHETIC_ECG_H_
