// SPDX-License-Identifier: Apache-2.0
// The builtin registry: one table, so `overlay functions`, config validation and
// MakeFunction cannot disagree about what exists.
#include <algorithm>
#include <functional>

#include "command_function.h"
#include "ecg_functions.h"
#include "identity.h"
#include "overlay/function.h"
#include "overlay/suggest.h"

namespace overlay {
namespace {

using Factory = std::function<Result<std::unique_ptr<Function>>(const std::vector<std::string>&)>;

struct Builtin {
  BuiltinInfo info;
  Factory make;
};

const std::vector<Builtin>& Table() {
  static const std::vector<Builtin> table = {
      {{"ecg_visualizer",
        "SVG strip chart of an ECG stream with detected beats and a heart-rate trend",
        "[strip_seconds=60]"},
       ecg::NewEcgVisualizer},
      {{"identity", "passes its inputs through unchanged (fan-out; invocation overhead)", ""},
       NewIdentity},
      {{"qrs_detector",
        "streaming Pan-Tompkins QRS detector: beats with time, RR interval, heart rate", ""},
       ecg::NewQrsDetector},
      {{"sensor_simulator",
        "replays an ECG text recording (or synthesizes one) as chunk files",
        "[chunk_samples=1000]"},
       ecg::NewSensorSimulator},
  };
  return table;
}

}  // namespace

std::vector<BuiltinInfo> ListBuiltins() {
  std::vector<BuiltinInfo> out;
  for (const auto& b : Table()) out.push_back(b.info);
  return out;
}

Result<std::unique_ptr<Function>> MakeFunction(const FunctionSpec& spec) {
  if (!spec.builtin.empty()) {
    std::vector<std::string> names;
    for (const auto& b : Table()) {
      if (b.info.name == spec.builtin) return b.make(spec.args);
      names.push_back(b.info.name);
    }
    return Status::InvalidArgument("unknown builtin '" + spec.builtin + "'" +
                                   DidYouMean(spec.builtin, names));
  }
  if (spec.command.empty())
    return Status::InvalidArgument("function '" + spec.name + "' has neither command nor builtin");
  return NewCommandFunction(spec);
}

}  // namespace overlay
