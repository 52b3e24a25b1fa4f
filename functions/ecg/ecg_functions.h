// SPDX-License-Identifier: Apache-2.0
// Factories of the native ECG functions, for the builtin registry.
#ifndef OVERLAY_FUNCTIONS_ECG_ECG_FUNCTIONS_H_
#define OVERLAY_FUNCTIONS_ECG_ECG_FUNCTIONS_H_

#include <memory>
#include <string>
#include <vector>

#include "overlay/function.h"

namespace overlay::ecg {

// sensor_simulator [chunk_samples=1000]
Result<std::unique_ptr<Function>> NewSensorSimulator(const std::vector<std::string>& args);
// qrs_detector (no arguments)
Result<std::unique_ptr<Function>> NewQrsDetector(const std::vector<std::string>& args);
// ecg_visualizer [strip_seconds=60]
Result<std::unique_ptr<Function>> NewEcgVisualizer(const std::vector<std::string>& args);

}  // namespace overlay::ecg

#endif  // OVERLAY_FUNCTIONS_ECG_ECG_FUNCTIONS_H_
