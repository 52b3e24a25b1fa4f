// SPDX-License-Identifier: Apache-2.0
// Writes the seeds of fuzz/corpus/invoke and fuzz/corpus/chunk: bursts of
// Invokes naming the fixture's objects (a sensor run, a detector stream with
// its end, a stream resent from the start, a stale position, a repeated task,
// an unknown FUNCTION, a malformed key), and streams of sample chunks (binary
// and text, whole and cut short), so the fuzzers start past the first checks.
//   fuzz_endpoint_seeds INVOKE_DIR CHUNK_DIR
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "endpoint_fixture.h"
#include "overlay/function_registry.h"
#include "overlay/transport/wire.h"

namespace {

namespace t = overlay::transport;
using Frames = std::vector<std::string>;

bool Write(const std::string& dir, const std::string& name, const Frames& frames) {
  std::ofstream out(dir + "/" + name, std::ios::binary);
  const std::string bytes = overlay::fuzz::JoinFrames(frames);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) std::fprintf(stderr, "cannot write %s/%s\n", dir.c_str(), name.c_str());
  return static_cast<bool>(out);
}

std::string Encode(uint64_t request_id, const t::Invoke& inv) {
  return std::string(t::EncodeInvoke(request_id, inv).view());
}

t::Invoke Item(uint64_t task, const std::string& function, const std::string& key,
               uint64_t position, bool end = false) {
  return t::Invoke{
      .task_id = task,
      .stage = function,
      .function = function,
      .inputs = end ? std::vector<std::string>{} : std::vector<std::string>{key},
      .args = {},
      .origin = "tcp://127.0.0.1:5555",
      .stream = "ward/p1",
      .seq = position,
      .end_of_stream = end,
      .input_names = end ? std::vector<std::string>{} : std::vector<std::string>{"c.txt"},
      .position = position};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s INVOKE_DIR CHUNK_DIR\n", argv[0]);
    return 2;
  }
  const std::string invoke_dir = argv[1], chunk_dir = argv[2];
  auto& fixture = overlay::fuzz::EndpointFixture::Get();
  const std::vector<std::string>& keys = fixture.keys();
  const std::vector<std::string>& objects = fixture.objects();
  bool ok = true;

  t::Invoke sensor{.task_id = 1,
                   .stage = "sensor",
                   .function = "sensor",
                   .inputs = {keys[0]},
                   .args = {},
                   .input_names = {"p1.txt"}};
  ok &= Write(invoke_dir, "sensor", {Encode(1, sensor)});
  Frames stream;
  for (uint64_t i = 0; i < 4; ++i)
    stream.push_back(Encode(10 + i, Item(10 + i, "qrsdetector", keys[1 + i], i)));
  stream.push_back(Encode(14, Item(14, "qrsdetector", "", 4, true)));
  ok &= Write(invoke_dir, "detector_stream", stream);
  ok &= Write(
      invoke_dir, "stream_restart",
      {Encode(1, Item(1, "qrsdetector", keys[1], 0)), Encode(2, Item(2, "qrsdetector", keys[2], 1)),
       Encode(3, Item(3, "qrsdetector", keys[1], 0))});
  ok &= Write(invoke_dir, "stale_position", {Encode(1, Item(1, "qrsdetector", keys[3], 7))});
  ok &= Write(
      invoke_dir, "repeated_task",
      {Encode(1, Item(5, "visualize", keys[1], 0)), Encode(2, Item(5, "visualize", keys[1], 0))});
  t::Invoke unknown = sensor;
  unknown.function = "no_such_function";
  t::Invoke bad_key = sensor;
  bad_key.inputs = {"not-a-key"};
  t::Invoke missing = sensor;
  missing.inputs = {std::string(32, 'f')};
  ok &= Write(invoke_dir, "refused", {Encode(1, unknown), Encode(2, bad_key), Encode(3, missing)});

  Frames chunks(objects.begin() + 1, objects.end());
  ok &= Write(chunk_dir, "binary_stream", chunks);
  Frames text;
  for (size_t i = 1; i < objects.size() && i <= 3; ++i) {
    auto form = overlay::TextFormOf(objects[i], "ward/p1");
    if (form.ok() && *form) text.push_back(**form);
  }
  ok &= Write(chunk_dir, "text_stream", text);
  ok &= Write(chunk_dir, "cut_short", {objects[1], objects[2].substr(0, 100), objects[3]});
  return ok ? 0 : 1;
}
