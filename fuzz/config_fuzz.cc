// SPDX-License-Identifier: Apache-2.0
// The config language end to end: parse, check, build the DAG. Any input must
// give a config or an error naming file:line, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "overlay/config.h"
#include "overlay/dag.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = overlay::ParseConfigText(text, "fuzz.cfg", "/nonexistent-fuzz-dir");
  if (!spec.ok()) return 0;
  if (!overlay::ValidateSpec(*spec).ok()) return 0;
  auto dag = overlay::BuildDag(*spec);
  (void)dag;
  return 0;
}
