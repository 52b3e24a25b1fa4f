// SPDX-License-Identifier: Apache-2.0
#ifndef OVERLAY_BENCH_ENDPOINT_FABRIC_PINGPONG_H_
#define OVERLAY_BENCH_ENDPOINT_FABRIC_PINGPONG_H_

#include <benchmark/benchmark.h>

namespace overlay::bench {

// A bare libfabric round trip (fabric_pingpong_bench.cc), the baseline of
// remote_rtt_fabric, registered beside the overlay variants in remote_bench.cc.
void FabricPingPong(benchmark::State& state);

}  // namespace overlay::bench

#endif  // OVERLAY_BENCH_ENDPOINT_FABRIC_PINGPONG_H_
