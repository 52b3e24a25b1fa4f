// SPDX-License-Identifier: Apache-2.0
#include "endpoint_command.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "overlay/config.h"
#include "overlay/endpoint_server.h"
#include "overlay/event_log.h"

namespace overlay {

namespace {

// Written by the signal handler, read by the thread that stops the server: a
// handler may run on any thread, and writing a pipe is async-signal-safe.
int stop_pipe[2] = {-1, -1};

void OnStopSignal(int sig) {
  char c = static_cast<char>(sig);
  ssize_t n = write(stop_pipe[1], &c, 1);
  (void)n;
}

}  // namespace

int RunEndpoint(const std::string& config, const std::string& name, const std::string& address,
                const std::string& log) {
  constexpr int kExitSetup = 2;
  auto spec = ParseConfigFile(config);
  if (!spec.ok()) {
    fmt::print(stderr, "{}\n", spec.status().message());
    return kExitSetup;
  }
  const EndpointDecl* decl = spec->FindEndpoint(name);
  const std::string log_path =
      !log.empty() ? log : decl != nullptr && !decl->log.empty() ? decl->log : DefaultLogPath(name);
  if (Status s = OpenEventLog(log_path); !s.ok()) {
    fmt::print(stderr, "overlay endpoint: {}\n", s.message());
    return kExitSetup;
  }
  if (pipe(stop_pipe) != 0) {
    fmt::print(stderr, "overlay endpoint: pipe: {}\n", std::strerror(errno));
    return kExitSetup;
  }
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  EndpointServerOptions options;
  options.address = address;
  auto server = EndpointServer::Create(*spec, name, options);
  if (!server.ok()) {
    EventLog().error("endpoint {} could not start: {}", name, server.status().ToString());
    fmt::print(stderr, "overlay endpoint: {}\n", server.status().ToString());
    return kExitSetup;
  }
  const std::string metrics = (*server)->metrics_address();
  EventLog().info("endpoint {} started: pid {}, listening on {}{}", name, getpid(),
                  (*server)->address(),
                  metrics.empty() ? "" : fmt::format(", metrics at http://{}/metrics", metrics));
  fmt::print("endpoint {} listening on {}\n", name, (*server)->address());
  if (!metrics.empty()) fmt::print("metrics at http://{}/metrics\n", metrics);
  fmt::print("log: {}\n", log_path);
  std::fflush(stdout);
  std::thread waiter([&] {
    char c = 0;
    while (read(stop_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    EventLog().info("endpoint {} stopping on {}: finishing the tasks it holds", name,
                    c == SIGINT ? "SIGINT" : "SIGTERM");
    (*server)->Stop();
  });
  Status s = (*server)->Run();
  waiter.join();
  if (!s.ok()) {
    EventLog().error("endpoint {} stopped: {}", name, s.ToString());
    fmt::print(stderr, "overlay endpoint: {}\n", s.ToString());
    return 1;
  }
  EventLog().info("endpoint {} stopped", name);
  return 0;
}

}  // namespace overlay
