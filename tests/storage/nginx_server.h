// SPDX-License-Identifier: Apache-2.0
// Test helper: an nginx child process serving WebDAV PUT/DELETE (on a free
// loopback port unless told where), with its config, logs and document root in
// a temp directory.
#ifndef OVERLAY_TESTS_STORAGE_NGINX_SERVER_H_
#define OVERLAY_TESTS_STORAGE_NGINX_SERVER_H_

#include <signal.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "overlay/status.h"

namespace overlay::storage::testing {

// A fresh, empty temporary directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A loopback TCP port that was free a moment ago.
int FreePort();

// A per-test unique shared-memory segment name.
std::string UniqueSegment(const std::string& tag);

// `n` pseudo-random bytes (xorshift64, 8 at a time, so 256 MiB takes well under
// a second); the same `seed` gives the same bytes.
std::string RandomBytes(size_t n, uint64_t seed);

// Sends `sig` to a child (default SIGTERM), SIGKILL if it has not exited
// after 5 s, and reaps it. Returns its wait status.
int StopChild(pid_t pid, int sig = SIGTERM);

// Runs `fn` on a thread of its own that joined the named network namespace
// (/run/netns/<netns>, as `ip netns add` makes it; "" = this process's), so
// the sockets `fn` creates live there. Errors: the namespace cannot be joined.
Status InNetworkNamespace(const std::string& netns, const std::function<void()>& fn);

struct NginxOptions {
  std::string host = "127.0.0.1";  // listen address
  int port = 0;                    // 0: a free port (found on loopback)
  std::string netns;               // named network namespace to run in; "" = this one
  bool access_log = false;         // requests go to <dir>/logs/access.log
};

// Thread-safety: one thread. Ownership: owns the nginx child; stops it on destruction.
class NginxServer {
 public:
  // The nginx binary, or "" when not installed.
  static std::string Binary();
  // Starts nginx with its files under `dir`.
  static Result<std::unique_ptr<NginxServer>> Start(const std::string& dir,
                                                    const NginxOptions& options = {});
  ~NginxServer();

  // Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it.
  void Stop();
  // Starts it again on the same port and root.
  Status Restart();

  // Base URL of the object area: http://<host>:<port>/objects
  std::string base_url() const;
  // File-system directory behind base_url().
  std::string object_dir() const { return dir_ + "/www/objects"; }

 private:
  NginxServer(std::string dir, NginxOptions options)
      : dir_(std::move(dir)), options_(std::move(options)) {}
  Status Launch();
  bool Accepts() const;

  std::string dir_;
  NginxOptions options_;
  pid_t pid_ = -1;
};

}  // namespace overlay::storage::testing

#endif  // OVERLAY_TESTS_STORAGE_NGINX_SERVER_H_
