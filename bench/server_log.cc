// SPDX-License-Identifier: Apache-2.0
#include "server_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

namespace overlay::bench {
namespace {

std::string& Path() {
  static std::string path = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
           "/overlay-bench-servers.log";
  }();
  return path;
}

}  // namespace

const std::string& ServerLogPath() { return Path(); }
void SetServerLogPath(std::string path) { Path() = std::move(path); }

void RedirectToServerLog() {
  int fd = ::open(Path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::dup2(fd, STDOUT_FILENO);
  ::dup2(fd, STDERR_FILENO);
}

}  // namespace overlay::bench
