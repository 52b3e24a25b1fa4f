// SPDX-License-Identifier: Apache-2.0
// StreamMemo: resume by content (internal to core/). A stage's result for one
// stream is remembered in the store's catalog under a key made of the stage's
// function identity and the keys of what the stream descends from, so a rerun
// with unchanged inputs and functions reuses it instead of running the stage.
//
// Keys are planned up front, Merkle style, when a stream's input file has been
// read: key(stage) = hash(function identity, stream id, for each source the
// input file's name and content key or the source stage's key). A stage is thus
// reused per whole stream (what a stateful function needs), decided before its
// first item arrives, and the run keeps streaming. A result is remembered only
// when the stage and every stage it descends from ran the stream without a
// failure. A remembered result is reused only when its outputs are still in a
// tier, or when nothing needs them (an intermediate whose consumers are reused
// too; intermediates are dropped once consumed). Streams fed by more than one
// input file always run.
//
// Thread-safety: safe for concurrent use; calls for one (stage, stream) come
// from that lane's driving thread, in order.
#ifndef OVERLAY_CORE_SRC_STREAM_MEMO_H_
#define OVERLAY_CORE_SRC_STREAM_MEMO_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "overlay/config.h"
#include "overlay/dag.h"
#include "overlay/function.h"
#include "overlay/object_store.h"

namespace overlay {

// Catalog names of memo records start with this; `overlay ls` hides them.
inline constexpr const char* kMemoPrefix = ".memo/";

// What a stage function is, for memo keys: its block's name, builtin, args and
// command, plus the size and modification time of every file the command names
// (the program found on PATH too) and, for builtins, of the running binary.
std::string FunctionIdentity(const FunctionDecl& decl);

class StreamMemo {
 public:
  // A remembered result of one stage on one stream.
  struct Reuse {
    size_t tasks = 0;
    std::map<std::string, int64_t> counters;
    std::vector<NamedBlob> outputs;  // fetched from the store; empty when not needed
  };

  // `streams`: the stream id of every input file of the run. `rerun`: remember
  // results but reuse none.
  StreamMemo(const PipelineSpec& spec, const Dag& dag, ObjectStore* store, bool rerun,
             bool keep_all, const std::vector<std::string>& streams);

  // `input` (stored, so keyed) was read for the directory source `source` of
  // `stage`: plans its stream.
  void Plan(int stage, int source, const std::string& stream, const NamedBlob& input);
  // The result to use instead of running `stage` on `stream`; nullptr: run it.
  Reuse* Reused(int stage, const std::string& stream);
  // A stored output of a task of `stage` on `stream`, in emission order.
  void Output(int stage, const std::string& stream, const NamedBlob& out);
  // A task of `stage` on `stream` succeeded.
  void TaskDone(int stage, const std::string& stream, const std::map<std::string, int64_t>& counters);
  void Failed(const std::string& stage_name, const std::string& stream);
  // `stage` has finished `stream`: remembers its result when it is complete.
  void Ended(int stage, const std::string& stream);

 private:
  struct StageState {
    std::optional<std::string> key;  // memo name; unset: not remembered
    bool skip = false;
    Reuse reuse;
    bool failed = false;
    size_t tasks = 0;
    std::map<std::string, int64_t> counters;
    struct Out {
      std::string name;
      ObjectKey key;
      uint64_t size = 0;
    };
    std::vector<Out> outputs;  // keys only: intermediates are not held in memory
  };
  struct StreamState {
    std::vector<StageState> stages;
    size_t reached = 0;  // stages the stream flows through
    size_t ended = 0;
  };

  StreamState* Find(const std::string& stream);
  std::optional<Reuse> Load(const std::string& name, bool need_outputs);
  void Store(const std::string& name, const StageState& st);

  const Dag& dag_;
  ObjectStore* store_;
  const bool rerun_;
  const bool keep_all_;
  std::vector<std::string> identity_;          // per stage
  std::vector<std::vector<bool>> ancestors_;   // [s][a]: a feeds s, or a == s
  std::map<std::string, int> stage_index_;
  std::map<std::string, int> roots_;           // input files per stream

  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<StreamState>> streams_;  // guarded by mu_
};

}  // namespace overlay

#endif  // OVERLAY_CORE_SRC_STREAM_MEMO_H_
