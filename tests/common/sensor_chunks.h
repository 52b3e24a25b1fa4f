// SPDX-License-Identifier: Apache-2.0
// Test helper shared by test binaries: the chunk files the sensor simulator
// writes for one synthetic patient.
#ifndef OVERLAY_TESTS_COMMON_SENSOR_CHUNKS_H_
#define OVERLAY_TESTS_COMMON_SENSOR_CHUNKS_H_

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "overlay/function.h"

namespace overlay::testing_common {

// `spec`: a synthetic patient file ("# overlay-synthetic-ecg ..."); `chunk`:
// samples per chunk file.
inline std::vector<NamedBlob> SensorChunks(const std::string& spec, const std::string& stream,
                                           int chunk) {
  auto sim = MakeFunction(FunctionSpec{"sim", "sensor_simulator", "", {std::to_string(chunk)}});
  EXPECT_TRUE(sim.ok()) << sim.status().ToString();
  if (!sim.ok()) return {};
  Task t;
  t.stream = stream;
  t.inputs.push_back({"patient.txt", Blob::FromString(spec)});
  EXPECT_TRUE((*sim)->Process(t).ok());
  return t.outputs;
}

}  // namespace overlay::testing_common

#endif  // OVERLAY_TESTS_COMMON_SENSOR_CHUNKS_H_
