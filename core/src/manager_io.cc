// SPDX-License-Identifier: Apache-2.0
#include "manager_io.h"

#include <algorithm>
#include <set>

namespace overlay::manager {
namespace {

// Messages taken from one channel per loop turn, so no channel starves the others.
constexpr int kBurst = 64;
// Longest nap of the idle I/O thread when some channel cannot be waited on.
constexpr std::chrono::microseconds kMaxNap{1000};
// Longest sleep of the idle I/O thread otherwise (it wakes for any message).
constexpr std::chrono::microseconds kMaxWait{100000};
// Longest time between two looks at deadlines and heartbeats while tasks are
// pending (kMaxWait otherwise).
constexpr std::chrono::milliseconds kCheckInterval{20};

}  // namespace

ManagerIo::ManagerIo(const FunctionManagerOptions& options, DataServer* data,
                     std::unique_ptr<transport::Poller> poller)
    : options_(options), data_(data), poller_(std::move(poller)), thread_([this] { Loop(); }) {}

ManagerIo::~ManagerIo() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  poller_->Notify();
  thread_.join();
  for (auto& [id, p] : incoming_) pending_.emplace(id, std::move(p));
  for (auto& [id, p] : pending_) {
    TaskOutcome out;
    out.status = Status::Unavailable("function manager shut down");
    out.attempts = p.sent;
    p.promise.set_value(std::move(out));
  }
}

void ManagerIo::Post(std::vector<std::pair<uint64_t, Pending>> tasks) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    wake = incoming_.empty();  // else a wake-up is already on its way
    for (auto& t : tasks) incoming_.push_back(std::move(t));
  }
  if (wake) poller_->Notify();
}

void ManagerIo::Loop() {
  int idle_turns = 0;
  Clock::time_point next_check{}, last_busy{};
  std::vector<transport::ClientChannel*> clients;
  std::vector<transport::ServerChannel*> servers{&data_->channel()};
  for (;;) {
    std::vector<std::pair<uint64_t, Pending>> fresh;
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      fresh.swap(incoming_);
    }
    bool busy = !fresh.empty();
    for (auto& [id, p] : fresh) {
      auto [it, inserted] = pending_.emplace(id, std::move(p));
      Send(it);
    }
    for (auto& [address, peer] : peers_) {
      for (int i = 0; i < kBurst && peer.channel; ++i) {
        auto m = peer.channel->Receive(std::chrono::milliseconds(0));
        if (!m.ok()) break;
        busy = true;
        OnReply(address, peer, *m);
      }
    }
    for (int i = 0; i < kBurst; ++i) {
      auto req = data_->channel().Receive(std::chrono::milliseconds(0));
      if (!req.ok()) break;
      busy = true;
      data_->Serve(*req);
    }
    // Deadlines and heartbeats are coarse: scanning every task on every
    // turn would cost O(tasks) per message under a large batch.
    if (Clock::now() >= next_check) next_check = CheckEndpoints();
    idle_turns = busy ? 0 : idle_turns + 1;
    const auto now = Clock::now();
    if (busy) {
      last_busy = now;
      continue;
    }
    clients.clear();
    std::chrono::microseconds spin{0};
    for (auto& [address, peer] : peers_) {
      if (!peer.channel) continue;
      clients.push_back(peer.channel.get());
      spin = std::max(spin, peer.channel->spin());
    }
    if (now - last_busy < spin) continue;  // a hot fabric peer answers without a wake-up
    auto until = std::chrono::duration_cast<std::chrono::microseconds>(next_check - now);
    auto nap = std::min<std::chrono::microseconds>(
        std::chrono::microseconds(25 << std::min(idle_turns, 6)), kMaxNap);
    poller_->Wait(clients, servers,
                  std::clamp(until, std::chrono::microseconds(0), kMaxWait), nap);
  }
}

transport::ClientChannel* ManagerIo::Channel(const std::string& endpoint, Status* error) {
  Peer& peer = peers_[endpoint];
  if (!peer.channel) {
    auto c = transport::Connect(endpoint, ChannelFor(options_, endpoint));
    if (!c.ok()) {
      peers_.erase(endpoint);
      *error = c.status();
      return nullptr;
    }
    peer = Peer{};
    peer.channel = std::move(*c);
    // Ahead of any Invoke, so its reply names the process that gets them.
    SendHeartbeat(peer, Clock::now());
  }
  return peer.channel.get();
}

void ManagerIo::Complete(PendingIt it, TaskOutcome outcome) {
  data_->Revoke(PeerKey(options_, it->second.spec.endpoint), it->second.spec.inputs);
  outcome.attempts = it->second.sent;
  it->second.promise.set_value(std::move(outcome));
  pending_.erase(it);
}

std::chrono::milliseconds ManagerIo::Timeout(const TaskSpec& t) const {
  return t.timeout.count() > 0 ? t.timeout : options_.timeout;
}

// Sends the task as a new attempt, or fails it when its attempts are spent.
// `again`: the same attempt once more (its channel was dropped or its endpoint
// restarted), neither counted nor given a new deadline.
void ManagerIo::Send(PendingIt it, bool again) {
  Pending& p = it->second;
  if (!again && p.attempts > options_.retries) {
    Status last = p.last_error.ok() ? Status::Timeout("no result") : p.last_error;
    TaskOutcome out;
    out.status = last.IsTimeout() ? Status::Timeout("no result from " + p.spec.endpoint +
                                                    " after " + std::to_string(p.attempts) +
                                                    " attempts")
                                  : last;
    return Complete(it, std::move(out));
  }
  if (!again) ++p.attempts;
  Status s;
  transport::ClientChannel* ch = Channel(p.spec.endpoint, &s);
  // A malformed address stays malformed: no retry.
  if (s.IsInvalidArgument()) return Complete(it, TaskOutcome{s});
  if (ch != nullptr) {
    s = ch->Send(transport::MakeMessage(
        transport::EncodeInvoke(it->first, InvokeOf(it->first, p.spec, data_->address()))));
  }
  if (!s.ok()) {
    p.last_error = Status::Unavailable(p.spec.endpoint + ": " + std::string(s.message()));
    p.in_flight = false;
    p.deadline = Clock::now() + std::min(Timeout(p.spec), kBackoff);
    return;
  }
  ++p.sent;
  p.sent_at = Clock::now();
  first_sent_.try_emplace(p.spec.endpoint, p.sent_at);
  p.first_sent = std::min(p.first_sent, p.sent_at);
  if (!again || !p.in_flight) p.deadline = p.sent_at + Timeout(p.spec);
  p.in_flight = true;
}

void ManagerIo::OnReply(const std::string& endpoint, Peer& peer, const transport::Message& m) {
  peer.unanswered_since = Clock::time_point::max();
  heard_[endpoint] = Clock::now();
  const wire::Envelope* env = m.envelope_view();
  if (env->message_type() == wire::Message::Heartbeat) {
    auto hb = transport::DecodeHeartbeat(*env);
    if (!hb.ok()) return;
    if (peer.incarnation == 0) {
      // Tasks sent before this heartbeat may have gone to an earlier
      // process of the endpoint that died before answering any heartbeat.
      auto asked = peer.heartbeat_sent.find(hb->sequence);
      Clock::time_point before =
          asked == peer.heartbeat_sent.end() ? Clock::time_point::max() : asked->second;
      peer.heartbeat_sent.clear();
      peer.incarnation = hb->incarnation;
      ResendInFlight(endpoint, before);
    } else if (hb->incarnation != peer.incarnation) {
      peer.incarnation = hb->incarnation;
      ResendInFlight(endpoint, Clock::time_point::max());
    }
    return;
  }
  auto decoded = DecodeOutcome(*env);
  if (!decoded) return;
  auto& [id, outcome] = *decoded;
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    duplicates_.fetch_add(1);
    return;
  }
  if (outcome.status.IsUnavailable() && it->second.attempts <= options_.retries) {
    it->second.last_error = outcome.status;
    it->second.in_flight = false;
    it->second.deadline = Clock::now() + kBackoff;
    return;
  }
  Complete(it, std::move(outcome));
}

// Sends the tasks in flight to `endpoint` since before `before` again (same
// task ids, so the endpoint runs each once): their replies will not come.
void ManagerIo::ResendInFlight(const std::string& endpoint, Clock::time_point before) {
  for (auto& [id, p] : pending_)
    if (p.in_flight && p.spec.endpoint == endpoint && p.sent_at < before)
      Send(pending_.find(id), true);
}

void ManagerIo::SendHeartbeat(Peer& peer, Clock::time_point now) {
  transport::Heartbeat hb{"function-manager", ++peer.heartbeats, 0, 0};
  if (peer.channel->Send(transport::MakeMessage(transport::EncodeHeartbeat(0, hb))).ok()) {
    if (peer.incarnation == 0) peer.heartbeat_sent[hb.sequence] = now;
    if (peer.unanswered_since == Clock::time_point::max()) peer.unanswered_since = now;
  }
  peer.next_heartbeat = now + options_.heartbeat_interval;
}

// Heartbeats endpoints with tasks in flight and sends what is due. An
// endpoint whose heartbeat goes unanswered is reconnected and its tasks in
// flight sent again (a reconnected ZeroMQ peer's replies would be lost); a
// task whose attempt timed out is sent as a new attempt. Returns when the
// loop must next look at the clock.
Clock::time_point ManagerIo::CheckEndpoints() {
  const auto now = Clock::now();
  Clock::time_point wake = now + (pending_.empty() ? kMaxWait : kCheckInterval);
  std::set<std::string> busy;  // endpoints with tasks in flight
  for (auto& [id, p] : pending_) {
    wake = std::min(wake, p.deadline);
    if (p.in_flight) busy.insert(p.spec.endpoint);
  }
  for (const std::string& endpoint : busy) {
    auto pit = peers_.find(endpoint);
    if (pit == peers_.end() || !pit->second.channel) continue;
    Peer& peer = pit->second;
    if (peer.unanswered_since != Clock::time_point::max() &&
        now - peer.unanswered_since >= options_.heartbeat_timeout) {
      peers_.erase(pit);
      ResendInFlight(endpoint, Clock::time_point::max());
      continue;
    }
    if (peer.next_heartbeat <= now) SendHeartbeat(peer, now);
    wake = std::min(wake, peer.next_heartbeat);
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto next = std::next(it);
    Pending& p = it->second;
    if (Lost(p, now)) {
      TaskOutcome out;
      out.status = Status::Unavailable(
          p.spec.endpoint + " is lost: nothing heard from it for " +
          std::to_string(p.spec.lost_after.count()) + " ms");
      out.lost = true;
      Complete(it, std::move(out));
    } else if (p.deadline <= now) {
      if (p.in_flight) p.last_error = Status::Timeout("no result");
      Send(it);
    }
    it = next;
  }
  PublishContacts(now, busy);
  return wake;
}

void ManagerIo::PublishContacts(Clock::time_point now, const std::set<std::string>& busy) {
  std::vector<EndpointContact> contacts;
  for (const auto& [endpoint, first] : first_sent_) {
    auto heard = heard_.find(endpoint);
    const Clock::time_point since = heard != heard_.end() ? heard->second : first;
    contacts.push_back(EndpointContact{
        endpoint, std::chrono::duration_cast<std::chrono::milliseconds>(now - since),
        busy.contains(endpoint), heard != heard_.end()});
  }
  std::lock_guard lock(contacts_mu_);
  contacts_ = std::move(contacts);
  contacts_at_ = now;
}

std::vector<EndpointContact> ManagerIo::Contacts() const {
  std::lock_guard lock(contacts_mu_);
  std::vector<EndpointContact> out = contacts_;
  // Silence grows between snapshots too (the I/O thread sleeps when idle).
  const auto stale = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - contacts_at_);
  for (EndpointContact& c : out) c.silent += stale;
  return out;
}

// The task may give up on its endpoint (TaskSpec::lost_after) and has
// heard nothing from it for that long since it was first sent.
bool ManagerIo::Lost(const Pending& p, Clock::time_point now) const {
  if (p.spec.lost_after.count() <= 0 || p.first_sent == Clock::time_point::max()) return false;
  auto heard = heard_.find(p.spec.endpoint);
  Clock::time_point since = p.first_sent;
  if (heard != heard_.end()) since = std::max(since, heard->second);
  return now - since >= p.spec.lost_after;
}

}  // namespace overlay::manager
