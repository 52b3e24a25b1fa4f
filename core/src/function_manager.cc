// SPDX-License-Identifier: Apache-2.0
#include "overlay/function_manager.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "overlay/object_key.h"
#include "overlay/transport/bulk.h"
#include "overlay/transport/poller.h"
#include "overlay/transport/wire.h"

namespace overlay {
namespace {

// The channel options for one endpoint: CURVE when it has a key.
transport::ChannelOptions ChannelFor(const FunctionManagerOptions& o, const std::string& endpoint) {
  transport::ChannelOptions c = o.channel;
  if (auto it = o.curve_server_keys.find(endpoint); it != o.curve_server_keys.end())
    c.curve_server_key = it->second;
  return c;
}

using Clock = std::chrono::steady_clock;
using transport::ClientChannel;
using transport::Message;

// Messages taken from one channel per loop turn, so no channel starves the others.
constexpr int kBurst = 64;
// Wait before resending after a failed connect or an Unavailable result.
constexpr std::chrono::milliseconds kBackoff{100};
// Longest nap of the idle I/O thread when some channel cannot be waited on.
constexpr std::chrono::microseconds kMaxNap{1000};
// Longest sleep of the idle I/O thread otherwise (it wakes for any message).
constexpr std::chrono::microseconds kMaxWait{100000};
// Longest time between two looks at deadlines and heartbeats while tasks are
// pending (kMaxWait otherwise).
constexpr std::chrono::milliseconds kCheckInterval{20};

// The Invoke that carries task `id`.
transport::Invoke InvokeOf(uint64_t id, const TaskSpec& t, const std::string& origin) {
  return transport::Invoke{id,       t.stage, t.function,      t.inputs,      {},         origin,
                           t.stream, t.seq,   t.end_of_stream, t.input_names, t.position, t.replay};
}

// The task id and outcome a Result or Error envelope carries; nullopt for
// other messages and for a Result that does not decode.
std::optional<std::pair<uint64_t, TaskOutcome>> DecodeOutcome(const wire::Envelope& env) {
  TaskOutcome outcome;
  if (env.message_type() == wire::Message::Error) {
    outcome.status = transport::DecodeError(env);
    return std::pair{env.request_id(), std::move(outcome)};
  }
  if (env.message_type() != wire::Message::Result) return std::nullopt;
  auto r = transport::DecodeResult(env);
  if (!r.ok()) return std::nullopt;
  outcome.status = r->status;
  outcome.outputs = std::move(r->outputs);
  outcome.output_names = std::move(r->output_names);
  outcome.counters = std::move(r->counters);
  outcome.stream_mismatch = r->stream_mismatch;
  outcome.stream_position = r->stream_position;
  return std::pair{r->task_id, std::move(outcome)};
}

struct Pending {
  TaskSpec spec;
  std::promise<TaskOutcome> promise;
  int attempts = 0;  // counted against options.retries
  int sent = 0;      // Invokes sent, resends of an attempt included
  bool in_flight = false;  // else waiting to be (re)sent at `deadline`
  Clock::time_point deadline;
  Clock::time_point sent_at;  // of the last Invoke
  Clock::time_point first_sent = Clock::time_point::max();  // of the first Invoke
  Status last_error;
};

// One endpoint as the I/O thread sees it.
struct Peer {
  std::unique_ptr<ClientChannel> channel;
  uint64_t incarnation = 0;  // from its last Heartbeat reply; 0: none yet
  uint64_t heartbeats = 0;
  // Until the incarnation is known: when each Heartbeat was sent, by sequence.
  std::map<uint64_t, Clock::time_point> heartbeat_sent;
  Clock::time_point next_heartbeat{};
  // Since when a Heartbeat waits for any message from the endpoint; max(): none.
  Clock::time_point unanswered_since = Clock::time_point::max();
};

}  // namespace

class FunctionManager::Impl {
 public:
  Status Init(const FunctionManagerOptions& options) {
    options_ = options;
    auto server = transport::Listen(options.data_address, options.channel);
    if (!server.ok()) return server.status();
    data_ = std::move(*server);
    auto poller = transport::Poller::Create();
    if (!poller.ok()) return poller.status();
    poller_ = std::move(*poller);
    io_ = std::thread([this] { Loop(); });
    return Status::OK();
  }

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    if (poller_) poller_->Notify();
    if (io_.joinable()) io_.join();
    for (auto& [id, p] : incoming_) pending_.emplace(id, std::move(p));
    for (auto& [id, p] : pending_) {
      TaskOutcome out;
      out.status = Status::Unavailable("function manager shut down");
      out.attempts = p.sent;
      p.promise.set_value(std::move(out));
    }
  }

  TaskOutcome Call(TaskSpec task) {
    uint64_t id;
    {
      std::lock_guard lock(mu_);
      id = next_id_++;
    }
    bool sent = false;
    if (auto out = CallDirect(id, task, &sent)) return std::move(*out);
    Pending p;
    p.spec = std::move(task);
    p.sent = sent ? 1 : 0;
    std::future<TaskOutcome> outcome = p.promise.get_future();
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      wake = incoming_.empty();
      incoming_.emplace_back(id, std::move(p));
    }
    if (wake) poller_->Notify();
    return outcome.get();
  }

  std::vector<uint64_t> Submit(std::vector<TaskSpec> tasks) {
    std::vector<uint64_t> ids;
    ids.reserve(tasks.size());
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      wake = incoming_.empty();  // else a wake-up is already on its way
      for (auto& t : tasks) {
        uint64_t id = next_id_++;
        Pending p;
        p.spec = std::move(t);
        futures_.emplace(id, p.promise.get_future().share());
        incoming_.emplace_back(id, std::move(p));
        ids.push_back(id);
      }
    }
    if (wake) poller_->Notify();
    return ids;
  }

  std::shared_future<TaskOutcome> Outcome(uint64_t id) {
    std::lock_guard lock(mu_);
    auto it = futures_.find(id);
    if (it != futures_.end()) return it->second;
    std::promise<TaskOutcome> p;
    p.set_value(TaskOutcome{Status::NotFound("no task " + std::to_string(id))});
    return p.get_future().share();
  }

  void Release(uint64_t id) {
    std::lock_guard lock(mu_);
    futures_.erase(id);
  }

  // An endpoint that dies during a fetch takes the pending replies with it;
  // the fetch is retried on a fresh channel (the restarted endpoint still has
  // the object in its container) with a heartbeat-sized wait per reply.
  overlay::Result<Blob> FetchOutput(const std::string& endpoint, const std::string& key) {
    transport::BulkOptions bulk;
    bulk.timeout = std::min(options_.timeout, options_.heartbeat_timeout);
    overlay::Result<Blob> bytes = Status::Unavailable("no attempt");
    for (int attempt = 0; attempt <= options_.retries; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(kBackoff);
      std::unique_ptr<ClientChannel> ch = PooledChannel(endpoint);
      if (!ch) {
        auto c = transport::Connect(endpoint, ChannelFor(options_, endpoint));
        if (!c.ok()) return c.status();
        ch = std::move(*c);
      }
      bytes = transport::FetchObject(*ch, key, bulk);
      if (bytes.ok()) {
        ReturnToPool(endpoint, std::move(ch));
        break;
      }
      // The channel is dropped: replies may still be pending on it.
      if (!bytes.status().IsTimeout() && !bytes.status().IsUnavailable()) return bytes.status();
    }
    if (!bytes.ok()) return bytes.status();
    // Content addressing makes the bytes checkable: a bad copy never enters
    // the store. This is their one hash on this node: the store trusts it.
    const std::optional<ObjectKey> want = ObjectKey::FromHex(key);
    if (!want || !(ObjectKey::Of(bytes->view()) == *want))
      return Status::Corruption("output " + key + " from " + endpoint + " does not match its key");
    if (options_.store != nullptr) return options_.store->PutVerified(*want, bytes->view());
    return bytes->WithKey(*want);
  }

  const std::string& data_address() const { return data_->address(); }
  uint64_t duplicates() const { return duplicates_.load(); }

 private:
  // Call's happy path on a pooled channel; nullopt hands the task over. While
  // no result comes, the channel is heartbeated: an endpoint that answers is
  // alive and busy (e.g. the first task of a worker sets up its own channel
  // back to our data server, which takes about a second over fabric:// here),
  // so the call keeps waiting, up to the task's timeout; one that stays silent
  // for heartbeat_timeout is handed over to the I/O thread. A channel is
  // pooled again only once every reply is in, so it never holds a stale one.
  std::optional<TaskOutcome> CallDirect(uint64_t id, const TaskSpec& task, bool* sent) {
    std::unique_ptr<ClientChannel> ch = PooledChannel(task.endpoint);
    if (!ch) {
      auto c = transport::Connect(task.endpoint, ChannelFor(options_, task.endpoint));
      if (!c.ok()) return std::nullopt;
      ch = std::move(*c);
    }
    auto invoke = transport::EncodeInvoke(id, InvokeOf(id, task, data_->address()));
    if (!ch->Send(transport::MakeMessage(std::move(invoke))).ok()) return std::nullopt;
    *sent = true;
    const auto deadline = Clock::now() + Timeout(task);
    auto heard = Clock::now();
    int unanswered = 0;  // heartbeats sent on `ch` whose replies are not in
    uint64_t beats = 0;
    std::optional<std::pair<uint64_t, TaskOutcome>> decoded;
    while (!decoded || unanswered > 0) {
      const auto now = Clock::now();
      if (now >= deadline || now - heard >= options_.heartbeat_timeout) break;
      auto wait = std::min({std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now),
                            options_.heartbeat_interval,
                            std::chrono::duration_cast<std::chrono::milliseconds>(
                                heard + options_.heartbeat_timeout - now)});
      auto reply = ch->Receive(std::max(wait, std::chrono::milliseconds(1)));
      if (!reply.ok()) {
        if (!reply.status().IsTimeout() || decoded) break;
        transport::Heartbeat hb{"function-manager", ++beats, 0, 0};
        if (!ch->Send(transport::MakeMessage(transport::EncodeHeartbeat(0, hb))).ok()) break;
        ++unanswered;
        continue;
      }
      heard = Clock::now();
      const wire::Envelope* env = reply->envelope_view();
      if (env->message_type() == wire::Message::Heartbeat) {
        --unanswered;
        continue;
      }
      decoded = DecodeOutcome(*env);
      if (!decoded || decoded->first != id || decoded->second.status.IsUnavailable())
        return std::nullopt;
    }
    if (!decoded) return std::nullopt;
    decoded->second.attempts = 1;
    // A heartbeat reply still on its way would be a stale reply: drop the channel.
    if (unanswered == 0) ReturnToPool(task.endpoint, std::move(ch));
    return std::move(decoded->second);
  }

  void ReturnToPool(const std::string& endpoint, std::unique_ptr<ClientChannel> ch) {
    std::lock_guard lock(pool_mu_);
    pool_[endpoint].push_back(std::move(ch));
  }

  std::unique_ptr<ClientChannel> PooledChannel(const std::string& endpoint) {
    std::lock_guard lock(pool_mu_);
    auto& idle = pool_[endpoint];
    if (idle.empty()) return nullptr;
    std::unique_ptr<ClientChannel> ch = std::move(idle.back());
    idle.pop_back();
    return ch;
  }

  void Loop() {
    int idle_turns = 0;
    Clock::time_point next_check{}, last_busy{};
    std::vector<ClientChannel*> clients;
    std::vector<transport::ServerChannel*> servers{data_.get()};
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
        auto req = data_->Receive(std::chrono::milliseconds(0));
        if (!req.ok()) break;
        busy = true;
        ServeData(*req);
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

  ClientChannel* Channel(const std::string& endpoint, Status* error) {
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

  void Complete(std::map<uint64_t, Pending>::iterator it, TaskOutcome outcome) {
    outcome.attempts = it->second.sent;
    it->second.promise.set_value(std::move(outcome));
    pending_.erase(it);
  }

  std::chrono::milliseconds Timeout(const TaskSpec& t) const {
    return t.timeout.count() > 0 ? t.timeout : options_.timeout;
  }

  // Sends the task as a new attempt, or fails it when its attempts are spent.
  // `again`: the same attempt once more (its channel was dropped or its endpoint
  // restarted), neither counted nor given a new deadline.
  void Send(std::map<uint64_t, Pending>::iterator it, bool again = false) {
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
    ClientChannel* ch = Channel(p.spec.endpoint, &s);
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
    p.first_sent = std::min(p.first_sent, p.sent_at);
    if (!again || !p.in_flight) p.deadline = p.sent_at + Timeout(p.spec);
    p.in_flight = true;
  }

  void OnReply(const std::string& endpoint, Peer& peer, const Message& m) {
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

  void ServeData(const transport::ServerChannel::Request& req) {
    const wire::Envelope* env = req.message.envelope_view();
    if (env->message_type() != wire::Message::Fetch) {
      (void)data_->Reply(
          req.peer,
          transport::MakeMessage(transport::EncodeError(
              env->request_id(), Status::InvalidArgument("a data server serves Fetch only"))));
      return;
    }
    auto fetch = transport::DecodeFetch(*env);
    overlay::Result<Blob> object = Status::NotFound("no store");
    std::optional<ObjectKey> key;
    if (fetch.ok()) key = ObjectKey::FromHex(fetch->key);
    if (fetch.ok() && !key) object = Status::InvalidArgument("malformed object key");
    if (key && options_.store != nullptr) object = options_.store->Get(*key);
    (void)transport::ServeFetch(*data_, req, object);
  }

  // Sends the tasks in flight to `endpoint` since before `before` again (same
  // task ids, so the endpoint runs each once): their replies will not come.
  void ResendInFlight(const std::string& endpoint, Clock::time_point before) {
    for (auto& [id, p] : pending_)
      if (p.in_flight && p.spec.endpoint == endpoint && p.sent_at < before)
        Send(pending_.find(id), true);
  }

  void SendHeartbeat(Peer& peer, Clock::time_point now) {
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
  Clock::time_point CheckEndpoints() {
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
        Complete(it, std::move(out));
      } else if (p.deadline <= now) {
        if (p.in_flight) p.last_error = Status::Timeout("no result");
        Send(it);
      }
      it = next;
    }
    return wake;
  }

  // The task may give up on its endpoint (TaskSpec::lost_after) and has
  // heard nothing from it for that long since it was first sent.
  bool Lost(const Pending& p, Clock::time_point now) const {
    if (p.spec.lost_after.count() <= 0 || p.first_sent == Clock::time_point::max()) return false;
    auto heard = heard_.find(p.spec.endpoint);
    Clock::time_point since = p.first_sent;
    if (heard != heard_.end()) since = std::max(since, heard->second);
    return now - since >= p.spec.lost_after;
  }

  FunctionManagerOptions options_;
  std::unique_ptr<transport::ServerChannel> data_;
  std::unique_ptr<transport::Poller> poller_;
  std::thread io_;
  std::atomic<uint64_t> duplicates_{0};

  std::mutex mu_;  // guards the members below it up to pool_mu_
  bool stop_ = false;
  uint64_t next_id_ = 1;
  std::vector<std::pair<uint64_t, Pending>> incoming_;
  std::map<uint64_t, std::shared_future<TaskOutcome>> futures_;

  std::mutex pool_mu_;  // idle channels for Call and FetchOutput
  std::map<std::string, std::vector<std::unique_ptr<ClientChannel>>> pool_;

  // I/O thread only.
  std::map<uint64_t, Pending> pending_;
  std::map<std::string, Peer> peers_;
  std::map<std::string, Clock::time_point> heard_;  // last message from each endpoint
};

overlay::Result<std::unique_ptr<FunctionManager>> FunctionManager::Create(
    const FunctionManagerOptions& options) {
  auto impl = std::make_unique<Impl>();
  OVERLAY_RETURN_IF_ERROR(impl->Init(options));
  return std::unique_ptr<FunctionManager>(new FunctionManager(std::move(impl)));
}

FunctionManager::FunctionManager(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FunctionManager::~FunctionManager() = default;

TaskOutcome FunctionManager::Call(TaskSpec task) { return impl_->Call(std::move(task)); }

uint64_t FunctionManager::Submit(TaskSpec task) {
  std::vector<TaskSpec> one;
  one.push_back(std::move(task));
  return impl_->Submit(std::move(one)).front();
}

std::vector<uint64_t> FunctionManager::SubmitBatch(std::vector<TaskSpec> tasks) {
  return impl_->Submit(std::move(tasks));
}

overlay::Result<Blob> FunctionManager::FetchOutput(const std::string& endpoint,
                                                   const std::string& key) {
  return impl_->FetchOutput(endpoint, key);
}

const std::string& FunctionManager::data_address() const { return impl_->data_address(); }
uint64_t FunctionManager::duplicates_dropped() const { return impl_->duplicates(); }

void FunctionManager::Release(uint64_t task_id) { impl_->Release(task_id); }

std::shared_future<TaskOutcome> FunctionManager::Result(uint64_t task_id) {
  return impl_->Outcome(task_id);
}

}  // namespace overlay
