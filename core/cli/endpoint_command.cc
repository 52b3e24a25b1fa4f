// SPDX-License-Identifier: Apache-2.0
#include "endpoint_command.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "launchers/detached.h"

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

bool SameFile(int fd, const std::string& path) {
  struct stat a {}, b {};
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
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
      !log.empty() ? log : EndpointLogPath(decl != nullptr ? decl->log : "", name);
  if (Status s = OpenEventLog(log_path); !s.ok()) {
    fmt::print(stderr, "overlay endpoint: {}\n", s.message());
    return kExitSetup;
  }
  // A detached endpoint's stderr is its log: what the log says is not said twice.
  const bool stderr_is_log = SameFile(STDERR_FILENO, log_path);
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
    if (!stderr_is_log) fmt::print(stderr, "overlay endpoint: {}\n", server.status().ToString());
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
    if (!stderr_is_log) fmt::print(stderr, "overlay endpoint: {}\n", s.ToString());
    return 1;
  }
  EventLog().info("endpoint {} stopped", name);
  return 0;
}

CLI::App* AddEndpointCommand(CLI::App& app, EndpointFlags* flags) {
  CLI::App* endpoint = app.add_subcommand(
      "endpoint", "serve an ENDPOINT's functions and data container until SIGTERM/SIGINT");
  endpoint->add_option("--config", flags->config, "pipeline config file")->required();
  endpoint->add_option("--name", flags->name, "the ENDPOINT block to serve")->required();
  endpoint->add_option("--address", flags->address,
                       "listen here instead of ENDPOINT address (e.g. tcp://127.0.0.1:5555)");
  endpoint->add_option("--log", flags->log,
                       "append the event log here instead of ENDPOINT log (default "
                       "$XDG_STATE_HOME/overlay/NAME.log, else /var/log/overlay/NAME.log for "
                       "root, else ~/.local/state/overlay/NAME.log)");
  endpoint->add_option("--state-dir", flags->state_dir,
                       "with --detach/--stop: where the pid file is (default: "
                       "$XDG_STATE_HOME/overlay, else ~/.local/state/overlay)");
  CLI::Option* detach = endpoint->add_flag(
      "--detach", flags->detach,
      "start the daemon in a session of its own, pid file in the state directory, its stderr "
      "appended to its log, and return (what `overlay up` runs)");
  endpoint->add_flag("--stop", flags->stop,
                     "stop the daemon --detach started: SIGTERM, then SIGKILL after --grace-ms")
      ->excludes(detach);
  endpoint->add_option("--grace-ms", flags->grace_ms, "with --stop: wait this long before SIGKILL")
      ->capture_default_str();
  return endpoint;
}

int EndpointMain(const EndpointFlags& flags) {
  if (!flags.detach && !flags.stop) return RunEndpoint(flags.config, flags.name, flags.address, flags.log);
  launch::DetachedEndpoint e;
  e.config = std::filesystem::absolute(flags.config).string();
  e.name = flags.name;
  e.address = flags.address;
  e.state_dir = flags.state_dir;
  e.log = flags.log;
  auto done = flags.detach ? launch::StartDetached(e)
                           : launch::StopDetached(e, std::chrono::milliseconds(flags.grace_ms));
  if (!done.ok()) {
    fmt::print(stderr, "overlay endpoint: {}: {}\n", flags.name, done.status().message());
    return 1;
  }
  fmt::print("{}\n", *done);
  return 0;
}

}  // namespace overlay
