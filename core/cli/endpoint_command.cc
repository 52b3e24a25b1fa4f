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

int RunEndpoint(const std::string& config, const std::string& name, const std::string& address) {
  constexpr int kExitSetup = 2;
  auto spec = ParseConfigFile(config);
  if (!spec.ok()) {
    fmt::print(stderr, "{}\n", spec.status().message());
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
    fmt::print(stderr, "overlay endpoint: {}\n", server.status().ToString());
    return kExitSetup;
  }
  fmt::print("endpoint {} listening on {}\n", name, (*server)->address());
  std::fflush(stdout);
  std::thread waiter([&] {
    char c = 0;
    while (read(stop_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    (*server)->Stop();
  });
  Status s = (*server)->Run();
  waiter.join();
  if (!s.ok()) {
    fmt::print(stderr, "overlay endpoint: {}\n", s.ToString());
    return 1;
  }
  return 0;
}

}  // namespace overlay
