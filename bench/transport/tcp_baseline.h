// SPDX-License-Identifier: Apache-2.0
// The raw-TCP baseline of the transport benchmarks: one loopback connection with
// TCP_NODELAY to a server thread that echoes N bytes (ping-pong) or streams N
// bytes on request (bandwidth), with no framing beyond an 8-byte request word.
#ifndef OVERLAY_BENCH_TRANSPORT_TCP_BASELINE_H_
#define OVERLAY_BENCH_TRANSPORT_TCP_BASELINE_H_

#include <cstddef>
#include <cstdint>
#include <thread>

namespace overlay::bench {

// Thread-safety: one client thread; the server runs on its own thread.
// Ownership: owns both sockets and the server thread; the destructor joins it.
class TcpBaseline {
 public:
  TcpBaseline();
  ~TcpBaseline();
  TcpBaseline(const TcpBaseline&) = delete;
  TcpBaseline& operator=(const TcpBaseline&) = delete;

  bool ok() const { return client_ >= 0; }
  // Sends `n` bytes, receives them back. False on a socket error.
  bool PingPong(char* buf, size_t n);
  // Asks `count` times for `n` bytes, keeping up to `window` requests in flight,
  // and receives each into `buf`. False on a socket error.
  bool Pull(char* buf, size_t n, int count = 1, int window = 1);

 private:
  void Serve(int fd);

  int listener_ = -1;
  int client_ = -1;
  std::thread server_;
};

}  // namespace overlay::bench

#endif  // OVERLAY_BENCH_TRANSPORT_TCP_BASELINE_H_
