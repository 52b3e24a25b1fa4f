// SPDX-License-Identifier: Apache-2.0
#include "endpoint_fixture.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "overlay/storage/shm_cache.h"
#include "task_runner.h"

namespace overlay::fuzz {
namespace {

constexpr std::string_view kConfig = R"([FUNCTION]
name = sensor
builtin = sensor_simulator
args = 360
[END]

[FUNCTION]
name = qrsdetector
builtin = qrs_detector
[END]

[FUNCTION]
name = visualize
builtin = ecg_visualizer
args = 2
[END]
)";

// Ten seconds of a patient with premature beats: ten chunks of 360 samples.
constexpr std::string_view kPatient =
    "# overlay-synthetic-ecg\nfs = 360\nduration_s = 10\nhr_bpm = 80\nseed = 7\n"
    "pvc_fraction = 0.2\n";

[[noreturn]] void Die(const char* what, const Status& s) {
  std::fprintf(stderr, "fuzz fixture: %s: %s\n", what, s.ToString().c_str());
  std::abort();
}

}  // namespace

EndpointFixture& EndpointFixture::Get() {
  static EndpointFixture* fixture = [] {
    auto* f = new EndpointFixture;
    auto spec = ParseConfigText(kConfig, "fuzz.cfg", "/nonexistent-fuzz-dir");
    if (!spec.ok()) Die("config", spec.status());
    f->spec_ = std::move(*spec);
    StorageOptions storage;
    storage.segment = "overlay-fuzz-" + std::to_string(getpid());
    storage.memory = 64ull << 20;
    storage.disk = std::string(kNoDisk);
    auto container = storage::DataContainer::Open(storage);
    if (!container.ok()) Die("container", container.status());
    // The mapping stays; no name is left behind in /dev/shm.
    (void)storage::ShmCache::Remove(storage.segment);
    f->container_ = std::move(*container);
    f->store_ = std::make_unique<storage::ContainerStore>(f->container_.get(), false);

    // The sensor's own chunks of the patient, as an endpoint would hold them.
    endpoint::TaskRunner runner("fuzz", f->container_.get(), f->store_.get(), 1,
                                std::chrono::milliseconds(0));
    if (Status s = runner.AddFunctions(f->spec_); !s.ok()) Die("functions", s);
    f->objects_.emplace_back(kPatient);
    transport::Invoke inv{.task_id = 1,
                          .stage = "sensor",
                          .function = "sensor",
                          .inputs = {"patient"},
                          .args = {},
                          .input_names = {"patient.txt"}};
    transport::InvokeResult result;
    Status s = runner.Execute(
        inv, "fuzz", [&](size_t) { return Result<Blob>(Blob::FromString(std::string(kPatient))); },
        &result);
    if (!s.ok()) Die("sensor", s);
    for (const std::string& hex : result.outputs) {
      auto key = ObjectKey::FromHex(hex);
      auto bytes = key ? f->container_->Get(*key) : Result<Blob>(Status::Corruption(hex));
      if (!bytes.ok()) Die("sensor output", bytes.status());
      f->objects_.emplace_back(bytes->view());
    }
    f->Restock();
    return f;
  }();
  return *fixture;
}

void EndpointFixture::Restock() {
  keys_.clear();
  for (const std::string& bytes : objects_) {
    auto stored = container_->Put(bytes);
    if (!stored.ok()) Die("restock", stored.status());
    keys_.push_back(stored->key()->ToHex());
  }
}

std::vector<std::string> SplitFrames(const uint8_t* data, size_t size) {
  std::vector<std::string> frames;
  while (size >= 4) {
    uint32_t n;
    std::memcpy(&n, data, 4);
    data += 4;
    size -= 4;
    n = static_cast<uint32_t>(std::min<size_t>(n, size));
    frames.emplace_back(reinterpret_cast<const char*>(data), n);
    data += n;
    size -= n;
  }
  return frames;
}

std::string JoinFrames(const std::vector<std::string>& frames) {
  std::string out;
  for (const std::string& f : frames) {
    const uint32_t n = static_cast<uint32_t>(f.size());
    out.append(reinterpret_cast<const char*>(&n), 4);
    out += f;
  }
  return out;
}

}  // namespace overlay::fuzz
