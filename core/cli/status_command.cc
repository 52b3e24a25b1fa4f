// SPDX-License-Identifier: Apache-2.0
// `overlay status CFG [--json]` (cluster_commands.h): one status Heartbeat
// per endpoint; an endpoint that does not answer in time is down.
#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "cluster_commands.h"
#include "endpoint_probe.h"

namespace overlay {
namespace {

constexpr auto kStatusTimeout = std::chrono::milliseconds(2000);
constexpr const char* kTiers[] = {"L1", "L2", "L3"};

double Ratio(uint64_t hits, uint64_t misses) {
  return hits + misses == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(hits + misses);
}

std::string Host(const EndpointDecl& e) {
  const std::string kind = e.launch.Effective();
  return kind == "ssh" ? e.launch.host : kind;
}

nlohmann::json Describe(const EndpointDecl& e, const Result<transport::Heartbeat>& hb) {
  nlohmann::json j{{"name", e.name},
                   {"launcher", e.launch.Effective()},
                   {"host", Host(e)},
                   {"address", e.address},
                   {"up", hb.ok()}};
  if (!hb.ok()) {
    j["error"] = std::string(hb.status().message());
    return j;
  }
  j["incarnation"] = fmt::format("{:016x}", hb->incarnation);
  if (!hb->status) return j;  // an endpoint from before status replies
  const transport::EndpointStatus& st = *hb->status;
  const double uptime = st.started_ns == 0 || hb->timestamp_ns < st.started_ns
                            ? 0.0
                            : static_cast<double>(hb->timestamp_ns - st.started_ns) / 1e9;
  j["uptime_s"] = uptime;
  j["tasks"] = {{"running", st.tasks_running}, {"done", st.tasks_done}, {"failed", st.tasks_failed}};
  j["queue_depth"] = st.queue_depth;
  j["l1_live_bytes"] = st.l1_live_bytes;
  j["l1_capacity_bytes"] = st.l1_capacity_bytes;
  for (size_t i = 0; i < 3; ++i)
    j["tiers"][kTiers[i]] = {{"hits", st.tier_hits[i]},
                             {"misses", st.tier_misses[i]},
                             {"hit_ratio", Ratio(st.tier_hits[i], st.tier_misses[i])},
                             {"bytes_read", st.tier_bytes[i]}};
  j["l2_bytes"] = st.l2_bytes;
  j["transports"] = nlohmann::json::object();
  for (const transport::Traffic& t : st.transports)
    j["transports"][t.transport] = {{"sent_bytes", t.sent_bytes},
                                    {"received_bytes", t.received_bytes}};
  return j;
}

void PrintTable(const nlohmann::json& endpoints) {
  fmt::print("{:<16} {:<5} {:<18} {:<24} {:<16} {:>8} {:>14} {:>5} {:>11} {:>11} {:<14} {}\n",
             "ENDPOINT", "STATE", "HOST", "ADDRESS", "INCARNATION", "UPTIME", "RUN/DONE/FAIL",
             "QUEUE", "L1 BYTES", "L2 BYTES", "HIT L1/L2/L3", "SENT/RECEIVED BYTES");
  for (const auto& j : endpoints) {
    if (!j["up"].get<bool>()) {
      fmt::print("{:<16} {:<5} {:<18} {:<24} {}\n", j["name"].get<std::string>(), "DOWN",
                 j["host"].get<std::string>(), j["address"].get<std::string>(),
                 j["error"].get<std::string>());
      continue;
    }
    if (!j.contains("tasks")) {
      fmt::print("{:<16} {:<5} {:<18} {:<24} {:<16}\n", j["name"].get<std::string>(), "up",
                 j["host"].get<std::string>(), j["address"].get<std::string>(),
                 j["incarnation"].get<std::string>());
      continue;
    }
    const auto& t = j["tasks"];
    std::string ratios;
    for (const char* tier : kTiers)
      ratios += fmt::format("{}{:.0f}%", ratios.empty() ? "" : "/",
                            100 * j["tiers"][tier]["hit_ratio"].get<double>());
    // Only the transports that moved anything, e.g. "zeromq 5120/2048".
    std::string moved;
    for (const auto& [name, bytes] : j["transports"].items()) {
      const auto sent = bytes["sent_bytes"].get<uint64_t>();
      const auto received = bytes["received_bytes"].get<uint64_t>();
      if (sent + received > 0)
        moved += fmt::format("{}{} {}/{}", moved.empty() ? "" : ", ", name, sent, received);
    }
    fmt::print("{:<16} {:<5} {:<18} {:<24} {:<16} {:>7.0f}s {:>14} {:>5} {:>11} {:>11} {:<14} {}\n",
               j["name"].get<std::string>(), "up", j["host"].get<std::string>(),
               j["address"].get<std::string>(), j["incarnation"].get<std::string>(),
               j["uptime_s"].get<double>(),
               fmt::format("{}/{}/{}", t["running"].get<uint64_t>(), t["done"].get<uint64_t>(),
                           t["failed"].get<uint64_t>()),
               j["queue_depth"].get<uint64_t>(), j["l1_live_bytes"].get<uint64_t>(),
               j["l2_bytes"].get<uint64_t>(), ratios, moved.empty() ? "-" : moved);
  }
}

}  // namespace

int RunStatus(const std::string& config, bool json) {
  auto spec = LoadConfig(config);
  if (!spec.ok()) {
    fmt::print(stderr, "{}\n", spec.status().message());
    return 2;
  }
  nlohmann::json endpoints = nlohmann::json::array();
  bool all_up = true;
  for (const EndpointDecl* e : ManagedEndpoints(*spec)) {
    auto hb = ProbeEndpoint(*spec, *e, kStatusTimeout, /*want_status=*/true);
    all_up = all_up && hb.ok();
    endpoints.push_back(Describe(*e, hb));
  }
  if (json) {
    fmt::print("{}\n", nlohmann::json{{"config", config}, {"all_up", all_up},
                                      {"endpoints", endpoints}}
                           .dump(2));
  } else {
    PrintTable(endpoints);
  }
  return all_up ? 0 : 1;
}

}  // namespace overlay
