// SPDX-License-Identifier: Apache-2.0
// What the endpoint fuzz targets share: an endpoint's FUNCTIONs (the native
// ECG ones, no commands) and a private L1 container holding a few known
// objects (a synthetic patient and the sensor's chunks of it), which seed
// Invokes name by key. Built once per process: opening a segment is slow.
#ifndef OVERLAY_FUZZ_ENDPOINT_FIXTURE_H_
#define OVERLAY_FUZZ_ENDPOINT_FIXTURE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "overlay/config.h"
#include "overlay/storage/container_store.h"
#include "overlay/storage/data_container.h"

namespace overlay::fuzz {

// The FUNCTIONs, by name: sensor (sensor_simulator, 360 samples a chunk),
// qrsdetector (qrs_detector, stateful), visualize (ecg_visualizer).
class EndpointFixture {
 public:
  // The process's fixture; aborts when it cannot be built.
  static EndpointFixture& Get();

  const PipelineSpec& spec() const { return spec_; }
  storage::DataContainer& container() { return *container_; }
  storage::ContainerStore& store() { return *store_; }
  // Keys (hex) of the known objects: [0] the synthetic patient, then its chunks.
  const std::vector<std::string>& keys() const { return keys_; }
  // Their bytes, parallel to keys().
  const std::vector<std::string>& objects() const { return objects_; }
  // Puts the known objects back where eviction dropped them.
  void Restock();

 private:
  EndpointFixture() = default;
  PipelineSpec spec_;
  std::unique_ptr<storage::DataContainer> container_;
  std::unique_ptr<storage::ContainerStore> store_;
  std::vector<std::string> keys_;
  std::vector<std::string> objects_;
};

// Splits fuzz input into frames: each a 4-byte little-endian length, then
// that many bytes (fewer at the end). Each frame is copied into a buffer of
// its own, exactly its size, as a transport would deliver it.
std::vector<std::string> SplitFrames(const uint8_t* data, size_t size);
// The inverse, for writing seeds.
std::string JoinFrames(const std::vector<std::string>& frames);

}  // namespace overlay::fuzz

#endif  // OVERLAY_FUZZ_ENDPOINT_FIXTURE_H_
