// SPDX-License-Identifier: Apache-2.0
#include "storage/nginx_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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

bool PortAccepts(const std::string& host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1 &&
            connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

std::string NetnsPath(const std::string& netns) { return "/run/netns/" + netns; }

}  // namespace

Status InNetworkNamespace(const std::string& netns, const std::function<void()>& fn) {
  if (netns.empty()) {
    fn();
    return Status::OK();
  }
  Status status;
  // The network namespace is a property of the thread, so only this one moves.
  std::thread t([&] {
    int fd = open(NetnsPath(netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      status = Status::FromErrno("joining network namespace " + netns, errno);
      if (fd >= 0) close(fd);
      return;
    }
    close(fd);
    fn();
  });
  t.join();
  return status;
}

bool NginxServer::Accepts() const {
  bool ok = false;
  Status s =
      InNetworkNamespace(options_.netns, [&] { ok = PortAccepts(options_.host, options_.port); });
  return s.ok() && ok;
}

std::string NginxServer::Binary() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

Result<std::unique_ptr<NginxServer>> NginxServer::Start(const std::string& dir,
                                                        const NginxOptions& options) {
  if (Binary().empty()) return Status::Unavailable("nginx is not installed");
  NginxOptions o = options;
  if (o.port == 0) o.port = FreePort();
  if (o.port <= 0) return Status::IOError("no free port");
  for (const char* sub : {"www/objects", "tmp", "logs"})
    fs::create_directories(fs::path(dir) / sub);
  std::ofstream conf(dir + "/nginx.conf");
  conf << "worker_processes 1;\n"
       << (geteuid() == 0 ? "user root root;\n" : "") << "pid " << dir << "/nginx.pid;\n"
       << "error_log " << dir << "/logs/error.log warn;\n"
       << "events { worker_connections 128; }\n"
       << "http {\n"
       << "  access_log " << (o.access_log ? dir + "/logs/access.log" : "off") << ";\n"
       << "  client_body_temp_path " << dir << "/tmp/body;\n"
       << "  proxy_temp_path " << dir << "/tmp/proxy;\n"
       << "  fastcgi_temp_path " << dir << "/tmp/fastcgi;\n"
       << "  uwsgi_temp_path " << dir << "/tmp/uwsgi;\n"
       << "  scgi_temp_path " << dir << "/tmp/scgi;\n"
       << "  server {\n"
       << "    listen " << o.host << ":" << o.port << ";\n"
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
  std::unique_ptr<NginxServer> server(new NginxServer(dir, std::move(o)));
  OVERLAY_RETURN_IF_ERROR(server->Launch());
  return server;
}

Status NginxServer::Launch() {
  const std::string bin = Binary();
  const std::string conf = dir_ + "/nginx.conf";
  const std::string err = dir_ + "/logs/startup.log";
  const std::string netns = options_.netns.empty() ? "" : NetnsPath(options_.netns);
  pid_t pid = fork();
  if (pid < 0) return Status::FromErrno("fork", errno);
  if (pid == 0) {
    if (!netns.empty()) {
      int fd = open(netns.c_str(), O_RDONLY);
      if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(126);
    }
    execl(bin.c_str(), "nginx", "-p", dir_.c_str(), "-e", err.c_str(), "-c", conf.c_str(), "-g",
          "daemon off;", static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Accepts()) return Status::OK();
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

int StopChild(pid_t pid, int sig) {
  kill(pid, sig);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int st = 0;
  while (waitpid(pid, &st, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return st;
}

void NginxServer::Stop() {
  if (pid_ <= 0) return;
  StopChild(pid_);
  pid_ = -1;
  // The master is gone; make sure the port no longer answers before returning.
  const auto closed_by = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Accepts() && std::chrono::steady_clock::now() < closed_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

Status NginxServer::Restart() {
  Stop();
  return Launch();
}

NginxServer::~NginxServer() { Stop(); }

std::string NginxServer::base_url() const {
  return "http://" + options_.host + ":" + std::to_string(options_.port) + "/objects";
}

}  // namespace overlay::storage::testing
