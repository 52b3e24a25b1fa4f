// SPDX-License-Identifier: Apache-2.0
// FunctionManager: submits tasks to endpoint daemons and delivers each task's
// outcome once.
//
//   Submit      sends an Invoke (task id = request id) to the task's endpoint;
//               the inputs are keys in the manager's ObjectStore, which the
//               manager serves to endpoints from its own data server (the
//               Invoke's `origin`)
//   Result      a future that completes with the endpoint's Result, or with
//               Timeout/Unavailable once every retry is spent
//   Call        Submit and wait on the calling thread, which sends the Invoke
//               on a channel of its own: a quick task's round trip crosses no
//               manager thread (the executor's remote stages use it)
//   retries     when an attempt times out, the endpoint is lost or restarted
//               (heartbeats tell), or it reports Unavailable, the manager
//               resends the same task id, up to `retries` times; the endpoint
//               answers a repeated task id without running it again, and a
//               late duplicate Result for a finished task is dropped
//   FetchOutput pulls an output object from the endpoint, checks it against
//               its key and puts it in the local store
//   data server serves a task's inputs only while the task runs, and with
//               CURVE only to the endpoint the task was sent to
//
// Thread-safety: every method may be called from any thread. Ownership: owns a
// background I/O thread, the channels to endpoints and the data server; the
// ObjectStore is borrowed and must outlive the manager.
#ifndef OVERLAY_CORE_FUNCTION_MANAGER_H_
#define OVERLAY_CORE_FUNCTION_MANAGER_H_

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "overlay/blob.h"
#include "overlay/config.h"
#include "overlay/object_store.h"
#include "overlay/status.h"
#include "overlay/transport/channel.h"

namespace overlay {

struct TaskSpec {
  std::string endpoint{};                  // the endpoint daemon's address
  std::string function{};                  // a FUNCTION name of its config
  std::vector<std::string> inputs{};       // object keys in the manager's store
  std::vector<std::string> input_names{};  // file names, parallel to inputs (optional)
  std::string stage{};                     // for the endpoint's stream state and logs
  std::string stream{};                    // stateful functions: the item's stream
  uint64_t seq = 0;
  bool end_of_stream = false;  // run EndStream instead of Process
  // Stateful streams: items of `stream` sent before this one (see
  // EndpointServer); `replay` rebuilds the endpoint's state without outputs.
  uint64_t position = 0;
  bool replay = false;
  // Longest wait for one attempt's Result; 0: FunctionManagerOptions::timeout.
  std::chrono::milliseconds timeout{0};
  // Nonzero: the task completes Unavailable once nothing (no reply, no
  // heartbeat answer) has been heard from its endpoint for this long since
  // the task was sent, instead of waiting out its attempts. For work that can
  // go elsewhere (ENDPOINT.fallback).
  std::chrono::milliseconds lost_after{0};
};

struct TaskOutcome {
  Status status{};
  std::vector<std::string> outputs{};         // object keys in the endpoint's container
  std::vector<std::string> output_names{};    // file names, parallel to outputs
  std::map<std::string, int64_t> counters{};  // the task's counters, e.g. {"beats", 12}
  int attempts = 0;                           // Invokes sent for this task
  // Given up: nothing was heard from the endpoint for the task's lost_after.
  bool lost = false;
  // Not run: the endpoint's state for the stream has seen `stream_position`
  // items, not the task's position (it restarted); replay, then resubmit.
  bool stream_mismatch = false;
  uint64_t stream_position = 0;
};

// One endpoint the manager has talked to, as its I/O thread last saw it.
struct EndpointContact {
  std::string endpoint;  // its address
  // Since its last message (a reply or a heartbeat answer); when it never
  // answered, since the first Invoke sent to it.
  std::chrono::milliseconds silent{0};
  bool busy = false;  // tasks in flight to it
  bool heard = false;  // it has answered at least once
};

struct FunctionManagerOptions {
  // Serves the inputs; FetchOutput stores outputs here. Not owned. Null: no
  // inputs can be served and FetchOutput only returns the bytes.
  ObjectStore* store = nullptr;
  // Where the data server binds. Default: a free TCP port on loopback.
  std::string data_address = "tcp://127.0.0.1:0";
  // Longest wait for one attempt's Result. Default: 30 s.
  std::chrono::milliseconds timeout{30000};
  // Extra attempts after a timeout, a lost or restarted endpoint, or an
  // Unavailable result. Default: 3.
  int retries = 3;
  // While tasks are in flight to an endpoint, it gets a Heartbeat this often;
  // one unanswered for `heartbeat_timeout` marks the endpoint lost, and a reply
  // with a new incarnation marks it restarted: either way its tasks in flight
  // are resent (a restarted endpoint has lost them). Defaults: 250 ms, 2 s.
  std::chrono::milliseconds heartbeat_interval{250};
  std::chrono::milliseconds heartbeat_timeout{2000};
  // Transport options for every channel (endpoints, data server, fetches).
  transport::ChannelOptions channel;
  // CURVE public keys of endpoints that require it, by endpoint address
  // (ENDPOINT.curve_public); channels to them are encrypted and authenticated.
  // When there are any, the data server uses CURVE too: it serves only these
  // endpoints, each only the inputs of the tasks sent to it while they run.
  std::map<std::string, std::string> curve_server_keys;
  // The manager's own CURVE pair (Z85; [CLIENT] curve_public and the key in
  // curve_secret_file): used towards every CURVE endpoint, which may list the
  // public key in its clients_file, and by the data server. Empty: a fresh
  // pair for this manager (when curve_server_keys has any).
  std::string curve_public_key;
  std::string curve_secret_key;
};

// Fills `options` from the config: the endpoints' CURVE keys and the
// [CLIENT] key pair (its secret file is read here). Errors: IOError (the
// secret file cannot be read).
Status ApplyCurveConfig(const PipelineSpec& spec, FunctionManagerOptions* options);

class FunctionManager {
 public:
  // Binds the data server and starts the I/O thread. Errors: those of Listen.
  static overlay::Result<std::unique_ptr<FunctionManager>> Create(
      const FunctionManagerOptions& options);
  // Tasks still pending complete with Unavailable.
  ~FunctionManager();

  // Queues the task and returns its id (unique within this manager).
  uint64_t Submit(TaskSpec task);
  // Queues all tasks at once (one wake-up of the I/O thread); ids in order.
  std::vector<uint64_t> SubmitBatch(std::vector<TaskSpec> tasks);

  // Runs the task and returns its outcome. The Invoke goes out on a pooled
  // channel the calling thread uses alone, and the reply is awaited there. A
  // task not answered within heartbeat_interval (or per-task timeout if
  // shorter), whose channel fails, or that comes back Unavailable is handed to
  // the I/O thread under the same task id, so the endpoint still runs it once,
  // and from then on it is treated like a submitted task (timeouts, heartbeats,
  // retries; the direct try is not counted against `retries`). Its id is not
  // known to Result.
  TaskOutcome Call(TaskSpec task);

  // Pulls `key` from the endpoint at `endpoint` and puts it in the store.
  // A fetch that times out or finds the endpoint unavailable is retried on a
  // fresh channel, up to `retries` times, each reply awaited at most
  // heartbeat_timeout. Errors: those of transport::FetchObject;
  // Corruption when the bytes do not hash to `key`.
  overlay::Result<Blob> FetchOutput(const std::string& endpoint, const std::string& key);

  // The address endpoints fetch inputs from (sent as every Invoke's origin).
  const std::string& data_address() const;
  // The manager's CURVE public key; empty when no endpoint uses CURVE.
  const std::string& curve_public_key() const;
  // Late Results dropped because their task had already completed.
  uint64_t duplicates_dropped() const;
  // The endpoints submitted tasks went to (Call's direct tries count once
  // handed over), refreshed every few tens of milliseconds while tasks are
  // pending: for progress lines and heartbeat-age metrics.
  std::vector<EndpointContact> Contacts() const;

  // Frees the manager's record of the task (copies of its future stay valid);
  // Result then reports NotFound. Long runs call it once they hold the outcome.
  void Release(uint64_t task_id);

  // The task's outcome; a ready NotFound outcome for an unknown or released id.
  std::shared_future<TaskOutcome> Result(uint64_t task_id);

 private:
  class Impl;
  explicit FunctionManager(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace overlay

#endif  // OVERLAY_CORE_FUNCTION_MANAGER_H_
