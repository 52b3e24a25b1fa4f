// SPDX-License-Identifier: Apache-2.0
#include "tcp_baseline.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace overlay::bench {
namespace {

// Request word: the byte count, with the top bit set for "stream it to me".
constexpr uint64_t kPullBit = uint64_t{1} << 63;

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

void NoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

TcpBaseline::TcpBaseline() {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listener_, 1) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return;
  }
  int server_fd = ::accept(listener_, nullptr, nullptr);
  if (server_fd < 0) {
    ::close(fd);
    return;
  }
  NoDelay(fd);
  NoDelay(server_fd);
  client_ = fd;
  server_ = std::thread([this, server_fd] { Serve(server_fd); });
}

TcpBaseline::~TcpBaseline() {
  if (client_ >= 0) ::shutdown(client_, SHUT_RDWR);
  if (server_.joinable()) server_.join();
  if (client_ >= 0) ::close(client_);
  if (listener_ >= 0) ::close(listener_);
}

void TcpBaseline::Serve(int fd) {
  std::vector<char> buf;
  uint64_t word = 0;
  // Ends when the client shuts the connection down.
  while (ReadAll(fd, reinterpret_cast<char*>(&word), sizeof(word))) {
    const size_t n = word & ~kPullBit;
    if (buf.size() < n) buf.resize(n);
    if ((word & kPullBit) == 0 && !ReadAll(fd, buf.data(), n)) break;
    if (!WriteAll(fd, buf.data(), n)) break;
  }
  ::close(fd);
}

bool TcpBaseline::PingPong(char* buf, size_t n) {
  uint64_t word = n;
  return WriteAll(client_, reinterpret_cast<const char*>(&word), sizeof(word)) &&
         WriteAll(client_, buf, n) && ReadAll(client_, buf, n);
}

bool TcpBaseline::Pull(char* buf, size_t n, int count, int window) {
  const uint64_t word = n | kPullBit;
  int sent = 0;
  for (int received = 0; received < count; ++received) {
    for (; sent < count && sent - received < window; ++sent) {
      if (!WriteAll(client_, reinterpret_cast<const char*>(&word), sizeof(word))) return false;
    }
    if (!ReadAll(client_, buf, n)) return false;
  }
  return true;
}

}  // namespace overlay::bench
