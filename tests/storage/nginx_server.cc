// SPDX-License-Identifier: Apache-2.0
#include "storage/nginx_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

namespace overlay::storage::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "overlay-storage-XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  path_ = p ? std::string(p) : std::string();
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

std::string UniqueSegment(const std::string& tag) {
  static std::atomic<int> counter{0};
  return "ovl-test-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

namespace {

bool PortAccepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

std::string NginxServer::Binary() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

Result<std::unique_ptr<NginxServer>> NginxServer::Start(const std::string& dir) {
  if (Binary().empty()) return Status::Unavailable("nginx is not installed");
  int port = FreePort();
  if (port <= 0) return Status::IOError("no free port");
  for (const char* sub : {"www/objects", "tmp", "logs"})
    fs::create_directories(fs::path(dir) / sub);
  std::ofstream conf(dir + "/nginx.conf");
  conf << "worker_processes 1;\n"
       << (geteuid() == 0 ? "user root root;\n" : "") << "pid " << dir << "/nginx.pid;\n"
       << "error_log " << dir << "/logs/error.log warn;\n"
       << "events { worker_connections 128; }\n"
       << "http {\n"
       << "  access_log off;\n"
       << "  client_body_temp_path " << dir << "/tmp/body;\n"
       << "  proxy_temp_path " << dir << "/tmp/proxy;\n"
       << "  fastcgi_temp_path " << dir << "/tmp/fastcgi;\n"
       << "  uwsgi_temp_path " << dir << "/tmp/uwsgi;\n"
       << "  scgi_temp_path " << dir << "/tmp/scgi;\n"
       << "  server {\n"
       << "    listen 127.0.0.1:" << port << ";\n"
       << "    root " << dir << "/www;\n"
       << "    location /objects/ {\n"
       << "      dav_methods PUT DELETE;\n"
       << "      create_full_put_path on;\n"
       << "      dav_access user:rw;\n"
       << "      client_max_body_size 0;\n"
       << "    }\n"
       << "  }\n"
       << "}\n";
  conf.close();
  std::unique_ptr<NginxServer> server(new NginxServer(dir, port));
  OVERLAY_RETURN_IF_ERROR(server->Launch());
  return server;
}

Status NginxServer::Launch() {
  const std::string bin = Binary();
  const std::string conf = dir_ + "/nginx.conf";
  const std::string err = dir_ + "/logs/startup.log";
  pid_t pid = fork();
  if (pid < 0) return Status::FromErrno("fork", errno);
  if (pid == 0) {
    execl(bin.c_str(), "nginx", "-p", dir_.c_str(), "-e", err.c_str(), "-c", conf.c_str(), "-g",
          "daemon off;", static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PortAccepts(port_)) return Status::OK();
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::IOError("nginx exited at start; see " + err);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Stop();
  return Status::Timeout("nginx did not listen within 10 s");
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(s.data() + i, &x, std::min<size_t>(8, n - i));
  }
  return s;
}

void StopChild(pid_t pid) {
  kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int st = 0;
  while (waitpid(pid, &st, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void NginxServer::Stop() {
  if (pid_ <= 0) return;
  StopChild(pid_);
  pid_ = -1;
  // The master is gone; make sure the port no longer answers before returning.
  const auto closed_by = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (PortAccepts(port_) && std::chrono::steady_clock::now() < closed_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

Status NginxServer::Restart() {
  Stop();
  return Launch();
}

NginxServer::~NginxServer() { Stop(); }

std::string NginxServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/objects";
}

}  // namespace overlay::storage::testing
