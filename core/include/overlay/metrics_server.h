// SPDX-License-Identifier: Apache-2.0
// MetricsServer: serves a metrics::Registry in the Prometheus text format at
// GET /metrics over HTTP (civetweb), on the one address it is given
// (ENDPOINT.metrics_address, `overlay run --live --metrics-address`). Every
// other path is 404; it serves no files.
#ifndef OVERLAY_CORE_METRICS_SERVER_H_
#define OVERLAY_CORE_METRICS_SERVER_H_

#include <memory>
#include <string>

#include "overlay/metrics.h"
#include "overlay/status.h"

struct mg_context;

namespace overlay {

// Thread-safety: address() from any thread. Ownership: owns civetweb's
// threads; borrows the registry, which must outlive the server.
class MetricsServer {
 public:
  // Listens on `address`, IPV4:PORT or [IPV6]:PORT (port 0: a free one).
  // Errors: InvalidArgument (malformed address), IOError (cannot listen).
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& address,
                                                      const metrics::Registry* registry);
  // Stops serving and joins civetweb's threads.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The bound address, its port resolved, e.g. "127.0.0.1:40123".
  const std::string& address() const { return address_; }
  // "http://<address>/metrics".
  std::string url() const { return "http://" + address_ + "/metrics"; }

 private:
  MetricsServer() = default;
  mg_context* context_ = nullptr;
  const metrics::Registry* registry_ = nullptr;
  std::string address_;
};

}  // namespace overlay

#endif  // OVERLAY_CORE_METRICS_SERVER_H_
