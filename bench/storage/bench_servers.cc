// SPDX-License-Identifier: Apache-2.0
#include "bench_servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "server_log.h"
#include "storage/nginx_server.h"

namespace overlay::bench {
namespace {

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace

std::unique_ptr<RedisServer> RedisServer::Start(const std::string& dir) {
  const char* bin = "/usr/bin/redis-server";
  if (access(bin, X_OK) != 0) return nullptr;
  const int port = storage::testing::FreePort();
  const std::string port_s = std::to_string(port);
  pid_t pid = fork();
  if (pid < 0) return nullptr;
  if (pid == 0) {
    RedirectToServerLog();
    execl(bin, "redis-server", "--port", port_s.c_str(), "--bind", "127.0.0.1", "--save", "",
          "--appendonly", "no", "--dir", dir.c_str(), "--logfile", ServerLogPath().c_str(),
          "--loglevel", "warning", static_cast<char*>(nullptr));
    _exit(127);
  }
  std::unique_ptr<RedisServer> server(new RedisServer(pid, port));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = Connect(port);
    if (fd >= 0) {
      close(fd);
      return server;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return nullptr;
}

RedisServer::~RedisServer() { storage::testing::StopChild(pid_); }

RedisClient::RedisClient(int port) : fd_(Connect(port)) {}

RedisClient::~RedisClient() {
  if (fd_ >= 0) close(fd_);
}

bool RedisClient::SendCommand(std::initializer_list<std::string_view> parts) {
  std::string msg = "*" + std::to_string(parts.size()) + "\r\n";
  for (std::string_view p : parts) {
    msg += "$" + std::to_string(p.size()) + "\r\n";
    msg.append(p);
    msg += "\r\n";
  }
  for (size_t off = 0; off < msg.size();) {
    ssize_t n = send(fd_, msg.data() + off, msg.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool RedisClient::ReadExact(char* dst, size_t n) {
  while (n > 0) {
    if (pos_ == buf_.size()) {
      buf_.resize(64 << 10);
      ssize_t r = recv(fd_, buf_.data(), buf_.size(), 0);
      if (r <= 0) return false;
      buf_.resize(static_cast<size_t>(r));
      pos_ = 0;
    }
    size_t take = std::min(n, buf_.size() - pos_);
    if (dst) std::memcpy(dst, buf_.data() + pos_, take);
    if (dst) dst += take;
    pos_ += take;
    n -= take;
  }
  return true;
}

bool RedisClient::ReadLine(std::string* line) {
  line->clear();
  char c = 0;
  while (ReadExact(&c, 1)) {
    if (c == '\n') {
      if (!line->empty() && line->back() == '\r') line->pop_back();
      return true;
    }
    line->push_back(c);
  }
  return false;
}

bool RedisClient::Set(std::string_view key, std::string_view value) {
  std::string line;
  return SendCommand({"SET", key, value}) && ReadLine(&line) && line == "+OK";
}

bool RedisClient::Get(std::string_view key, std::string* out) {
  std::string line;
  if (!SendCommand({"GET", key}) || !ReadLine(&line) || line.empty() || line[0] != '$')
    return false;
  long len = std::strtol(line.c_str() + 1, nullptr, 10);
  if (len < 0) return false;
  out->resize(static_cast<size_t>(len));
  char crlf[2];
  return ReadExact(out->data(), out->size()) && ReadExact(crlf, 2);
}

}  // namespace overlay::bench
