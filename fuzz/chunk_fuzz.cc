// SPDX-License-Identifier: Apache-2.0
// What an endpoint runs on received sample chunks: each frame of the input
// (endpoint_fixture.h) is one chunk file of a stream, in the binary chunk
// format or as text. The endpoint's TaskRunner runs them as the stream's
// items through the stateful QRS detector, then the visualizer gets each
// chunk with the beats found so far, and both streams are ended. Each chunk
// is also turned into the text form command functions receive. Any input
// must be processed or refused with a Status, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "endpoint_fixture.h"
#include "overlay/function_registry.h"
#include "overlay/object_key.h"
#include "task_runner.h"

namespace {

namespace t = overlay::transport;
using overlay::Blob;
using overlay::Result;

constexpr size_t kMaxChunks = 16;
constexpr const char* kStream = "ward/p1";

struct Lane {
  std::string stage;
  uint64_t position = 0;
};

// Runs one item of `lane`; returns its outputs' bytes.
std::vector<Blob> Run(overlay::endpoint::TaskRunner& runner, Lane& lane,
                      const std::vector<Blob>& inputs, const std::vector<std::string>& names,
                      bool end) {
  auto& container = overlay::fuzz::EndpointFixture::Get().container();
  t::Invoke inv{.task_id = lane.position,
                .stage = lane.stage,
                .function = lane.stage,
                .inputs = std::vector<std::string>(inputs.size(), std::string(32, '0')),
                .args = {},
                .stream = kStream,
                .seq = lane.position,
                .end_of_stream = end,
                .input_names = names,
                .position = lane.position};
  t::InvokeResult result;
  (void)runner.Execute(
      inv, "fuzz", [&](size_t i) { return Result<Blob>(inputs[i]); }, &result);
  ++lane.position;  // the endpoint counts failed items too
  std::vector<Blob> out;
  for (const std::string& hex : result.outputs) {
    auto key = overlay::ObjectKey::FromHex(hex);
    if (!key) std::abort();  // the runner names outputs by their keys
    auto bytes = container.Get(*key);
    if (bytes.ok()) out.push_back(std::move(*bytes));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& fixture = overlay::fuzz::EndpointFixture::Get();
  overlay::endpoint::TaskRunner runner("fuzz", &fixture.container(), &fixture.store(), 4,
                                       std::chrono::milliseconds(60000));
  if (!runner.AddFunctions(fixture.spec()).ok()) std::abort();
  Lane detect{"qrsdetector"}, draw{"visualize"};
  std::vector<std::string> frames = overlay::fuzz::SplitFrames(data, size);
  if (frames.size() > kMaxChunks) frames.resize(kMaxChunks);
  for (size_t i = 0; i < frames.size(); ++i) {
    (void)overlay::TextFormOf(frames[i], kStream);
    const std::string name = "p1_" + std::to_string(i) + ".txt";
    Blob chunk = Blob::FromString(std::move(frames[i]));
    std::vector<Blob> beats = Run(runner, detect, {chunk}, {name}, false);
    std::vector<Blob> inputs{chunk};
    std::vector<std::string> names{name};
    for (Blob& b : beats) {
      inputs.push_back(std::move(b));
      names.push_back("p1_" + std::to_string(i) + ".beats.csv");
    }
    (void)Run(runner, draw, inputs, names, false);
  }
  std::vector<Blob> final_beats = Run(runner, detect, {}, {}, true);
  std::vector<std::string> names(final_beats.size(), "p1_final.beats.csv");
  (void)Run(runner, draw, final_beats, names, false);
  (void)Run(runner, draw, {}, {}, true);
  return 0;
}
