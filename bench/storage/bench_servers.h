// SPDX-License-Identifier: Apache-2.0
// Servers the storage benchmarks start for their baselines: redis-server (no
// persistence) on a free loopback port, plus a minimal RESP client.
#ifndef OVERLAY_BENCH_STORAGE_BENCH_SERVERS_H_
#define OVERLAY_BENCH_STORAGE_BENCH_SERVERS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>

namespace overlay::bench {

// Thread-safety: one thread. Ownership: owns the child; stops it on destruction.
class RedisServer {
 public:
  // nullptr when redis-server is not installed or does not start within 5 s.
  static std::unique_ptr<RedisServer> Start(const std::string& dir);
  ~RedisServer();
  int port() const { return port_; }

 private:
  RedisServer(pid_t pid, int port) : pid_(pid), port_(port) {}
  pid_t pid_;
  int port_;
};

// One blocking TCP connection speaking RESP2. Thread-safety: one thread.
class RedisClient {
 public:
  explicit RedisClient(int port);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  bool ok() const { return fd_ >= 0; }
  bool Set(std::string_view key, std::string_view value);
  // Copies the value into *out; false on a miss or error.
  bool Get(std::string_view key, std::string* out);

 private:
  bool SendCommand(std::initializer_list<std::string_view> parts);
  bool ReadLine(std::string* line);
  bool ReadExact(char* dst, size_t n);

  int fd_ = -1;
  std::string buf_;
  size_t pos_ = 0;
};

}  // namespace overlay::bench

#endif  // OVERLAY_BENCH_STORAGE_BENCH_SERVERS_H_
