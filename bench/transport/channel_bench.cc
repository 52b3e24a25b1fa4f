// SPDX-License-Identifier: Apache-2.0
// Transport benchmarks over request/reply channels, beside a raw TCP socket:
//   rtt/<variant>/N   echo of an N-byte attachment (zero-copy send both ways)
//   bw/<variant>/N    streaming: up to 1 MiB, kBurst fetches of a whole N-byte
//                     object with kWindow in flight; above, one FetchObject in
//                     1 MiB chunks (window 4). The TCP baseline pulls alike.
//                     Five rounds, each the baseline and then every variant,
//                     so all see the same drift; the median of the round
//                     ratios is reported.
// Variants: zmq_inproc, zmq_ipc, zmq_tcp, fabric_tcp (tcp;ofi_rxm), fabric_shm,
// and baseline_tcp. Each channel pair is set up once and reused for every size.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "overlay/transport/bulk.h"
#include "overlay/transport/channel.h"
#include "tcp_baseline.h"

namespace overlay::bench {
namespace {

using std::chrono::milliseconds;
using transport::ChannelOptions;
using transport::ClientChannel;
using transport::FabricProvider;
using transport::ServerChannel;

constexpr int64_t kSizes[] = {64, 4096, 65536, 1 << 20, 64 << 20};
constexpr int64_t kChunk = 1 << 20;
constexpr int kBurst = 8;
constexpr int kWindow = 4;

Blob Bytes(size_t n) { return Blob::FromString(std::string(n, 'x')); }

// A server thread (echo, and Fetch of "N" → an N-byte object) plus one client.
class Pair {
 public:
  Pair(const std::string& address, FabricProvider provider) {
    ChannelOptions options;
    options.fabric_provider = provider;
    auto server = transport::Listen(address, options);
    if (!server.ok()) {
      error_ = server.status().ToString();
      return;
    }
    server_ = std::move(server).value();
    for (int64_t n : kSizes) objects_[std::to_string(n)] = Bytes(n);
    thread_ = std::thread([this] { Serve(); });
    auto client = transport::Connect(server_->address(), options);
    if (!client.ok()) {
      error_ = client.status().ToString();
      return;
    }
    client_ = std::move(client).value();
    // One round trip first, so connection set-up (libfabric's is lazy and
    // takes a handshake) is not timed as the first iteration.
    auto hello = transport::MakeMessage(transport::EncodeHeartbeat(0, transport::Heartbeat{}));
    auto reply = client_->Call(hello, milliseconds(30000));
    if (!reply.ok()) error_ = reply.status().ToString();
  }
  ~Pair() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    server_.reset();  // before the client: see FabricProvider::kShm
  }

  const std::string& error() const { return error_; }
  ClientChannel& client() { return *client_; }

 private:
  void Serve() {
    while (!stop_) {
      auto req = server_->Receive(milliseconds(50));
      if (!req.ok()) continue;
      const auto* env = req->message.envelope_view();
      if (env->message_type() == wire::Message::Fetch) {
        auto fetch = transport::DecodeFetch(*env);
        auto it = objects_.find(fetch.ok() ? fetch->key : "");
        Result<Blob> object = it == objects_.end() ? Result<Blob>(Status::NotFound("no object"))
                                                   : Result<Blob>(it->second);
        (void)transport::ServeFetch(*server_, *req, object);
      } else {
        (void)server_->Reply(req->peer, req->message);
      }
    }
  }

  std::string error_;
  std::unique_ptr<ServerChannel> server_;
  std::unique_ptr<ClientChannel> client_;
  std::map<std::string, Blob> objects_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Variant {
  const char* name;
  std::string address;
  FabricProvider provider;
};

const Variant kVariants[] = {
    {"zmq_inproc", "inproc://overlay-bench", FabricProvider::kTcpRxm},
    {"zmq_ipc", "ipc:///tmp/overlay-bench-" + std::to_string(::getpid()) + ".sock",
     FabricProvider::kTcpRxm},
    {"zmq_tcp", "tcp://127.0.0.1:0", FabricProvider::kTcpRxm},
    {"fabric_tcp", "fabric://127.0.0.1:0", FabricProvider::kTcpRxm},
    {"fabric_shm", "fabric://bench:0", FabricProvider::kShm},
};

// One pair at a time, reused for every size of its variant (benchmarks run in
// registration order); switching variants closes the previous pair, so its
// server thread does not compete with the next variant for the two cores.
Pair& PairFor(const Variant& v) {
  static std::string current;
  static std::unique_ptr<Pair> pair;
  if (!pair || current != v.name) {
    pair.reset();
    pair = std::make_unique<Pair>(v.address, v.provider);
    current = v.name;
  }
  return *pair;
}

void Rtt(benchmark::State& state, const Variant* v) {
  Pair& pair = PairFor(*v);
  if (!pair.error().empty()) return state.SkipWithError(pair.error().c_str());
  const size_t n = static_cast<size_t>(state.range(0));
  auto msg = transport::MakeMessage(
      transport::EncodeData(1, transport::DataHeader{"k", 0, n}, {}, n), Bytes(n));
  for (auto _ : state) {
    auto reply = pair.client().Call(msg, milliseconds(30000));
    if (!reply.ok() || reply->attachment.size() != n) {
      return state.SkipWithError(reply.status().ToString().c_str());
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n));
}

// kBurst whole-object fetches with kWindow in flight; false on any error.
bool FetchBurst(ClientChannel& client, const std::string& key, size_t n) {
  int sent = 0;
  for (int received = 0; received < kBurst; ++received) {
    for (; sent < kBurst && sent - received < kWindow; ++sent) {
      auto fetch = transport::EncodeFetch(sent, transport::Fetch{key, 0, 0});
      if (!client.Send(transport::MakeMessage(fetch)).ok()) return false;
    }
    auto reply = client.Receive(milliseconds(30000));
    if (!reply.ok() || reply->attachment.size() != n) return false;
  }
  return true;
}

void Bandwidth(benchmark::State& state, const Variant* v) {
  Pair& pair = PairFor(*v);
  if (!pair.error().empty()) return state.SkipWithError(pair.error().c_str());
  const size_t n = static_cast<size_t>(state.range(0));
  const std::string key = std::to_string(n);
  for (auto _ : state) {
    if (state.range(0) <= kChunk) {
      if (!FetchBurst(pair.client(), key, n)) return state.SkipWithError("fetch burst failed");
    } else {
      auto got = transport::FetchObject(pair.client(), key);
      if (!got.ok() || got->size() != n) {
        return state.SkipWithError(got.status().ToString().c_str());
      }
    }
  }
  const int64_t per_iteration = state.range(0) <= kChunk ? kBurst : 1;
  state.SetBytesProcessed(state.iterations() * per_iteration * state.range(0));
}

TcpBaseline& Tcp() {
  static TcpBaseline tcp;
  return tcp;
}

void RttTcp(benchmark::State& state) {
  if (!Tcp().ok()) return state.SkipWithError("loopback TCP set-up failed");
  std::string buf(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    if (!Tcp().PingPong(buf.data(), buf.size())) return state.SkipWithError("tcp ping-pong");
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BandwidthTcp(benchmark::State& state) {
  if (!Tcp().ok()) return state.SkipWithError("loopback TCP set-up failed");
  std::string buf(static_cast<size_t>(state.range(0)), 'x');
  const bool burst = state.range(0) <= kChunk;
  for (auto _ : state) {
    if (!Tcp().Pull(buf.data(), buf.size(), burst ? kBurst : 1, kWindow)) {
      return state.SkipWithError("tcp pull");
    }
  }
  state.SetBytesProcessed(state.iterations() * (burst ? kBurst : 1) * state.range(0));
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int64_t n : kSizes) b->Arg(n);
  b->UseRealTime()->MinTime(0.1);
}

// Bandwidth swings from run to run here, and drifts over seconds.
constexpr int kBandwidthRounds = 5;

const bool registered = [] {
  for (int round = 0; round < kBandwidthRounds; ++round) {
    // The round trips run once, in the first round, beside their variant's
    // bandwidth (one channel pair serves both).
    if (round == 0) benchmark::RegisterBenchmark("rtt/baseline_tcp", RttTcp)->Apply(Sizes);
    benchmark::RegisterBenchmark("bw/baseline_tcp", BandwidthTcp)->Apply(Sizes);
    for (const Variant& v : kVariants) {
      if (round == 0)
        benchmark::RegisterBenchmark((std::string("rtt/") + v.name).c_str(), Rtt, &v)->Apply(Sizes);
      benchmark::RegisterBenchmark((std::string("bw/") + v.name).c_str(), Bandwidth, &v)
          ->Apply(Sizes);
    }
  }
  return true;
}();

}  // namespace
}  // namespace overlay::bench
