// SPDX-License-Identifier: Apache-2.0
// Registers the ECG functions and the binary chunk's text form with the
// functions module at static initialization. The ECG library is linked whole
// (functions/CMakeLists.txt), so the linker keeps this file.
#include "ecg_chunk.h"
#include "ecg_functions.h"
#include "overlay/function_registry.h"

namespace overlay::ecg {
namespace {

const bool kRegistered = [] {
  RegisterBuiltin({"ecg_visualizer",
                   "SVG strip chart of an ECG stream with detected beats and a heart-rate trend",
                   "[strip_seconds=60]"},
                  NewEcgVisualizer);
  RegisterBuiltin({"qrs_detector",
                   "streaming Pan-Tompkins QRS detector: beats with time, RR interval, heart rate",
                   ""},
                  NewQrsDetector);
  RegisterBuiltin({"sensor_simulator",
                   "replays an ECG text recording (or synthesizes one) as chunk files",
                   "[chunk_samples=1000]"},
                  NewSensorSimulator);
  RegisterBinaryFormat({"ecg-chunk", IsBinaryChunk, ChunkText});
  return true;
}();

}  // namespace
}  // namespace overlay::ecg
