// SPDX-License-Identifier: Apache-2.0
// Runs a pipeline's stages as a DAG on a oneTBB flow graph.
//
// Each input file starts a stream. Items flow to the next stage as soon as a
// stage emits them (no stage-at-a-time barrier). At every stage the items of one
// stream are processed one at a time and in order, so stateful functions see
// their stream in order; different streams run in parallel. A failing item is
// reported and the rest go on.
#ifndef OVERLAY_CORE_EXECUTOR_H_
#define OVERLAY_CORE_EXECUTOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "overlay/config.h"
#include "overlay/function.h"
#include "overlay/object_store.h"

namespace overlay {

// One failed task.
struct ItemFailure {
  std::string stage;
  std::string stream;
  std::string item;  // input file name, or "(end of stream)"
  Status status;     // its message carries the command's stderr
};

// One stage's live counts, in Progress::stages.
struct StageProgress {
  std::string name;  // STAGE.name
  size_t tasks_ok = 0;
  size_t tasks_failed = 0;
  size_t tasks_reused = 0;  // remembered results used instead of running
};

// Live counts, passed to ExecutorOptions::on_progress.
struct Progress {
  size_t streams_total = 0;  // input files found
  size_t streams_done = 0;   // streams that left every sink stage
  size_t tasks_ok = 0;
  size_t tasks_failed = 0;
  size_t tasks_reused = 0;
  uint64_t input_bytes_total = 0;  // sizes of every input file found
  uint64_t input_bytes_read = 0;   // input bytes read so far (RunReport::input_bytes)
  std::vector<StageProgress> stages;  // every stage, in the config's order
  size_t waiting = 0;        // puts waiting for room in the store (backpressure)
};

struct RunReport {
  size_t streams = 0;       // input files
  size_t tasks_ok = 0;
  size_t tasks_failed = 0;
  size_t tasks_reused = 0;  // tasks whose remembered results were used (ExecutorOptions::rerun)
  uint64_t input_bytes = 0;
  double seconds = 0;
  std::map<std::string, int64_t> counters;  // summed Task::counters, e.g. "beats"
  std::vector<ItemFailure> failures;
  std::vector<std::string> outputs;         // files written under ExecutorOptions::out_dir
  std::vector<std::string> stored;          // result names in ExecutorOptions::store
  // Content keys, with a store: of every path in `outputs`, and of every input
  // file read (by its path).
  std::map<std::string, ObjectKey> output_keys;
  std::map<std::string, ObjectKey> input_keys;
  // Set when ExecutorOptions::cancel stopped the run. Then `outputs` and
  // `stored` hold only the streams that finished every stage: the files of
  // unfinished streams are removed from out_dir (their names stay in the
  // store, under their stage and stream).
  bool cancelled = false;
  size_t streams_done = 0;         // streams that finished every stage
  size_t streams_not_started = 0;  // input files never read
  size_t tasks_cancelled = 0;      // tasks skipped or stopped by the cancellation
  std::vector<std::string> unfinished_streams;  // started, not finished; sorted
  bool ok() const { return tasks_failed == 0 && !cancelled; }
};

// An input given in memory instead of as a file (ExecutorOptions::items).
struct InputItem {
  std::string stream;  // the stream it starts (or joins, with the same id at another source)
  std::string name;    // its file name, as a listed file's; matched against STAGE.include
  Blob data;
};

using FunctionFactory = std::function<Result<std::unique_ptr<Function>>(const FunctionDecl&)>;
// The Function a FUNCTION block declares: MakeFunction on its builtin or
// command, timeout and retries. The default FunctionFactory.
Result<std::unique_ptr<Function>> MakeDeclaredFunction(const FunctionDecl& decl);
// Builds the function of one stage (e.g. a remote one for a stage on an endpoint
// with an address); nullptr defers to ExecutorOptions::make_function.
using StageFunctionFactory = std::function<Result<std::unique_ptr<Function>>(
    const StageDecl&, const FunctionDecl&)>;

struct ExecutorOptions {
  // Replaces every directory source of the pipeline. Default: the config's.
  std::string input_dir;
  // When not empty, these replace every directory source instead (as a folder
  // holding exactly these files would, STAGE.include applied); input_dir is
  // then ignored. Read-only during the run.
  std::vector<InputItem> items;
  // Where the result stages' outputs are written, as <out>/<stage>/<file>.
  // Empty: nothing is written (outputs are still counted).
  std::string out_dir;
  // Also write (and name in the store) the outputs of intermediate stages.
  bool keep_all = false;
  // Tasks run at once. 0: the largest ENDPOINT.workers, else one per core.
  int workers = 0;
  // When set, every input and output travels through this data container:
  // inputs are read and native outputs built in place in L1, stages pass the
  // stored objects (each pinned until every stage that consumes it is done),
  // and the result stages' outputs are named "<stage>/<stream>/<file>" in its
  // catalog (intermediates too with keep_all). What is not named is dropped,
  // not demoted, once consumed. Not owned; must outlive the run.
  ObjectStore* store = nullptr;
  // Bytes of store memory that objects in flight may fill, when nothing can
  // take the overflow (a store without a disk tier); 0: no limit. Fewer
  // streams then run at once, and a run whose largest input cannot fit is
  // refused before it starts.
  uint64_t memory_limit = 0;
  // With a store and `memo`, each stage's result for a stream is remembered
  // under its function's identity and the keys of the stream's input, and a
  // later run with the same function and input reuses it instead of running
  // the stage (see core/src/stream_memo.h). `rerun`: run every task anyway;
  // results are still remembered. `overlay run` sets memo.
  bool memo = false;
  bool rerun = false;
  // Streams in flight at once; 0: twice the number of workers.
  size_t max_streams = 0;
  // Builds each FUNCTION. Default: MakeFunction (builtins and commands).
  FunctionFactory make_function;
  // When set, consulted first for every stage; a null result falls back to
  // make_function.
  StageFunctionFactory make_stage_function;
  // Called with every output of every stage as the stage emits it (with a
  // store, once stored), from the task's thread; one stream's outputs of one
  // stage come in order. The Blob may be kept (it pins the object).
  std::function<void(const std::string& stage, const std::string& stream, const NamedBlob& out)>
      on_output;
  // Called after every task, from the task's thread; keep it cheap.
  std::function<void(const Progress&)> on_progress;
  // When set and it turns true (e.g. from a signal-handling thread), the run
  // winds down: no further input is read, tasks not yet started are skipped,
  // a task that fails from then on counts as cancelled, and RunPipeline
  // returns once the tasks already running have returned (stopping those is
  // the caller's: CancelAllProcesses for commands). Not owned.
  const std::atomic<bool>* cancel = nullptr;
};

// Fails only when the run cannot start (bad config, unreadable input
// directory, a function that cannot be built); item failures are in the report.
Result<RunReport> RunPipeline(const PipelineSpec& spec, const ExecutorOptions& options);

// The input files of a directory source, sorted, filtered by the `include` glob,
// searched recursively; stream ids are the relative paths without extension.
struct InputFile {
  std::string path;
  std::string stream;
  std::string name;  // file name
};
Result<std::vector<InputFile>> ListInputs(const std::string& dir, const std::string& include);

}  // namespace overlay

#endif  // OVERLAY_CORE_EXECUTOR_H_
