// SPDX-License-Identifier: Apache-2.0
// Function: what a stage runs on each item. Native C++ functions and external
// commands both implement it, so the executor treats them alike.
#ifndef OVERLAY_FUNCTIONS_FUNCTION_H_
#define OVERLAY_FUNCTIONS_FUNCTION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "overlay/blob.h"
#include "overlay/status.h"

namespace overlay {

// Per-stream state of a stateful function (e.g. the QRS detector's filters).
// Created on a stream's first item, destroyed after its EndStream.
class StreamState {
 public:
  virtual ~StreamState() = default;
};

// One invocation. The executor fills the inputs; the function appends outputs.
struct Task {
  std::string stream;               // the source file this item descends from
  uint64_t seq = 0;                 // position within the stream at this stage
  size_t source = 0;                // index into the stage's `source` list
  std::vector<NamedBlob> inputs;    // empty in EndStream
  StreamState* state = nullptr;     // from NewStream; null for stateless functions
  std::vector<NamedBlob> outputs;   // appended by the function, in order
  std::map<std::string, int64_t> counters;  // e.g. {"beats", 12}; summed per run
  // Where NewOutput takes space: the run's data store (L1 loans), or null for
  // the heap. Set by the executor; not owned.
  BlobAllocator* allocator = nullptr;

  // Space for an output of exactly `size` bytes that the function fills in
  // place: under a data store it is L1 memory, so the output is never copied.
  Result<WritableBlob> NewOutput(size_t size) {
    if (allocator == nullptr) return WritableBlob::OnHeap(size);
    return allocator->Allocate(size);
  }
  // Publishes a filled output and appends it to `outputs`.
  Status Emit(std::string name, WritableBlob&& space) {
    Result<Blob> blob = std::move(space).Publish();
    if (!blob.ok()) return blob.status();
    outputs.push_back(NamedBlob{std::move(name), std::move(*blob)});
    return Status::OK();
  }
};

// Thread-safety: Process/EndStream may run concurrently for different streams;
// for one stream the executor calls them one at a time, in stream order, so a
// function needs no locking of its StreamState.
class Function {
 public:
  virtual ~Function() = default;

  // State for a new stream; nullptr when the function keeps none.
  virtual std::unique_ptr<StreamState> NewStream(std::string_view stream) const {
    (void)stream;
    return nullptr;
  }
  // Processes one item. A non-OK status fails this item only.
  virtual Status Process(Task& task) const = 0;
  // Called once after the stream's last item; may emit final outputs.
  virtual Status EndStream(Task& task) const {
    (void)task;
    return Status::OK();
  }
};

// How a FUNCTION block builds its Function.
struct FunctionSpec {
  std::string name;
  std::string builtin;               // native function name, or empty
  std::string command;               // command line template, or empty
  std::vector<std::string> args;     // builtin arguments (`args = …`)
  int64_t timeout_ms = 0;            // 0: no limit
  int retries = 0;                   // extra attempts after a failure
  std::string workspace_root = "/dev/shm";
  std::vector<std::string> writable{};  // where a command may write besides its workspace
};

// A native function's entry in the registry.
struct BuiltinInfo {
  std::string name;
  std::string summary;  // one line for `overlay functions`
  std::string usage;    // its `args`, e.g. "[chunk_samples=1000]"
};

// Names and summaries of every native function, sorted by name.
std::vector<BuiltinInfo> ListBuiltins();

// Removes now every workspace and state directory that command functions
// hold, for a process about to _exit without unwinding (a forced stop).
// Thread-safe; the tasks that own them fail if they are still running.
// Returns how many were removed.
size_t RemoveCommandDirectories();

// Builds the Function for `spec`: a builtin from the registry, or an external
// command run by the process runner. Errors name the unknown builtin and the
// nearest known one.
Result<std::unique_ptr<Function>> MakeFunction(const FunctionSpec& spec);

// The words of a FUNCTION command as the command runner splits them: quotes
// removed, placeholders unexpanded. Empty for an unterminated quote.
std::vector<std::string> CommandWords(std::string_view command);

}  // namespace overlay

#endif  // OVERLAY_FUNCTIONS_FUNCTION_H_
