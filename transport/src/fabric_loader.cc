// SPDX-License-Identifier: Apache-2.0
// The five libfabric entry points Overlay calls (everything else in the
// libfabric API is an inline call through the objects' ops tables), loaded with
// dlopen on first use instead of linked. Linking libfabric loads its provider
// libraries (psm2, infinipath, efa, verbs) at every start-up, and their
// constructors sleep hundreds of times: tens of milliseconds for every
// `overlay` command, also those that never open a fabric:// channel.
#include <dlfcn.h>
#include <rdma/fabric.h>
#include <rdma/fi_errno.h>
#include <signal.h>

#include <mutex>

namespace {

constexpr const char* kLibrary = "libfabric.so.1";

struct Api {
  void* handle = nullptr;
  decltype(&fi_getinfo) getinfo = nullptr;
  decltype(&fi_freeinfo) freeinfo = nullptr;
  decltype(&fi_dupinfo) dupinfo = nullptr;
  decltype(&fi_fabric) fabric = nullptr;
  decltype(&fi_strerror) strerror = nullptr;
};

// Thread-safety: loaded once, then read-only.
const Api& Load() {
  static Api api;
  static std::once_flag once;
  std::call_once(once, [] {
    // Provider constructors install signal handlers of their own (one turned
    // an endpoint's SIGTERM into exit 1); the process's handlers, set before
    // this late load, stay.
    struct sigaction saved[NSIG];
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, nullptr, &saved[sig]);
    void* h = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    for (int sig = 1; sig < NSIG; ++sig)
      if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &saved[sig], nullptr);
    if (h == nullptr) return;
    Api a;
    a.handle = h;
    a.getinfo = reinterpret_cast<decltype(&fi_getinfo)>(dlsym(h, "fi_getinfo"));
    a.freeinfo = reinterpret_cast<decltype(&fi_freeinfo)>(dlsym(h, "fi_freeinfo"));
    a.dupinfo = reinterpret_cast<decltype(&fi_dupinfo)>(dlsym(h, "fi_dupinfo"));
    a.fabric = reinterpret_cast<decltype(&fi_fabric)>(dlsym(h, "fi_fabric"));
    a.strerror = reinterpret_cast<decltype(&fi_strerror)>(dlsym(h, "fi_strerror"));
    if (a.getinfo && a.freeinfo && a.dupinfo && a.fabric && a.strerror) api = a;
  });
  return api;
}

}  // namespace

extern "C" {

int fi_getinfo(uint32_t version, const char* node, const char* service, uint64_t flags,
               const struct fi_info* hints, struct fi_info** info) {
  const Api& api = Load();
  return api.getinfo != nullptr ? api.getinfo(version, node, service, flags, hints, info)
                                : -FI_ENOSYS;
}

void fi_freeinfo(struct fi_info* info) {
  if (info != nullptr) Load().freeinfo(info);  // only infos libfabric made exist
}

struct fi_info* fi_dupinfo(const struct fi_info* info) {
  const Api& api = Load();
  return api.dupinfo != nullptr ? api.dupinfo(info) : nullptr;
}

int fi_fabric(struct fi_fabric_attr* attr, struct fid_fabric** fabric, void* context) {
  const Api& api = Load();
  return api.fabric != nullptr ? api.fabric(attr, fabric, context) : -FI_ENOSYS;
}

const char* fi_strerror(int errnum) {
  const Api& api = Load();
  return api.strerror != nullptr ? api.strerror(errnum) : "libfabric.so.1 could not be loaded";
}

}  // extern "C"
