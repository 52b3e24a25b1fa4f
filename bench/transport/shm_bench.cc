// SPDX-License-Identifier: Apache-2.0
// Zero-copy shm hand-off round trips (ping → echo thread → pong), N-byte chunks:
//   handoff/shm/N   beside handoff/baseline_memcpy/N (copying N bytes once);
//                   three rounds, the median of the round ratios
//   rtt/shm/N       beside rtt/baseline_tcp/N (channel_bench.cc)
//   handoff_floor/shm/64 beside handoff_floor/baseline_cache_line/64: two
//                   threads bouncing one counter, the least any cross-thread
//                   round trip costs here (one cache line each way). The VM's
//                   two vCPUs sometimes share a cache and sometimes do not,
//                   which moves both figures about 3x; three rounds.
// Each side writes and reads one byte of the payload, so the bytes really travel
// through the shared segment but are never copied.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "overlay/transport/shm_channel.h"

namespace overlay::bench {
namespace {

using transport::ShmChannel;
using transport::ShmChannelOptions;

constexpr int64_t kSizes[] = {64, 4096, 65536, 1 << 20, 64 << 20};

class ShmPingPong {
 public:
  ShmPingPong() {
    ShmChannelOptions opt;
    opt.chunk_bytes = size_t{64} << 20;  // untouched pages cost no memory
    opt.chunk_count = 4;
    const std::string base = "/overlay-bench-" + std::to_string(::getpid());
    auto ping = ShmChannel::Create(base + "-ping", opt);
    auto pong = ShmChannel::Create(base + "-pong", opt);
    if (!ping.ok() || !pong.ok()) {
      error_ = (ping.ok() ? pong.status() : ping.status()).ToString();
      return;
    }
    ping_ = std::move(ping).value();
    pong_ = std::move(pong).value();
    thread_ = std::thread([this] { Echo(); });
  }
  ~ShmPingPong() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  const std::string& error() const { return error_; }

  bool RoundTrip(size_t n) {
    auto loan = ping_->Loan(n, std::chrono::seconds(5));
    if (!loan.ok()) return false;
    loan->bytes()[0] = std::byte{static_cast<unsigned char>(++counter_)};
    ping_->Publish(std::move(loan).value());
    auto back = pong_->Take(std::chrono::seconds(5));
    return back.ok() && back->bytes().size() == n &&
           back->bytes()[0] == std::byte{static_cast<unsigned char>(counter_)};
  }

 private:
  void Echo() {
    while (!stop_) {
      auto s = ping_->Take(std::chrono::milliseconds(50));
      if (!s.ok()) continue;
      auto loan = pong_->Loan(s->bytes().size(), std::chrono::seconds(5));
      if (!loan.ok()) continue;
      loan->bytes()[0] = s->bytes()[0];
      s->Release();
      pong_->Publish(std::move(loan).value());
    }
  }

  std::string error_;
  std::unique_ptr<ShmChannel> ping_, pong_;
  unsigned counter_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A counter sent to an echo thread and back, each way on its own cache line.
class LinePingPong {
 public:
  LinePingPong() {
    thread_ = std::thread([this] { Echo(); });
  }
  ~LinePingPong() {
    stop_ = true;
    thread_.join();
  }

  // False when no echo came within kMaxSpins polls.
  bool RoundTrip() {
    const uint64_t n = ++sent_;
    ping_.store(n, std::memory_order_release);
    for (uint64_t i = 0; i < kMaxSpins; ++i) {
      if (pong_.load(std::memory_order_acquire) == n) return true;
      __builtin_ia32_pause();
    }
    return false;
  }

 private:
  static constexpr uint64_t kMaxSpins = uint64_t{1} << 32;

  void Echo() {
    uint64_t last = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      const uint64_t v = ping_.load(std::memory_order_acquire);
      if (v != last) {
        pong_.store(v, std::memory_order_release);
        last = v;
      } else {
        __builtin_ia32_pause();
      }
    }
  }

  alignas(64) std::atomic<uint64_t> ping_{0};
  alignas(64) std::atomic<uint64_t> pong_{0};
  alignas(64) std::atomic<bool> stop_{false};
  uint64_t sent_ = 0;
  std::thread thread_;
};

void LineRtt(benchmark::State& state) {
  LinePingPong pp;
  for (auto _ : state) {
    if (!pp.RoundTrip()) return state.SkipWithError("no echo from the other thread");
  }
}

void ShmRtt(benchmark::State& state) {
  static ShmPingPong pp;
  if (!pp.error().empty()) return state.SkipWithError(pp.error().c_str());
  const auto n = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    if (!pp.RoundTrip(n)) return state.SkipWithError("shm round trip failed");
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void Memcpy(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  std::vector<char> src(n, 'x'), dst(n, 'y');
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int64_t n : kSizes) b->Arg(n);
  b->UseRealTime()->MinTime(0.1);
}

BENCHMARK(ShmRtt)->Name("rtt/shm")->Apply(Sizes);

constexpr int kRounds = 3;
const bool rounds_registered = [] {
  for (int round = 0; round < kRounds; ++round) {
    benchmark::RegisterBenchmark("handoff/baseline_memcpy", Memcpy)->Apply(Sizes);
    benchmark::RegisterBenchmark("handoff/shm", ShmRtt)->Apply(Sizes);
  }
  for (int round = 0; round < kRounds; ++round) {
    benchmark::RegisterBenchmark("handoff_floor/baseline_cache_line", LineRtt)
        ->Arg(64)
        ->UseRealTime()
        ->MinTime(0.1);
    benchmark::RegisterBenchmark("handoff_floor/shm", ShmRtt)->Arg(64)->UseRealTime()->MinTime(0.1);
  }
  return true;
}();

}  // namespace
}  // namespace overlay::bench
