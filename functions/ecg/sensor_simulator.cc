// SPDX-License-Identifier: Apache-2.0
// sensor_simulator: replays a recording (or synthesizes a patient) as the chunk
// files a sensor hub would write, N samples each, in the binary chunk format
// (ecg_chunk.h), each written in place into its output. A recording must state
// its sampling rate ('# fs=<Hz>'); other files are refused, not guessed at.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <span>

#include "ecg_chunk.h"
#include "ecg_functions.h"
#include "ecg_text.h"
#include "file_names.h"
#include "synthetic_ecg.h"

namespace overlay::ecg {
namespace {

// Thread-safety: stateless and immutable; Process may run concurrently.
class SensorSimulator final : public Function {
 public:
  explicit SensorSimulator(int64_t chunk_samples) : chunk_samples_(chunk_samples) {}

  Status Process(Task& task) const override {
    for (const NamedBlob& in : task.inputs) {
      double fs = kDefaultFs;
      std::vector<float> mv;
      std::string_view text = in.data.view();
      if (IsSyntheticSpec(text)) {
        Result<SyntheticEcgOptions> spec = ParseSyntheticSpec(text);
        if (!spec.ok())
          return Status::InvalidArgument(in.name + ": " + std::string(spec.status().message()));
        fs = spec->fs;
        mv = GenerateSyntheticEcg(*spec).mv;
      } else {
        Result<Recording> rec = ParseRecording(text);
        if (!rec.ok())
          return Status::InvalidArgument(in.name + ": " + std::string(rec.status().message()));
        if (!rec->fs_stated)
          return Status::InvalidArgument(
              in.name + ": not an ECG record: no '# fs=<Hz>' header line stating its sampling "
                        "rate (e.g. '# fs=360')");
        fs = rec->fs;
        mv = std::move(rec->mv);
      }
      const std::string stem = FileStem(in.name);
      const int64_t total = static_cast<int64_t>(mv.size());
      for (int64_t first = 0, index = 0; first < total; first += chunk_samples_, ++index) {
        std::span<const float> part(mv.data() + first,
                                    static_cast<size_t>(std::min(total - first, chunk_samples_)));
        Result<WritableBlob> out = task.NewOutput(EncodedChunkSize(part.size()));
        if (!out.ok()) return out.status();
        OVERLAY_RETURN_IF_ERROR(EncodeChunk(fs, first, part, out->data()));
        OVERLAY_RETURN_IF_ERROR(
            task.Emit(fmt::format("{}_{:05d}.txt", stem, index), std::move(out).value()));
      }
      task.counters["samples"] += total;
    }
    return Status::OK();
  }

 private:
  const int64_t chunk_samples_;
};

}  // namespace

Result<std::unique_ptr<Function>> NewSensorSimulator(const std::vector<std::string>& args) {
  int64_t chunk = 1000;
  if (args.size() > 1)
    return Status::InvalidArgument("sensor_simulator: expected [chunk_samples=1000]");
  if (!args.empty()) {
    const std::string& a = args[0];
    auto [p, ec] = std::from_chars(a.data(), a.data() + a.size(), chunk);
    if (ec != std::errc() || p != a.data() + a.size() || chunk <= 0 || chunk > 100'000'000)
      return Status::InvalidArgument(
          "sensor_simulator: chunk_samples must be a positive integer, got '" + a + "'");
  }
  return std::unique_ptr<Function>(new SensorSimulator(chunk));
}

}  // namespace overlay::ecg
