// SPDX-License-Identifier: Apache-2.0
#include "overlay/metrics_server.h"

#include <civetweb.h>

#include <cstring>
#include <mutex>

namespace overlay {
namespace {

// civetweb's error while mg_start runs (its log callback has no user data
// until the context exists).
thread_local std::string* start_error = nullptr;

int LogMessage(const mg_connection*, const char* message) {
  if (start_error != nullptr) *start_error = message;
  return 1;  // handled: civetweb prints nothing
}

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address,
                                                            const metrics::Registry* registry) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
    return Status::InvalidArgument("metrics address '" + address + "' is not HOST:PORT");
  static std::once_flag init;
  std::call_once(init, [] { mg_init_library(0); });
  // Two threads: a scrape is one small response; civetweb refuses fewer.
  const char* options[] = {"listening_ports", address.c_str(), "num_threads", "2",
                           "request_timeout_ms", "10000", nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = LogMessage;
  std::string error;
  start_error = &error;
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->registry_ = registry;
  server->context_ = mg_start(&callbacks, server.get(), options);
  start_error = nullptr;
  if (server->context_ == nullptr)
    return Status::IOError("cannot serve metrics on " + address +
                           (error.empty() ? std::string() : ": " + error));
  mg_set_request_handler(
      server->context_, "/metrics$",
      [](mg_connection* conn, void* data) -> int {
        const auto* self = static_cast<const MetricsServer*>(data);
        const std::string body = self->registry_->Expose();
        mg_send_http_ok(conn, "text/plain; version=0.0.4; charset=utf-8",
                        static_cast<long long>(body.size()));
        mg_write(conn, body.data(), body.size());
        return 200;
      },
      server.get());
  mg_server_port port{};
  if (mg_get_server_ports(server->context_, 1, &port) != 1)
    return Status::IOError("metrics server on " + address + " has no port");
  server->address_ = address.substr(0, colon + 1) + std::to_string(port.port);
  return server;
}

MetricsServer::~MetricsServer() {
  if (context_ != nullptr) mg_stop(context_);
}

}  // namespace overlay
