// SPDX-License-Identifier: Apache-2.0
// overlay::Client: the C++ API a program embeds to run a pipeline, as
// `overlay run` does (same executor, data container and function manager), with
// inputs and results in memory.
//
//   auto client = overlay::Client::Open({.config_path = "configs/ecg.cfg"});
//   overlay::RunRequest req;
//   req.inputs.push_back({"patient", "patient.ecg", overlay::Blob::FromString(spec)});
//   overlay::RunResult out;
//   overlay::Status s = (*client)->Run(req, &out);   // out.outputs: the result stages'
//
// Found with find_package(overlay CONFIG) and linked as overlay::overlay
// (docs/api.md).
#ifndef OVERLAY_CORE_CLIENT_H_
#define OVERLAY_CORE_CLIENT_H_

#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "overlay/blob.h"
#include "overlay/config.h"
#include "overlay/executor.h"
#include "overlay/function_registry.h"
#include "overlay/status.h"

namespace overlay {

struct ClientOptions {
  // The config: a file, or its text (config_text wins when both are set).
  std::string config_path;
  std::string config_text;
  // With config_text: where relative directory sources and command paths
  // resolve. Default: the working directory.
  std::string base_dir;
  // Pass data between stages through the node's data container (the config's
  // STORAGE block; $OVERLAY_SEGMENT names its segment when the block does
  // not). False: in process memory; then every stage must run here.
  // Default: true.
  bool use_store = true;
  // Ignore ENDPOINT addresses: run every stage in this process (`--local`).
  bool local = false;
  // Tasks run at once; 0: the largest ENDPOINT.workers, else one per core.
  int workers = 0;
  // One-line notices (a stage moving to a fallback endpoint, the data
  // container's notice). Default: none are reported.
  std::function<void(const std::string&)> on_notice;
};

// One output of a stage.
struct StageOutput {
  std::string stage;   // STAGE.name
  std::string stream;  // the input it descends from
  std::string name;    // its file name, e.g. "patient_00001.beats.csv"
  Blob data;           // pins the object while it lives (under a store)
};

struct RunRequest {
  // In-memory inputs; they replace every directory source of the pipeline
  // (STAGE.include still applies to their names). Empty: input_dir or the
  // config's directories are read.
  std::vector<InputItem> inputs;
  // Replaces every directory source when inputs is empty (`--input`).
  std::string input_dir;
  // The stages whose outputs RunResult::outputs holds. Empty: the result
  // stages (those no stage consumes).
  std::vector<std::string> stages;
};

struct RunResult {
  // Sorted by stream, then by stage in config order; a stage's outputs for a
  // stream stay in the order the stage emitted them.
  std::vector<StageOutput> outputs;
  RunReport report;  // counts, counters (e.g. "beats"), failed items
};

// Thread-safety: every method may be called from any thread. Runs of one
// Client take turns (one at a time, in call order as the lock grants it);
// open several Clients to run at once. Ownership: a Client owns its data
// container handle, function manager (when a stage has a remote endpoint) and
// the threads of Call; destroying it waits for every Call in flight.
class Client {
 public:
  // Parses and checks the config (ValidateSpec: names, sources, the DAG),
  // opens the data container and, when a stage has an ENDPOINT address, the
  // function manager. A directory source that does not exist is accepted
  // (in-memory inputs replace it) unless its name is a typo of a stage's; a
  // run that reads it reports it. Functions are built by each run, which
  // reports their errors. Errors: InvalidArgument naming file:line (bad
  // config), those of DataContainer::Open and FunctionManager::Create.
  static Result<std::unique_ptr<Client>> Open(const ClientOptions& options);

  Client() = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  virtual ~Client() = default;

  // The FUNCTION blocks with `builtin = name` build their function with
  // `factory` (given the block's args), for this Client only and before the
  // process-wide builtins. It runs in this process: a stage on an endpoint
  // with an address runs that endpoint's own builtin of that name. Takes
  // effect from the next run; a name registered again replaces the factory.
  virtual void RegisterFunction(const std::string& name, BuiltinFactory factory) = 0;

  // Runs the pipeline once over the request's inputs and blocks until every
  // stream has left every stage. Fills *result (replacing its contents) even
  // when some items failed; the status is then Failed naming the first
  // failure (all are in result->report.failures). Errors: InvalidArgument
  // (unknown stage in request.stages, a function that cannot be built),
  // NotFound (a directory source that does not exist).
  virtual Status Run(const RunRequest& request, RunResult* result) = 0;

  // Run on a thread of the Client's; the future holds the result, or the
  // error Run would have returned.
  virtual std::future<Result<RunResult>> Call(RunRequest request) = 0;

  // The parsed config. Lives as long as the Client.
  virtual const PipelineSpec& spec() const = 0;
};

}  // namespace overlay

#endif  // OVERLAY_CORE_CLIENT_H_
