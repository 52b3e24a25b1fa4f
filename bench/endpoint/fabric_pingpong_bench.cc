// SPDX-License-Identifier: Apache-2.0
// remote_rtt_fabric/baseline_fabric_pingpong: a bare libfabric round trip, the
// baseline of remote_rtt_fabric/overlay_fm_*fabric_tcp (remote_bench.cc): two RDM
// endpoints of tcp;ofi_rxm on loopback, a 64-byte tagged message and its echo.
// Both sides wait as overlay's fabric channels do: they poll the completion
// queue for 50 µs (ChannelOptions::spin), then sleep on its wait descriptor
// (fi_trywait, then poll). Busy polling alone was slower on this 2-core
// machine, where two spinning threads contend for the cores.
#include <poll.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "fabric_pingpong.h"
#include "overlay/transport/fabric.h"

namespace overlay::bench {
namespace {

using transport::FabricEndpoint;
using transport::FabricProvider;

constexpr size_t kPayload = 64;
constexpr uint64_t kPingTag = 1;
constexpr uint64_t kPongTag = 2;
constexpr std::chrono::microseconds kSpin{50};

// Waits for one completion. False on a completion error, or when `stop` is set
// (checked every 20 ms) before one arrives.
bool AwaitCompletion(const FabricEndpoint& e, const std::atomic<bool>& stop) {
  const auto spin_until = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    fi_cq_tagged_entry entry;
    ssize_t n = fi_cq_read(e.cq(), &entry, 1);
    if (n == 1) return true;
    if (n != -FI_EAGAIN || stop) return false;
    if (e.wait_fd() < 0) continue;  // no descriptor: busy poll
    if (std::chrono::steady_clock::now() < spin_until) continue;
    if (!e.ReadyToSleep()) continue;
    pollfd p{e.wait_fd(), POLLIN, 0};
    (void)::poll(&p, 1, 20);
  }
}

// Posts with retries while the provider asks to (FI_EAGAIN), progressing meanwhile.
template <typename Post>
bool PostRetrying(const FabricEndpoint& e, Post post) {
  for (int i = 0; i < 1000000; ++i) {
    ssize_t rc = post();
    if (rc == 0) return true;
    if (rc != -FI_EAGAIN) return false;
    (void)fi_cq_read(e.cq(), nullptr, 0);
  }
  return false;
}

// Echoes every ping as a pong on its own thread while in scope.
class FabricEcho {
 public:
  FabricEcho(FabricEndpoint ep, fi_addr_t peer) : ep_(std::move(ep)), peer_(peer) {
    thread_ = std::thread([this] { Run(); });
  }
  ~FabricEcho() {
    stop_ = true;
    thread_.join();
  }

 private:
  void Run() {
    char buf[kPayload];
    fi_context2 rctx{}, sctx{};
    while (!stop_) {
      if (!PostRetrying(ep_, [&] {
            return fi_trecv(ep_.ep(), buf, sizeof buf, nullptr, FI_ADDR_UNSPEC, kPingTag, 0, &rctx);
          })) {
        return;
      }
      if (!AwaitCompletion(ep_, stop_)) return;
      if (!PostRetrying(ep_, [&] {
            return fi_tsend(ep_.ep(), buf, sizeof buf, nullptr, peer_, kPongTag, &sctx);
          })) {
        return;
      }
      if (!AwaitCompletion(ep_, stop_)) return;
    }
  }

  FabricEndpoint ep_;
  const fi_addr_t peer_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

void FabricPingPong(benchmark::State& state) {
  auto server = FabricEndpoint::Open(FabricProvider::kTcpRxm, "127.0.0.1", "0", true);
  if (!server.ok()) return state.SkipWithError(server.status().ToString().c_str());
  auto server_name = server->name();
  if (!server_name.ok()) return state.SkipWithError(server_name.status().ToString().c_str());
  auto client = FabricEndpoint::Open(FabricProvider::kTcpRxm, "127.0.0.1", "0", false);
  if (!client.ok()) return state.SkipWithError(client.status().ToString().c_str());
  auto client_name = client->name();
  auto to_server = client->Insert(*server_name);
  auto to_client = client_name.ok() ? server->Insert(*client_name) : client_name.status();
  if (!to_server.ok() || !to_client.ok()) return state.SkipWithError("fi_av_insert failed");
  FabricEcho echo(std::move(server).value(), *to_client);
  const std::atomic<bool> never{false};
  char out[kPayload] = {};
  char in[kPayload];
  fi_context2 rctx{}, sctx{};
  auto round_trip = [&] {
    return PostRetrying(*client,
                        [&] {
                          return fi_trecv(client->ep(), in, sizeof in, nullptr, FI_ADDR_UNSPEC,
                                          kPongTag, 0, &rctx);
                        }) &&
           PostRetrying(*client,
                        [&] {
                          return fi_tsend(client->ep(), out, sizeof out, nullptr, *to_server,
                                          kPingTag, &sctx);
                        }) &&
           AwaitCompletion(*client, never) && AwaitCompletion(*client, never);
  };
  // The first round trip sets up the connection (lazily, in libfabric): untimed.
  if (!round_trip()) return state.SkipWithError("fabric ping-pong failed");
  for (auto _ : state) {
    if (!round_trip()) return state.SkipWithError("fabric ping-pong failed");
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace overlay::bench
