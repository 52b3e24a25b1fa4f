// SPDX-License-Identifier: Apache-2.0
// The function manager's I/O thread: sends submitted tasks (and tasks Call
// handed over), matches Results to them, heartbeats endpoints with tasks in
// flight, resends what an endpoint lost, fails what ran out of attempts, and
// serves the data server between turns.
#ifndef OVERLAY_CORE_SRC_MANAGER_IO_H_
#define OVERLAY_CORE_SRC_MANAGER_IO_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "manager_data_server.h"
#include "manager_task.h"
#include "overlay/transport/poller.h"

namespace overlay::manager {

// Thread-safety: Post and duplicates() from any thread; the rest is the I/O
// thread's. Ownership: owns the thread, its channels to endpoints and the
// poller; borrows the data server, which must outlive it.
class ManagerIo {
 public:
  // Starts the I/O thread.
  ManagerIo(const FunctionManagerOptions& options, DataServer* data,
            std::unique_ptr<transport::Poller> poller);
  // Stops the thread; tasks still pending complete with Unavailable.
  ~ManagerIo();

  // Hands tasks (id, state) to the I/O thread.
  void Post(std::vector<std::pair<uint64_t, Pending>> tasks);
  // Late Results dropped because their task had already completed.
  uint64_t duplicates() const { return duplicates_.load(); }
  // As FunctionManager::Contacts.
  std::vector<EndpointContact> Contacts() const;

 private:
  // One endpoint as the I/O thread sees it.
  struct Peer {
    std::unique_ptr<transport::ClientChannel> channel;
    uint64_t incarnation = 0;  // from its last Heartbeat reply; 0: none yet
    uint64_t heartbeats = 0;
    // Until the incarnation is known: when each Heartbeat was sent, by sequence.
    std::map<uint64_t, Clock::time_point> heartbeat_sent;
    Clock::time_point next_heartbeat{};
    // Since when a Heartbeat waits for any message from the endpoint; max(): none.
    Clock::time_point unanswered_since = Clock::time_point::max();
  };
  using PendingIt = std::map<uint64_t, Pending>::iterator;

  void Loop();
  transport::ClientChannel* Channel(const std::string& endpoint, Status* error);
  void Complete(PendingIt it, TaskOutcome outcome);
  std::chrono::milliseconds Timeout(const TaskSpec& t) const;
  void Send(PendingIt it, bool again = false);
  void OnReply(const std::string& endpoint, Peer& peer, const transport::Message& m);
  void ResendInFlight(const std::string& endpoint, Clock::time_point before);
  void SendHeartbeat(Peer& peer, Clock::time_point now);
  Clock::time_point CheckEndpoints();
  bool Lost(const Pending& p, Clock::time_point now) const;

  const FunctionManagerOptions options_;
  DataServer* const data_;
  std::unique_ptr<transport::Poller> poller_;
  std::atomic<uint64_t> duplicates_{0};

  std::mutex mu_;  // guards stop_ and incoming_
  bool stop_ = false;
  std::vector<std::pair<uint64_t, Pending>> incoming_;

  // I/O thread only.
  std::map<uint64_t, Pending> pending_;
  std::map<std::string, Peer> peers_;
  std::map<std::string, Clock::time_point> heard_;  // last message from each endpoint
  // Endpoints' first Invoke (for those never heard) and the Contacts snapshot.
  std::map<std::string, Clock::time_point> first_sent_;
  mutable std::mutex contacts_mu_;
  std::vector<EndpointContact> contacts_;  // guarded by contacts_mu_
  Clock::time_point contacts_at_;          // guarded by contacts_mu_
  void PublishContacts(Clock::time_point now, const std::set<std::string>& busy);

  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace overlay::manager

#endif  // OVERLAY_CORE_SRC_MANAGER_IO_H_
