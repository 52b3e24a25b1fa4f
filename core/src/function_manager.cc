// SPDX-License-Identifier: Apache-2.0
#include "overlay/function_manager.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "overlay/transport/bulk.h"
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
// Longest nap of the idle I/O thread; replies wait at most this long.
constexpr std::chrono::microseconds kMaxNap{1000};

struct Pending {
  TaskSpec spec;
  std::promise<TaskOutcome> promise;
  int attempts = 0;
  bool in_flight = false;  // else waiting to be (re)sent at `deadline`
  Clock::time_point deadline;
  Status last_error;
};

}  // namespace

class FunctionManager::Impl {
 public:
  Status Init(const FunctionManagerOptions& options) {
    options_ = options;
    auto server = transport::Listen(options.data_address, options.channel);
    if (!server.ok()) return server.status();
    data_ = std::move(*server);
    io_ = std::thread([this] { Loop(); });
    return Status::OK();
  }

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    if (io_.joinable()) io_.join();
    for (auto& [id, p] : incoming_) pending_.emplace(id, std::move(p));
    for (auto& [id, p] : pending_)
      p.promise.set_value(
          TaskOutcome{Status::Unavailable("function manager shut down"), {}, {}, {}, p.attempts});
  }

  std::vector<uint64_t> Submit(std::vector<TaskSpec> tasks) {
    std::vector<uint64_t> ids;
    ids.reserve(tasks.size());
    std::lock_guard lock(mu_);
    for (auto& t : tasks) {
      uint64_t id = next_id_++;
      Pending p;
      p.spec = std::move(t);
      futures_.emplace(id, p.promise.get_future().share());
      incoming_.emplace_back(id, std::move(p));
      ids.push_back(id);
    }
    cv_.notify_one();
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

  overlay::Result<Blob> FetchOutput(const std::string& endpoint, const std::string& key) {
    std::unique_ptr<ClientChannel> ch;
    {
      std::lock_guard lock(pool_mu_);
      auto& idle = pool_[endpoint];
      if (!idle.empty()) {
        ch = std::move(idle.back());
        idle.pop_back();
      }
    }
    if (!ch) {
      auto c = transport::Connect(endpoint, ChannelFor(options_, endpoint));
      if (!c.ok()) return c.status();
      ch = std::move(*c);
    }
    transport::BulkOptions bulk;
    bulk.timeout = options_.timeout;
    auto bytes = transport::FetchObject(*ch, key, bulk);
    if (!bytes.ok()) return bytes.status();  // drops the channel: replies may be pending
    {
      std::lock_guard lock(pool_mu_);
      pool_[endpoint].push_back(std::move(ch));
    }
    if (options_.store != nullptr) {
      auto stored = options_.store->Put("", bytes->view());
      if (!stored.ok()) return stored.status();
    }
    return bytes;
  }

  const std::string& data_address() const { return data_->address(); }
  uint64_t duplicates() const { return duplicates_.load(); }

 private:
  void Loop() {
    int idle_turns = 0;
    for (;;) {
      std::vector<std::pair<uint64_t, Pending>> fresh;
      {
        std::unique_lock lock(mu_);
        if (stop_) return;
        if (idle_turns > 0) {
          auto nap = std::min<std::chrono::microseconds>(
              std::chrono::microseconds(25 << std::min(idle_turns, 6)), kMaxNap);
          cv_.wait_for(lock, nap, [&] { return stop_ || !incoming_.empty(); });
          if (stop_) return;
        }
        fresh.swap(incoming_);
      }
      bool busy = !fresh.empty();
      for (auto& [id, p] : fresh) {
        auto [it, inserted] = pending_.emplace(id, std::move(p));
        Send(it);
      }
      for (auto& [address, ch] : channels_) {
        for (int i = 0; i < kBurst; ++i) {
          auto m = ch->Receive(std::chrono::milliseconds(0));
          if (!m.ok()) break;
          busy = true;
          OnReply(*m);
        }
      }
      for (int i = 0; i < kBurst; ++i) {
        auto req = data_->Receive(std::chrono::milliseconds(0));
        if (!req.ok()) break;
        busy = true;
        ServeData(*req);
      }
      CheckDeadlines();
      idle_turns = busy ? 0 : idle_turns + 1;
    }
  }

  ClientChannel* Channel(const std::string& endpoint, Status* error) {
    auto& ch = channels_[endpoint];
    if (!ch) {
      auto c = transport::Connect(endpoint, ChannelFor(options_, endpoint));
      if (!c.ok()) {
        channels_.erase(endpoint);
        *error = c.status();
        return nullptr;
      }
      ch = std::move(*c);
    }
    return ch.get();
  }

  void Complete(std::map<uint64_t, Pending>::iterator it, TaskOutcome outcome) {
    outcome.attempts = it->second.attempts;
    it->second.promise.set_value(std::move(outcome));
    pending_.erase(it);
  }

  std::chrono::milliseconds Timeout(const TaskSpec& t) const {
    return t.timeout.count() > 0 ? t.timeout : options_.timeout;
  }

  // Sends (or resends) the task, or fails it when its attempts are spent.
  void Send(std::map<uint64_t, Pending>::iterator it) {
    Pending& p = it->second;
    if (p.attempts > options_.retries) {
      Status last = p.last_error.ok() ? Status::Timeout("no result") : p.last_error;
      return Complete(
          it, TaskOutcome{last.IsTimeout()
                              ? Status::Timeout("no result from " + p.spec.endpoint + " after " +
                                                std::to_string(p.attempts) + " attempts")
                              : last,
                          {},
                          {},
                          {},
                          0});
    }
    ++p.attempts;
    transport::Invoke inv{
        it->first,        p.spec.stage,  p.spec.function, p.spec.inputs,        {},
        data_->address(), p.spec.stream, p.spec.seq,      p.spec.end_of_stream, p.spec.input_names};
    Status s;
    ClientChannel* ch = Channel(p.spec.endpoint, &s);
    if (ch != nullptr)
      s = ch->Send(transport::MakeMessage(transport::EncodeInvoke(it->first, inv)));
    if (!s.ok()) {
      p.last_error = Status::Unavailable(p.spec.endpoint + ": " + std::string(s.message()));
      p.in_flight = false;
      p.deadline = Clock::now() + std::min(Timeout(p.spec), kBackoff);
      return;
    }
    p.in_flight = true;
    p.deadline = Clock::now() + Timeout(p.spec);
  }

  void OnReply(const Message& m) {
    const wire::Envelope* env = m.envelope_view();
    uint64_t id = env->request_id();
    TaskOutcome outcome;
    if (env->message_type() == wire::Message::Result) {
      auto r = transport::DecodeResult(*env);
      if (!r.ok()) return;
      id = r->task_id;
      outcome = TaskOutcome{r->status, std::move(r->outputs), std::move(r->output_names),
                            std::move(r->counters), 0};
    } else if (env->message_type() == wire::Message::Error) {
      outcome.status = transport::DecodeError(*env);
    } else {
      return;
    }
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
    if (fetch.ok() && options_.store != nullptr) object = options_.store->Get(fetch->key);
    (void)transport::ServeFetch(*data_, req, object);
  }

  // A timed-out endpoint is reconnected and all its tasks in flight resent:
  // their replies would have come on the dropped channel.
  void CheckDeadlines() {
    const auto now = Clock::now();
    std::vector<std::string> lost;
    for (auto& [id, p] : pending_)
      if (p.in_flight && p.deadline <= now) lost.push_back(p.spec.endpoint);
    for (const auto& endpoint : lost) channels_.erase(endpoint);
    for (auto it = pending_.begin(); it != pending_.end();) {
      auto next = std::next(it);
      Pending& p = it->second;
      bool resend = !p.in_flight
                        ? p.deadline <= now
                        : std::find(lost.begin(), lost.end(), p.spec.endpoint) != lost.end();
      if (resend) {
        if (p.in_flight) p.last_error = Status::Timeout("no result");
        Send(it);
      }
      it = next;
    }
  }

  FunctionManagerOptions options_;
  std::unique_ptr<transport::ServerChannel> data_;
  std::thread io_;
  std::atomic<uint64_t> duplicates_{0};

  std::mutex mu_;  // guards the members below it up to pool_mu_
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t next_id_ = 1;
  std::vector<std::pair<uint64_t, Pending>> incoming_;
  std::map<uint64_t, std::shared_future<TaskOutcome>> futures_;

  std::mutex pool_mu_;  // idle channels for FetchOutput
  std::map<std::string, std::vector<std::unique_ptr<ClientChannel>>> pool_;

  // I/O thread only.
  std::map<uint64_t, Pending> pending_;
  std::map<std::string, std::unique_ptr<ClientChannel>> channels_;
};

overlay::Result<std::unique_ptr<FunctionManager>> FunctionManager::Create(
    const FunctionManagerOptions& options) {
  auto impl = std::make_unique<Impl>();
  OVERLAY_RETURN_IF_ERROR(impl->Init(options));
  return std::unique_ptr<FunctionManager>(new FunctionManager(std::move(impl)));
}

FunctionManager::FunctionManager(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FunctionManager::~FunctionManager() = default;

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
