// SPDX-License-Identifier: Apache-2.0
// remote_rtt/…: one no-op task through the function manager and an in-process
// endpoint daemon over ZeroMQ tcp, submitted (Submit + Result) or called
// (Call), beside a bare ZeroMQ REQ/REP round trip.
// remote_rtt_fabric/…: the same over libfabric (fabric://, tcp;ofi_rxm), beside
// a bare libfabric ping-pong (fabric_pingpong_bench.cc).
// Each side makes one untimed round trip first: connection set-up is not a
// round trip.
// remote_batch/…/N: N no-op tasks submitted as one batch, beside N messages
// pipelined over a bare DEALER/ROUTER pair (items/s).
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "fabric_pingpong.h"
#include "overlay/config.h"
#include "overlay/endpoint_server.h"
#include "overlay/function_manager.h"
#include "overlay/storage/shm_cache.h"

namespace overlay::bench {
namespace {

// A daemon serving the `identity` builtin, run on its own thread while in scope.
class NoopEndpoint {
 public:
  explicit NoopEndpoint(const std::string& address)
      : segment_("overlay-bench-ep-" + std::to_string(::getpid())) {
    auto spec =
        ParseConfigText(fmt::format("[FUNCTION]\nname = noop\nbuiltin = identity\n[END]\n"
                                    "[ENDPOINT]\nname = bench\nworkers = 1\naddress = {}\n[END]\n"
                                    "[STORAGE]\nmemory = 16MiB\nsegment = {}\n[END]\n",
                                    address, segment_),
                        "<bench>", ".");
    if (!spec.ok()) {
      status_ = spec.status();
      return;
    }
    auto server = EndpointServer::Create(*spec, "bench", {});
    status_ = server.status();
    if (!server.ok()) return;
    server_ = std::move(*server);
    server_->Start();
  }
  ~NoopEndpoint() {
    server_.reset();
    (void)storage::ShmCache::Remove(segment_);
  }
  const Status& status() const { return status_; }
  const std::string& address() const { return server_->address(); }

 private:
  std::string segment_;
  Status status_;
  std::unique_ptr<EndpointServer> server_;
};

// Both sides' set-up, or why it failed (reported as a skipped benchmark).
struct Rig {
  NoopEndpoint endpoint;
  std::unique_ptr<FunctionManager> manager;
  Status status;
  explicit Rig(const std::string& address = "tcp://127.0.0.1:0") : endpoint(address) {
    status = endpoint.status();
    if (!status.ok()) return;
    auto fm = FunctionManager::Create({});
    status = fm.status();
    if (fm.ok()) manager = std::move(*fm);
  }
};

// One task through the manager's I/O thread, which connects on first use.
Status SubmitOne(FunctionManager& manager, const TaskSpec& task) {
  uint64_t id = manager.Submit(task);
  TaskOutcome out = manager.Result(id).get();
  manager.Release(id);
  return out.status;
}

void BM_RemoteNoop(benchmark::State& state, const char* address) {
  Rig rig(address);
  if (!rig.status.ok()) return state.SkipWithError(rig.status.ToString().c_str());
  TaskSpec task{rig.endpoint.address(), "noop"};
  if (Status s = SubmitOne(*rig.manager, task); !s.ok())
    return state.SkipWithError(s.ToString().c_str());
  for (auto _ : state) {
    uint64_t id = rig.manager->Submit(task);
    TaskOutcome out = rig.manager->Result(id).get();
    rig.manager->Release(id);
    if (!out.status.ok()) return state.SkipWithError(out.status.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}

// The same task through FunctionManager::Call (the executor's path): the
// caller's own channel instead of the manager's I/O thread.
void BM_RemoteCall(benchmark::State& state, const char* address) {
  Rig rig(address);
  if (!rig.status.ok()) return state.SkipWithError(rig.status.ToString().c_str());
  TaskSpec task{rig.endpoint.address(), "noop"};
  if (TaskOutcome first = rig.manager->Call(task); !first.status.ok())
    return state.SkipWithError(first.status.ToString().c_str());
  for (auto _ : state) {
    TaskOutcome out = rig.manager->Call(task);
    if (!out.status.ok()) return state.SkipWithError(out.status.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RemoteBatch(benchmark::State& state) {
  Rig rig;
  if (!rig.status.ok()) return state.SkipWithError(rig.status.ToString().c_str());
  const std::vector<TaskSpec> batch(state.range(0), TaskSpec{rig.endpoint.address(), "noop"});
  if (Status s = SubmitOne(*rig.manager, batch.front()); !s.ok())
    return state.SkipWithError(s.ToString().c_str());
  for (auto _ : state) {
    std::vector<uint64_t> ids = rig.manager->SubmitBatch(batch);
    for (uint64_t id : ids) {
      TaskOutcome out = rig.manager->Result(id).get();
      rig.manager->Release(id);
      if (!out.status.ok()) return state.SkipWithError(out.status.ToString().c_str());
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// A bare ZeroMQ echo server (ROUTER, so it serves REQ and DEALER alike).
class ZmqEcho {
 public:
  ZmqEcho() : ctx_(1), router_(ctx_, zmq::socket_type::router) {
    router_.set(zmq::sockopt::linger, 0);
    router_.bind("tcp://127.0.0.1:*");
    address_ = router_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] {
      zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
      while (!stop_) {
        if (zmq::poll(&item, 1, std::chrono::milliseconds(20)) == 0) continue;
        std::vector<zmq::message_t> frames;
        (void)zmq::recv_multipart(router_, std::back_inserter(frames));
        zmq::send_multipart(router_, frames);
      }
    });
  }
  ~ZmqEcho() {
    stop_ = true;
    thread_.join();
  }
  zmq::context_t& context() { return ctx_; }
  const std::string& address() const { return address_; }

 private:
  zmq::context_t ctx_;
  zmq::socket_t router_;
  std::string address_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

void BM_ZmqReqRep(benchmark::State& state) {
  ZmqEcho echo;
  zmq::socket_t req(echo.context(), zmq::socket_type::req);
  req.set(zmq::sockopt::linger, 0);
  req.connect(echo.address());
  const std::string payload(64, 'x');
  auto round_trip = [&] {
    req.send(zmq::buffer(payload), zmq::send_flags::none);
    zmq::message_t reply;
    return req.recv(reply).has_value();
  };
  if (!round_trip()) return state.SkipWithError("no reply");
  for (auto _ : state) {
    if (!round_trip()) return state.SkipWithError("no reply");
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ZmqPipelined(benchmark::State& state) {
  ZmqEcho echo;
  zmq::socket_t dealer(echo.context(), zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(echo.address());
  const std::string payload(64, 'x');
  for (auto _ : state) {
    for (int64_t i = 0; i < state.range(0); ++i)
      dealer.send(zmq::buffer(payload), zmq::send_flags::none);
    for (int64_t i = 0; i < state.range(0); ++i) {
      zmq::message_t reply;
      if (!dealer.recv(reply)) return state.SkipWithError("no reply");
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// Round trips swing with the VM's wake-up latency, and drift over seconds:
// each group runs in rounds, a round measuring the baseline and then every
// variant once, so both see the same machine; the ratio reported is the
// median of the per-round ratios (RatioReporter).
constexpr int kRounds = 5;

const bool rounds_registered = [] {
  for (int round = 0; round < kRounds; ++round) {
    benchmark::RegisterBenchmark("remote_rtt/baseline_zmq_reqrep", BM_ZmqReqRep)->UseRealTime();
    benchmark::RegisterBenchmark("remote_rtt/overlay_fm_zmq_tcp", BM_RemoteNoop,
                                 "tcp://127.0.0.1:0")
        ->UseRealTime();
    benchmark::RegisterBenchmark("remote_rtt/overlay_fm_call_zmq_tcp", BM_RemoteCall,
                                 "tcp://127.0.0.1:0")
        ->UseRealTime();
  }
  for (int round = 0; round < kRounds; ++round) {
    benchmark::RegisterBenchmark("remote_rtt_fabric/baseline_fabric_pingpong", FabricPingPong)
        ->UseRealTime();
    benchmark::RegisterBenchmark("remote_rtt_fabric/overlay_fm_fabric_tcp", BM_RemoteNoop,
                                 "fabric://127.0.0.1:0")
        ->UseRealTime();
    benchmark::RegisterBenchmark("remote_rtt_fabric/overlay_fm_call_fabric_tcp", BM_RemoteCall,
                                 "fabric://127.0.0.1:0")
        ->UseRealTime();
  }
  return true;
}();

BENCHMARK(BM_ZmqPipelined)->Name("remote_batch/baseline_zmq_pipelined")->Arg(1000)->UseRealTime();
BENCHMARK(BM_RemoteBatch)->Name("remote_batch/overlay_fm_zmq_tcp")->Arg(1000)->UseRealTime();

}  // namespace
}  // namespace overlay::bench
