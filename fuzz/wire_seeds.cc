// SPDX-License-Identifier: Apache-2.0
// Writes one valid envelope of each message type into DIR: the seeds of
// fuzz/corpus/wire, so the fuzzer starts past the verifier's first checks.
//   fuzz_wire_seeds DIR
#include <cstdio>
#include <fstream>
#include <string>

#include "overlay/transport/wire.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  namespace t = overlay::transport;
  const std::string key(32, 'a');
  t::Invoke invoke{.task_id = 7, .stage = "stage2", .function = "qrs_detector",
                   .inputs = {key}, .args = {"--fs", "360"}, .origin = "tcp://127.0.0.1:5555",
                   .stream = "patient01", .seq = 3, .input_names = {"chunk_0003.ecg"},
                   .position = 3};
  t::InvokeResult result;
  result.task_id = 7;
  result.outputs = {key};
  const std::byte chunk[16]{};
  const std::pair<const char*, overlay::Blob> seeds[] = {
      {"invoke", t::EncodeInvoke(1, invoke)},
      {"result", t::EncodeResult(2, result)},
      {"fetch", t::EncodeFetch(3, t::Fetch{key, 0, 4096})},
      {"data", t::EncodeData(4, t::DataHeader{key, 0, 16}, chunk, 0)},
      {"heartbeat", t::EncodeHeartbeat(5, t::Heartbeat{"ep1", 9, 123456789, 42})},
      {"error", t::EncodeError(6, overlay::Status::NotFound("object is in no tier"))},
  };
  for (const auto& [name, blob] : seeds) {
    std::ofstream out(std::string(argv[1]) + "/" + name, std::ios::binary);
    out.write(blob.data(), static_cast<std::streamsize>(blob.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s/%s\n", argv[1], name);
      return 1;
    }
  }
  return 0;
}
