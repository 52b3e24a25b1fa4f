// SPDX-License-Identifier: Apache-2.0
// ecg_live: Overlay's ECG pipeline (sensor simulator -> QRS detector) run from a
// program that links the installed package, printing each 1 s chunk's beats.
//   ecg_live              a synthetic patient: 20 s at 72 bpm
//   ecg_live RECORD_DIR   a record folder: RECORD_DIR/signal.txt, with '# fs=' line
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "overlay/client.h"

namespace {
// Stages run in this process (no ENDPOINT address); 360 samples: 1 s at 360 Hz.
// `records` is a directory source that the in-memory input replaces.
constexpr char kConfig[] = R"(
[FUNCTION]
name = sensor
builtin = sensor_simulator
args = 360
[END]
[FUNCTION]
name = qrs
builtin = qrs_detector
[END]
[STAGE]
name = chunks
source = records
transformation = sensor
include = signal.txt, *.ecg
[END]
[STAGE]
name = beats
source = chunks
transformation = qrs
[END]
)";

}  // namespace

int main(int argc, char** argv) {
  overlay::InputItem input{"patient", "patient.ecg",
                           overlay::Blob::FromString("# overlay-synthetic-ecg\nduration_s = 20\n"
                                                     "hr_bpm = 72\nseed = 1\n")};
  if (argc > 1) {
    std::ifstream f(std::string(argv[1]) + "/signal.txt");
    std::stringstream text;
    text << f.rdbuf();
    if (!f) return std::fprintf(stderr, "cannot read %s/signal.txt\n", argv[1]), 2;
    input = {"record", "signal.txt", overlay::Blob::FromString(text.str())};
  }
  overlay::ClientOptions options;
  options.config_text = kConfig;
  auto client = overlay::Client::Open(options);
  if (!client.ok()) return std::fprintf(stderr, "%s\n", client.status().ToString().c_str()), 2;

  overlay::RunRequest request;
  request.inputs.push_back(input);
  auto result = (*client)->Call(request).get();  // a one-shot call: wait for its future
  if (!result.ok()) return std::fprintf(stderr, "%s\n", result.status().ToString().c_str()), 2;
  // Each output is a chunk's beats as CSV: "sample,time_s,rr_s,hr_bpm" after '#' lines.
  for (const overlay::StageOutput& out : result->outputs) {
    std::istringstream lines{std::string(out.data.view())};
    std::string line, times;
    for (int n = 0; std::getline(lines, line);) {
      if (line.empty() || line[0] == '#' || line.starts_with("sample")) continue;
      const size_t a = line.find(',') + 1;  // time_s is the second field
      if (n++ > 0) times += ' ';
      times += line.substr(a, line.find(',', a) - a);
    }
    std::printf("%s %s: beats at %s s\n", out.stream.c_str(), out.name.c_str(),
                times.empty() ? "(none)" : times.c_str());
  }
  for (const auto& f : result->report.failures)
    std::fprintf(stderr, "FAILED %s %s: %s\n", f.stage.c_str(), f.item.c_str(),
                 f.status.ToString().c_str());
  std::printf("%lld beats\n", static_cast<long long>(result->report.counters["beats"]));
  return result->report.ok() ? 0 : 1;
}
