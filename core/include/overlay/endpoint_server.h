// SPDX-License-Identifier: Apache-2.0
// EndpointServer: the endpoint daemon (`overlay endpoint`). It listens on an
// ENDPOINT's address and serves
//   Invoke     runs one of the config's FUNCTIONs on a pool of ENDPOINT.workers
//              threads; inputs are object keys looked up in the endpoint's data
//              container, and pulled from the Invoke's `origin` on a miss by
//              puller threads (a task waiting for its inputs holds no worker);
//              outputs are put in the container and returned as keys. A
//              lone small task of a native function (inputs here, <= 64 KiB)
//              runs on the channel thread instead: two wake-ups saved
//   Fetch      objects of its data container, in chunks
//   Heartbeat  echoed with the endpoint's name
// Anything else is answered with an Error. A repeated Invoke (same origin and
// task id, e.g. a function manager's retry) is not run twice: it is answered
// with the first run's result, or when that run ends. The last 4096 results
// are remembered for this.
//
// Stream state lives in the daemon's memory: items of a stream must arrive one
// at a time in order (the executor sends them so). Each Invoke of a stateful
// stream carries its position (items sent before it); when the daemon's state
// is elsewhere (e.g. it restarted and has none), it runs nothing and answers
// with its own position, and the sender replays the missing items (Invoke.replay:
// run, keep no outputs) before resending. Deterministic functions thus rebuild
// exactly the state they had. Each daemon process has a random incarnation,
// sent in Heartbeat replies, so managers notice a restart.
//
// Per client (a CURVE key, else a network address) the daemon bounds stream
// states (ENDPOINT.max_streams), tasks in flight (max_tasks) and the bytes
// they hold (max_memory), refusing an Invoke over a bound with Busy; stream
// state unused for ENDPOINT.stream_idle is dropped, and rebuilt by replay
// like after a restart. Inputs are pulled from a CURVE origin with the
// endpoint's own key pair, and only from the key the Invoke came with.
#ifndef OVERLAY_CORE_ENDPOINT_SERVER_H_
#define OVERLAY_CORE_ENDPOINT_SERVER_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "overlay/config.h"
#include "overlay/status.h"
#include "overlay/transport/channel.h"

namespace overlay {

struct EndpointServerOptions {
  // Listen here instead of ENDPOINT.address (e.g. "tcp://127.0.0.1:0").
  // Default: empty, the config's address.
  std::string address;
  // Transport options of the listening channel and of origin connections.
  transport::ChannelOptions channel;
  // Longest wait for one chunk of an input pulled from an origin. Default: 10 s.
  std::chrono::milliseconds fetch_timeout{10000};
  // Longest wait for a new origin connection's first reply; an origin that
  // does not answer fails the tasks waiting on it at once. Default: 2 s.
  std::chrono::milliseconds connect_timeout{2000};
  // Threads that pull inputs from origins (never the workers), and how many
  // of them one origin may hold at a time. Defaults: 8, 2.
  int pull_threads = 8;
  int pulls_per_origin = 2;
};

// The CURVE secret key alone in its file (curve_secret_file), surrounding
// white space ignored. Errors: IOError.
Result<std::string> ReadCurveSecret(const std::string& path);

// Thread-safety: Run (or Start) once, on one thread; Stop and address() from
// any thread.
// Ownership: owns its channel, worker threads, functions and data container.
// The L1 segment is STORAGE.segment when the config sets it, else
// "overlay-<endpoint name>", and the L2 directory is "<STORAGE.disk>-<endpoint
// name>" when STORAGE.disk is set, else the segment's default one, so
// endpoints on one host (or sharing a file system) do not share a container.
class EndpointServer {
 public:
  // Opens the data container, builds the FUNCTIONs and binds the address.
  // Errors: NotFound (no such ENDPOINT), InvalidArgument (no address), and
  // those of DataContainer::Open, MakeFunction and transport::Listen.
  static Result<std::unique_ptr<EndpointServer>> Create(const PipelineSpec& spec,
                                                        std::string_view endpoint,
                                                        const EndpointServerOptions& options = {});
  // Stops and joins a server that was Started.
  ~EndpointServer();

  // Serves until Stop(); then stops accepting, lets queued and running tasks
  // finish, sends their replies and returns.
  Status Run();
  // Runs Run on a thread of its own (embedded endpoints: tests, benchmarks).
  void Start();
  // Makes Run return soon. Safe from any thread (not from a signal handler).
  void Stop();
  // The bound address (a port of 0 resolved).
  const std::string& address() const;
  // Where Prometheus metrics are served (ENDPOINT.metrics_address, its port
  // resolved), e.g. "127.0.0.1:40123"; empty when none.
  std::string metrics_address() const;
  // Stream states held now (bounded by ENDPOINT.max_streams per client).
  size_t stream_states() const;

 private:
  class Impl;
  explicit EndpointServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::thread thread_;  // Start's
};

}  // namespace overlay

#endif  // OVERLAY_CORE_ENDPOINT_SERVER_H_
