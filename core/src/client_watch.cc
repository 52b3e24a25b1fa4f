// SPDX-License-Identifier: Apache-2.0
#include "client_watch.h"

#include "overlay/event_log.h"

namespace overlay::endpoint {
namespace {

// An idle client silent this long is forgotten: the map stays bounded.
constexpr std::chrono::minutes kForgetAfter{10};

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

void ClientWatch::Heard(const std::string& client) {
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  Client& c = clients_[client];
  if (c.lost) {
    EventLog().info("client {} regained after {:.1f} s of silence", client,
                    Seconds(now - c.heard));
    c.lost = false;
  }
  c.heard = now;
}

void ClientWatch::TaskStarted(const std::string& client) {
  std::lock_guard lock(mu_);
  Client& c = clients_[client];
  if (c.tasks++ == 0 && c.heard == Clock::time_point{}) c.heard = Clock::now();
  ++running_;
}

void ClientWatch::TaskFinished(const std::string& client) {
  std::lock_guard lock(mu_);
  auto it = clients_.find(client);
  if (it != clients_.end() && it->second.tasks > 0) --it->second.tasks;
  if (running_ > 0) --running_;
}

void ClientWatch::Sweep() {
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  for (auto it = clients_.begin(); it != clients_.end();) {
    Client& c = it->second;
    if (c.tasks > 0 && !c.lost && now - c.heard >= lost_after_) {
      c.lost = true;
      EventLog().warn("client {} lost: nothing heard for {:.1f} s while {} of its tasks ran",
                      it->first, Seconds(now - c.heard), c.tasks);
    }
    if (c.tasks == 0 && now - c.heard >= kForgetAfter) it = clients_.erase(it);
    else ++it;
  }
}

size_t ClientWatch::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

void ClientWatch::Collect(metrics::Samples& out) const {
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  out.Gauge("overlay_tasks_running", "Tasks accepted and not yet answered", {{"endpoint", endpoint_}},
            static_cast<double>(running_));
  for (const auto& [client, c] : clients_)
    out.Gauge("overlay_peer_heartbeat_age_seconds", "Seconds since the peer was last heard from",
              {{"peer", client}}, Seconds(now - c.heard));
}

}  // namespace overlay::endpoint
