// SPDX-License-Identifier: Apache-2.0
#include "multihost/netns_daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <fstream>
#include <thread>
#include <utility>

#include "storage/nginx_server.h"

extern char** environ;

namespace overlay::testing {

NetnsDaemon::NetnsDaemon(std::string ip, std::string netns, std::vector<std::string> argv,
                         std::string log)
    : ip_(std::move(ip)), netns_(std::move(netns)), argv_(std::move(argv)), log_(std::move(log)) {}

NetnsDaemon::~NetnsDaemon() { (void)Signal(SIGKILL); }

int NetnsDaemon::CountInLog(std::string_view text) const {
  std::ifstream in(log_);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(text) != std::string::npos;
  return n;
}

Status NetnsDaemon::Start(std::string_view ready, std::chrono::milliseconds wait) {
  if (pid_ > 0) return Status::InvalidArgument("already running");
  const int before = CountInLog(ready);
  std::vector<std::string> args = {ip_, "netns", "exec", netns_};
  args.insert(args.end(), argv_.begin(), argv_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, log_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  int rc = posix_spawn(&pid_, ip_.c_str(), &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0) {
    pid_ = -1;
    return Status::FromErrno("spawning " + ip_, rc);
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (CountInLog(ready) > before) return Status::OK();
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Unavailable("exited during start-up (wait status " + std::to_string(status) +
                                 "); see " + log_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  (void)Signal(SIGKILL);
  return Status::Timeout("no '" + std::string(ready) + "' in " + log_);
}

int NetnsDaemon::Signal(int sig) {
  if (pid_ <= 0) return -1;
  const int status = storage::testing::StopChild(pid_, sig);
  pid_ = -1;
  return status;
}

}  // namespace overlay::testing
