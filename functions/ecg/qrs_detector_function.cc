// SPDX-License-Identifier: Apache-2.0
// qrs_detector: the streaming QRS detector and beat classifier as a stateful
// Function; every beat carries its AAMI class. Each chunk
// (binary, or text from a command function) yields "<chunk stem>.beats.csv"
// with the beats decided so far; EndStream yields "<stream>_final.beats.csv"
// with the rest. Beats files stay text: they are the run's results.
#include <fmt/format.h>

#include "beat_classifier.h"
#include "ecg_chunk.h"
#include "ecg_functions.h"
#include "ecg_text.h"
#include "file_names.h"
#include "qrs_detector.h"

namespace overlay::ecg {
namespace {

// Sampling rates the detector is designed for (its windows scale with fs).
constexpr double kMinFs = 50;
constexpr double kMaxFs = 10000;

// One stream's detector. Owned by the executor; used by one call at a time.
struct QrsStreamState final : StreamState {
  std::unique_ptr<QrsDetector> detector;
  std::unique_ptr<BeatClassifier> classifier;  // fed the same samples, from the same start
  int64_t base = 0;    // stream index of the detector's first sample
  std::string stream;  // as named by the chunks
  double fs = kDefaultFs;
};

void Rebase(std::vector<Beat>& beats, int64_t base, double fs) {
  if (base == 0) return;
  for (Beat& b : beats) {
    b.sample += base;
    b.time_s = static_cast<double>(b.sample) / fs;
  }
}

// Thread-safety: immutable; all mutable state lives in QrsStreamState.
class QrsDetectorFunction final : public Function {
 public:
  std::unique_ptr<StreamState> NewStream(std::string_view) const override {
    return std::make_unique<QrsStreamState>();
  }

  Status Process(Task& task) const override {
    auto* st = dynamic_cast<QrsStreamState*>(task.state);
    if (!st) return Status::InvalidArgument("qrs_detector: called without its stream state");
    for (const NamedBlob& in : task.inputs) {
      Result<SignalChunk> chunk = ReadChunk(in.data.view());
      if (!chunk.ok())
        return Status::InvalidArgument(in.name + ": " + std::string(chunk.status().message()));
      if (!(chunk->fs >= kMinFs && chunk->fs <= kMaxFs))
        return Status::InvalidArgument(fmt::format("{}: fs {} outside the detector's {}..{} Hz",
                                                   in.name, chunk->fs, kMinFs, kMaxFs));
      Status problem;
      if (st->detector) {
        int64_t expected = st->base + st->detector->samples_seen();
        if (chunk->first_sample != expected || chunk->fs != st->fs) {
          problem = Status::InvalidArgument(fmt::format(
              "{}: first_sample {} at {} Hz does not continue the stream (expected {} at {} Hz); "
              "the detector restarts here",
              in.name, chunk->first_sample, chunk->fs, expected, st->fs));
          st->detector.reset();
        }
      }
      if (!st->detector) {
        st->detector = std::make_unique<QrsDetector>(chunk->fs);
        st->classifier = std::make_unique<BeatClassifier>(chunk->fs);
        st->base = chunk->first_sample;
        st->fs = chunk->fs;
      }
      st->stream = chunk->stream.empty() ? task.stream : chunk->stream;
      BeatList list{st->stream, st->fs, {}};
      st->classifier->AddSamples(chunk->mv);
      st->detector->Process(chunk->mv, &list.beats);
      st->classifier->Classify(list.beats);
      Rebase(list.beats, st->base, st->fs);
      task.counters["beats"] += static_cast<int64_t>(list.beats.size());
      task.outputs.push_back(
          {FileStem(in.name) + ".beats.csv", Blob::FromString(FormatBeats(list))});
      OVERLAY_RETURN_IF_ERROR(problem);
    }
    return Status::OK();
  }

  Status EndStream(Task& task) const override {
    auto* st = dynamic_cast<QrsStreamState*>(task.state);
    if (!st) return Status::InvalidArgument("qrs_detector: called without its stream state");
    BeatList list{st->stream.empty() ? task.stream : st->stream, st->fs, {}};
    if (st->detector) {
      st->detector->Flush(&list.beats);
      st->classifier->Classify(list.beats);
      Rebase(list.beats, st->base, st->fs);
      st->detector.reset();
      st->classifier.reset();
    }
    task.counters["beats"] += static_cast<int64_t>(list.beats.size());
    task.outputs.push_back(
        {StreamFileName(task.stream) + "_final.beats.csv", Blob::FromString(FormatBeats(list))});
    return Status::OK();
  }
};

}  // namespace

Result<std::unique_ptr<Function>> NewQrsDetector(const std::vector<std::string>& args) {
  if (!args.empty()) return Status::InvalidArgument("qrs_detector takes no arguments");
  return std::unique_ptr<Function>(new QrsDetectorFunction());
}

}  // namespace overlay::ecg
