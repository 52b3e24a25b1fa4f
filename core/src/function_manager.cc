// SPDX-License-Identifier: Apache-2.0
#include "overlay/function_manager.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include "manager_data_server.h"
#include "manager_io.h"
#include "manager_task.h"
#include "overlay/endpoint_server.h"
#include "overlay/object_key.h"
#include "overlay/transport/bulk.h"
#include "overlay/transport/poller.h"
#include "overlay/transport/wire.h"

namespace overlay {

using manager::ChannelFor;
using manager::Clock;
using manager::DecodeOutcome;
using manager::InvokeOf;
using manager::kBackoff;
using manager::Pending;

// The calling threads' side of the manager: task ids and futures, Call's
// direct path and FetchOutput; the I/O thread (ManagerIo) does the rest.
class FunctionManager::Impl {
 public:
  Status Init(const FunctionManagerOptions& options) {
    options_ = options;
    transport::ChannelOptions data_channel = options.channel;
    if (!options.curve_server_keys.empty()) {
      if (options_.curve_public_key.empty() || options_.curve_secret_key.empty()) {
        auto pair = transport::NewCurveKeyPair();
        if (!pair.ok()) return pair.status();
        std::tie(options_.curve_public_key, options_.curve_secret_key) = *pair;
      }
      // The endpoints pull with their own keys: only they get in.
      data_channel.curve_secret_key = options_.curve_secret_key;
      std::set<std::string> endpoints;
      for (const auto& [address, key] : options.curve_server_keys) endpoints.insert(key);
      data_channel.curve_client_keys.assign(endpoints.begin(), endpoints.end());
    }
    auto data = manager::DataServer::Create(options.data_address, data_channel, options.store);
    if (!data.ok()) return data.status();
    data_ = std::move(*data);
    auto poller = transport::Poller::Create();
    if (!poller.ok()) return poller.status();
    io_ = std::make_unique<manager::ManagerIo>(options_, data_.get(), std::move(*poller));
    return Status::OK();
  }

  TaskOutcome Call(TaskSpec task) {
    uint64_t id;
    {
      std::lock_guard lock(mu_);
      id = next_id_++;
    }
    if (Status s = CheckCurve(task); !s.ok()) return TaskOutcome{s};
    data_->Grant(manager::PeerKey(options_, task.endpoint), task.inputs);
    bool sent = false;
    if (auto out = CallDirect(id, task, &sent)) {
      data_->Revoke(manager::PeerKey(options_, task.endpoint), task.inputs);
      return std::move(*out);
    }
    Pending p;
    p.spec = std::move(task);
    p.sent = sent ? 1 : 0;
    std::future<TaskOutcome> outcome = p.promise.get_future();
    std::vector<std::pair<uint64_t, Pending>> one;
    one.emplace_back(id, std::move(p));
    io_->Post(std::move(one));
    return outcome.get();
  }

  std::vector<uint64_t> Submit(std::vector<TaskSpec> tasks) {
    std::vector<uint64_t> ids;
    ids.reserve(tasks.size());
    std::vector<std::pair<uint64_t, Pending>> posted;
    posted.reserve(tasks.size());
    {
      std::lock_guard lock(mu_);
      for (auto& t : tasks) {
        uint64_t id = next_id_++;
        ids.push_back(id);
        Pending p;
        futures_.emplace(id, p.promise.get_future().share());
        if (Status s = CheckCurve(t); !s.ok()) {
          p.promise.set_value(TaskOutcome{s});
          continue;
        }
        data_->Grant(manager::PeerKey(options_, t.endpoint), t.inputs);
        p.spec = std::move(t);
        posted.emplace_back(id, std::move(p));
      }
    }
    io_->Post(std::move(posted));
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
      std::unique_ptr<transport::ClientChannel> ch = pool_.Take(endpoint);
      if (!ch) {
        auto c = transport::Connect(endpoint, ChannelFor(options_, endpoint));
        if (!c.ok()) return c.status();
        ch = std::move(*c);
      }
      bytes = transport::FetchObject(*ch, key, bulk);
      if (bytes.ok()) {
        pool_.Return(endpoint, std::move(ch));
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
  const std::string& curve_public_key() const { return options_.curve_public_key; }
  uint64_t duplicates() const { return io_->duplicates(); }
  std::vector<EndpointContact> Contacts() const { return io_->Contacts(); }

 private:
  // A CURVE data server serves only endpoints it knows by key: a plain-text
  // endpoint could not pull the task's inputs.
  Status CheckCurve(const TaskSpec& t) const {
    if (options_.curve_server_keys.empty() || t.inputs.empty() ||
        options_.curve_server_keys.contains(t.endpoint))
      return Status::OK();
    return Status::InvalidArgument(
        "endpoint " + t.endpoint +
        " has no curve_public, but the run's data server uses CURVE (other endpoints have "
        "keys): give every endpoint a key pair, or none");
  }

  // Call's happy path on a pooled channel; nullopt hands the task over. While
  // no result comes, the channel is heartbeated: an endpoint that answers is
  // alive and busy (e.g. the first task of a worker sets up its own channel
  // back to our data server, which takes about a second over fabric:// here),
  // so the call keeps waiting, up to the task's timeout; one that stays silent
  // for heartbeat_timeout is handed over to the I/O thread. A channel is
  // pooled again only once every reply is in, so it never holds a stale one.
  std::optional<TaskOutcome> CallDirect(uint64_t id, const TaskSpec& task, bool* sent) {
    std::unique_ptr<transport::ClientChannel> ch = pool_.Take(task.endpoint);
    if (!ch) {
      auto c = transport::Connect(task.endpoint, ChannelFor(options_, task.endpoint));
      if (!c.ok()) return std::nullopt;
      ch = std::move(*c);
    }
    auto invoke = transport::EncodeInvoke(id, InvokeOf(id, task, data_->address()));
    if (!ch->Send(transport::MakeMessage(std::move(invoke))).ok()) return std::nullopt;
    *sent = true;
    const auto deadline = Clock::now() + (task.timeout.count() > 0 ? task.timeout : options_.timeout);
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
    if (unanswered == 0) pool_.Return(task.endpoint, std::move(ch));
    return std::move(decoded->second);
  }

  FunctionManagerOptions options_;
  manager::ChannelPool pool_;
  std::unique_ptr<manager::DataServer> data_;
  std::unique_ptr<manager::ManagerIo> io_;  // after data_: it serves data_ until destroyed

  std::mutex mu_;  // guards the members below
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_future<TaskOutcome>> futures_;
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
const std::string& FunctionManager::curve_public_key() const {
  return impl_->curve_public_key();
}

Status ApplyCurveConfig(const PipelineSpec& spec, FunctionManagerOptions* options) {
  for (const EndpointDecl& e : spec.endpoints)
    if (!e.address.empty() && !e.curve_public.empty())
      options->curve_server_keys[e.address] = e.curve_public;
  if (spec.client.curve_public.empty()) return Status::OK();
  auto secret = ReadCurveSecret(spec.client.curve_secret_file);
  if (!secret.ok()) return secret.status();
  options->curve_public_key = spec.client.curve_public;
  options->curve_secret_key = std::move(*secret);
  return Status::OK();
}
uint64_t FunctionManager::duplicates_dropped() const { return impl_->duplicates(); }
std::vector<EndpointContact> FunctionManager::Contacts() const { return impl_->Contacts(); }

void FunctionManager::Release(uint64_t task_id) { impl_->Release(task_id); }

std::shared_future<TaskOutcome> FunctionManager::Result(uint64_t task_id) {
  return impl_->Outcome(task_id);
}

}  // namespace overlay
