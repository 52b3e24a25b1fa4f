// SPDX-License-Identifier: Apache-2.0
// Move-only RAII wrappers over libfabric objects (one owner per fid_*), made by
// factories that return Result instead of error codes, plus FabricEndpoint, the
// bundle an RDM endpoint needs (fabric, domain, address vector, completion queue).
//
// Thread-safety: not thread-safe; use each object from one thread at a time.
// Ownership: each wrapper closes its fid on destruction; close dependents first
// (FabricEndpoint declares its members in the order that makes this automatic).
#ifndef OVERLAY_TRANSPORT_FABRIC_H_
#define OVERLAY_TRANSPORT_FABRIC_H_

#include <rdma/fabric.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "overlay/status.h"
#include "overlay/transport/channel.h"

namespace overlay::transport {

// Owns one fid of type T (fid_fabric, fid_domain, fid_ep, fid_av, fid_cq, fid_mr).
template <typename T>
class FabricHandle {
 public:
  FabricHandle() = default;
  explicit FabricHandle(T* fid) : fid_(fid) {}
  FabricHandle(FabricHandle&& other) noexcept : fid_(std::exchange(other.fid_, nullptr)) {}
  FabricHandle& operator=(FabricHandle&& other) noexcept {
    if (this != &other) {
      Close();
      fid_ = std::exchange(other.fid_, nullptr);
    }
    return *this;
  }
  // Copies would close the fid twice.
  FabricHandle(const FabricHandle&) = delete;
  FabricHandle& operator=(const FabricHandle&) = delete;
  ~FabricHandle() { Close(); }

  T* get() const { return fid_; }
  explicit operator bool() const { return fid_ != nullptr; }

 private:
  void Close() {
    if (fid_ != nullptr) fi_close(&std::exchange(fid_, nullptr)->fid);
  }
  T* fid_ = nullptr;
};

using FabricObject = FabricHandle<fid_fabric>;
using FabricDomain = FabricHandle<fid_domain>;
using FabricAddressVector = FabricHandle<fid_av>;
using FabricCompletionQueue = FabricHandle<fid_cq>;
using FabricRdmEndpoint = FabricHandle<fid_ep>;
using FabricMemoryRegion = FabricHandle<fid_mr>;

struct FabricInfoDeleter {
  void operator()(fi_info* info) const { fi_freeinfo(info); }
};
using FabricInfo = std::unique_ptr<fi_info, FabricInfoDeleter>;

// "tcp;ofi_rxm" or "shm".
const char* ProviderName(FabricProvider provider);

// fi_getinfo for an RDM endpoint with tagged messages and RMA. `source` makes
// node/service the local address (a server); otherwise they name the peer.
// Errors: Unavailable (the provider is absent or lacks these capabilities).
Result<FabricInfo> GetFabricInfo(FabricProvider provider, const char* node, const char* service,
                                 bool source);
Result<FabricObject> OpenFabric(const fi_info& info);
Result<FabricDomain> OpenDomain(const FabricObject& fabric, fi_info& info);
Result<FabricAddressVector> OpenAddressVector(const FabricDomain& domain);
// `wait_fd`: with a wait object whose descriptor (WaitDescriptor) turns readable
// on new completions; else none (readers must poll).
Result<FabricCompletionQueue> OpenCompletionQueue(const FabricDomain& domain, size_t size,
                                                  bool wait_fd = false);
// The descriptor of a completion queue opened with wait_fd, or -1 when it has none.
int WaitDescriptor(const FabricCompletionQueue& cq);
// Opens, binds (av, cq for send and receive) and enables an endpoint.
Result<FabricRdmEndpoint> OpenEndpoint(const FabricDomain& domain, fi_info& info,
                                       const FabricAddressVector& av,
                                       const FabricCompletionQueue& cq);
// Registers [buf, buf + len) for `access` (FI_REMOTE_READ, …) under `key`.
Result<FabricMemoryRegion> RegisterMemory(const FabricDomain& domain, const void* buf, size_t len,
                                          uint64_t access, uint64_t key);

// An enabled RDM endpoint with everything it depends on.
// Thread-safety: not thread-safe. Ownership: move-only; owns all its fids.
class FabricEndpoint {
 public:
  // A server endpoint bound to node:service (source), or a client endpoint that
  // can reach node:service (destination, see peer_address()).
  static Result<FabricEndpoint> Open(FabricProvider provider, const std::string& node,
                                     const std::string& service, bool source);

  fid_ep* ep() const { return ep_.get(); }
  fid_cq* cq() const { return cq_.get(); }
  fid_av* av() const { return av_.get(); }
  fid_domain* domain() const { return domain_.get(); }
  const FabricDomain& domain_handle() const { return domain_; }
  const fi_info& info() const { return *info_; }
  // The endpoint's own raw address (fi_getname).
  Result<std::string> name() const;
  // The destination's raw address when opened with source = false.
  std::string peer_address() const;
  // Inserts a raw address into the address vector.
  Result<fi_addr_t> Insert(std::string_view raw_address);
  // Whether fi_read from a peer works (the provider offers FI_RMA and FI_READ).
  bool supports_rma_read() const;
  // A descriptor that turns readable when a completion may be waiting, or -1
  // (the provider gave none). Before sleeping on it, read the queue empty and
  // call ReadyToSleep: the provider may owe progress that no descriptor shows.
  int wait_fd() const { return wait_fd_; }
  // fi_trywait on the completion queue: true when sleeping on wait_fd() is safe.
  bool ReadyToSleep() const;

 private:
  FabricEndpoint() = default;
  // Declaration order is destruction order reversed: ep closes first.
  FabricInfo info_;
  FabricObject fabric_;
  FabricDomain domain_;
  FabricAddressVector av_;
  FabricCompletionQueue cq_;
  FabricRdmEndpoint ep_;
  int wait_fd_ = -1;  // owned by cq_
};

}  // namespace overlay::transport

#endif  // OVERLAY_TRANSPORT_FABRIC_H_
