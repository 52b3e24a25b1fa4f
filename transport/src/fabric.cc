// SPDX-License-Identifier: Apache-2.0
#include "overlay/transport/fabric.h"

#include <rdma/fi_cm.h>
#include <rdma/fi_errno.h>

#include <cstring>

namespace overlay::transport {
namespace {

constexpr uint32_t kFabricVersion = FI_VERSION(1, 17);

Status FiError(std::string_view what, int rc) {
  return Status::IOError(std::string(what) + ": " + fi_strerror(-rc));
}

}  // namespace

const char* ProviderName(FabricProvider provider) {
  return provider == FabricProvider::kShm ? "shm" : "tcp;ofi_rxm";
}

Result<FabricInfo> GetFabricInfo(FabricProvider provider, const char* node, const char* service,
                                 bool source) {
  int rc = -FI_ENODATA;
  fi_info* info = nullptr;
  // Ask for RMA reads (bulk transfer) first, then settle for tagged messages.
  for (uint64_t caps :
       {FI_TAGGED | FI_MSG | FI_RMA | FI_READ | FI_REMOTE_READ, FI_TAGGED | FI_MSG}) {
    FabricInfo hints(fi_allocinfo());
    if (!hints) return Status::IOError("fi_allocinfo failed");
    hints->ep_attr->type = FI_EP_RDM;
    hints->caps = caps;
    hints->mode = FI_CONTEXT | FI_CONTEXT2;
    // No FI_MR_LOCAL: sends and receives need no registration, only RMA targets do.
    hints->domain_attr->mr_mode = FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY;
    hints->domain_attr->threading = FI_THREAD_DOMAIN;
    hints->fabric_attr->prov_name = strdup(ProviderName(provider));
    if (provider == FabricProvider::kShm) hints->addr_format = FI_ADDR_STR;
    rc = fi_getinfo(kFabricVersion, node, service, source ? FI_SOURCE : 0, hints.get(), &info);
    if (rc == 0) return FabricInfo(info);
  }
  if (rc == -FI_ENODATA || rc == -FI_ENOSYS) {
    return Status::Unavailable(std::string("libfabric provider '") + ProviderName(provider) +
                               "' is not available for RDM tagged messages at " +
                               (node ? node : "") + ":" + (service ? service : "") +
                               " (see fi_info -p '" + ProviderName(provider) + "')");
  }
  return FiError("fi_getinfo", rc);
}

Result<FabricObject> OpenFabric(const fi_info& info) {
  fid_fabric* f = nullptr;
  int rc = fi_fabric(info.fabric_attr, &f, nullptr);
  if (rc != 0) return FiError("fi_fabric", rc);
  return FabricObject(f);
}

Result<FabricDomain> OpenDomain(const FabricObject& fabric, fi_info& info) {
  fid_domain* d = nullptr;
  int rc = fi_domain(fabric.get(), &info, &d, nullptr);
  if (rc != 0) return FiError("fi_domain", rc);
  return FabricDomain(d);
}

Result<FabricAddressVector> OpenAddressVector(const FabricDomain& domain) {
  fi_av_attr attr{};
  attr.type = FI_AV_MAP;
  fid_av* av = nullptr;
  int rc = fi_av_open(domain.get(), &attr, &av, nullptr);
  if (rc != 0) return FiError("fi_av_open", rc);
  return FabricAddressVector(av);
}

Result<FabricCompletionQueue> OpenCompletionQueue(const FabricDomain& domain, size_t size,
                                                  bool wait_fd) {
  fi_cq_attr attr{};
  attr.format = FI_CQ_FORMAT_TAGGED;
  attr.size = size;
  attr.wait_obj = wait_fd ? FI_WAIT_FD : FI_WAIT_NONE;
  fid_cq* cq = nullptr;
  int rc = fi_cq_open(domain.get(), &attr, &cq, nullptr);
  if (rc != 0) return FiError("fi_cq_open", rc);
  return FabricCompletionQueue(cq);
}

int WaitDescriptor(const FabricCompletionQueue& cq) {
  int fd = -1;
  if (!cq || fi_control(&cq.get()->fid, FI_GETWAIT, &fd) != 0) return -1;
  return fd;
}

Result<FabricRdmEndpoint> OpenEndpoint(const FabricDomain& domain, fi_info& info,
                                       const FabricAddressVector& av,
                                       const FabricCompletionQueue& cq) {
  fid_ep* raw = nullptr;
  int rc = fi_endpoint(domain.get(), &info, &raw, nullptr);
  if (rc != 0) return FiError("fi_endpoint", rc);
  FabricRdmEndpoint ep(raw);
  if ((rc = fi_ep_bind(raw, &av.get()->fid, 0)) != 0) return FiError("fi_ep_bind av", rc);
  if ((rc = fi_ep_bind(raw, &cq.get()->fid, FI_TRANSMIT | FI_RECV)) != 0) {
    return FiError("fi_ep_bind cq", rc);
  }
  if ((rc = fi_enable(raw)) != 0) return FiError("fi_enable", rc);
  return ep;
}

Result<FabricMemoryRegion> RegisterMemory(const FabricDomain& domain, const void* buf, size_t len,
                                          uint64_t access, uint64_t key) {
  fid_mr* mr = nullptr;
  int rc = fi_mr_reg(domain.get(), buf, len, access, 0, key, 0, &mr, nullptr);
  if (rc != 0) return FiError("fi_mr_reg", rc);
  return FabricMemoryRegion(mr);
}

Result<FabricEndpoint> FabricEndpoint::Open(FabricProvider provider, const std::string& node,
                                            const std::string& service, bool source) {
  FabricEndpoint e;
  auto info = GetFabricInfo(provider, node.empty() ? nullptr : node.c_str(),
                            service.empty() ? nullptr : service.c_str(), source);
  if (!info.ok()) return info.status();
  e.info_ = std::move(info).value();
  auto fabric = OpenFabric(*e.info_);
  if (!fabric.ok()) return fabric.status();
  e.fabric_ = std::move(fabric).value();
  auto domain = OpenDomain(e.fabric_, *e.info_);
  if (!domain.ok()) return domain.status();
  e.domain_ = std::move(domain).value();
  auto av = OpenAddressVector(e.domain_);
  if (!av.ok()) return av.status();
  e.av_ = std::move(av).value();
  // A wait descriptor lets a Poller sleep on the channel. Only tcp;ofi_rxm is
  // known to signal it for every arrival (tests/transport/poller_test.cc); a
  // queue without one is read by polling.
  auto cq = provider == FabricProvider::kTcpRxm ? OpenCompletionQueue(e.domain_, 1024, true)
                                                : OpenCompletionQueue(e.domain_, 1024);
  if (!cq.ok()) cq = OpenCompletionQueue(e.domain_, 1024);
  if (!cq.ok()) return cq.status();
  e.cq_ = std::move(cq).value();
  e.wait_fd_ = WaitDescriptor(e.cq_);
  auto ep = OpenEndpoint(e.domain_, *e.info_, e.av_, e.cq_);
  if (!ep.ok()) return ep.status();
  e.ep_ = std::move(ep).value();
  return e;
}

Result<std::string> FabricEndpoint::name() const {
  std::string buf(256, '\0');
  size_t len = buf.size();
  int rc = fi_getname(&ep_.get()->fid, buf.data(), &len);
  if (rc != 0) return FiError("fi_getname", rc);
  buf.resize(len);
  return buf;
}

std::string FabricEndpoint::peer_address() const {
  if (info_->dest_addr == nullptr) return {};
  return std::string(static_cast<const char*>(info_->dest_addr), info_->dest_addrlen);
}

Result<fi_addr_t> FabricEndpoint::Insert(std::string_view raw_address) {
  fi_addr_t addr = FI_ADDR_UNSPEC;
  int n = fi_av_insert(av_.get(), raw_address.data(), 1, &addr, 0, nullptr);
  if (n != 1) return Status::IOError("fi_av_insert failed for a peer address");
  return addr;
}

bool FabricEndpoint::supports_rma_read() const {
  return (info_->caps & (FI_RMA | FI_READ)) == (FI_RMA | FI_READ);
}

bool FabricEndpoint::ReadyToSleep() const {
  fid* cq = &cq_.get()->fid;
  return fi_trywait(fabric_.get(), &cq, 1) == FI_SUCCESS;
}

}  // namespace overlay::transport
