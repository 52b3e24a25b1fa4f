// SPDX-License-Identifier: Apache-2.0
#include "overlay/endpoint_server.h"

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "overlay/executor.h"
#include "overlay/function.h"
#include "overlay/storage/container_store.h"
#include "overlay/storage/data_container.h"
#include "overlay/storage/shm_cache.h"
#include "overlay/transport/bulk.h"
#include "overlay/transport/poller.h"
#include "overlay/transport/wire.h"

namespace overlay {
namespace {

using transport::Message;
using transport::ServerChannel;

// Results remembered for answering repeated Invokes.
constexpr size_t kRememberedResults = 4096;
// Requests taken per loop turn before finished replies are sent.
constexpr int kBurst = 64;
// Largest input total of a task run on the channel thread (see InlineInputs).
constexpr size_t kInlineInputBytes = 64 << 10;
// Longest sleep of the idle channel thread; workers and Stop wake it sooner.
constexpr std::chrono::microseconds kMaxWait{100000};
// Its nap when the channel cannot be waited on (fabric://).
constexpr std::chrono::microseconds kNap{200};

// The endpoint name with characters unsafe in segment and file names replaced.
std::string SafeName(std::string_view endpoint) {
  std::string s;
  for (char c : endpoint)
    s += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '_';
  return s;
}

// One stream of a function; its mutex keeps the stream's items one at a time.
// `position` counts the items the state has seen (stateful functions only).
struct StreamEntry {
  std::mutex mu;
  std::unique_ptr<StreamState> state;
  uint64_t position = 0;
};

// A task across resends: its requester (an interned origin, compared by
// address) and the requester's task id.
struct TaskKey {
  const std::string* origin;
  uint64_t id;
  bool operator==(const TaskKey&) const = default;
};
struct TaskKeyHash {
  size_t operator()(const TaskKey& k) const noexcept {
    return std::hash<uint64_t>{}(k.id ^ reinterpret_cast<uintptr_t>(k.origin) * 0x9e3779b97f4a7c15);
  }
};

// An Invoke seen before: running (reply to the latest asker when done) or done.
struct TaskEntry {
  bool done = false;
  transport::InvokeResult result;
  std::string peer;
  uint64_t request_id = 0;
};

struct Job {
  transport::Invoke invoke;
  TaskKey task_key;
};

}  // namespace

// The secret key alone in its file, surrounding white space ignored.
Result<std::string> ReadCurveSecret(const std::string& path) {
  std::ifstream in(path);
  std::string key;
  if (!(in >> key)) return Status::IOError("cannot read curve_secret_file '" + path + "'");
  return key;
}

class EndpointServer::Impl {
 public:
  Status Init(const PipelineSpec& spec, std::string_view endpoint,
              const EndpointServerOptions& options) {
    const EndpointDecl* ep = spec.FindEndpoint(endpoint);
    if (ep == nullptr) return Status::NotFound("no ENDPOINT named '" + std::string(endpoint) + "'");
    name_ = ep->name;
    options_ = options;
    tasks_.reserve(2 * kRememberedResults);  // no rehash while results come and go
    incarnation_ = std::random_device{}() | uint64_t{std::random_device{}()} << 32;
    std::string address = options.address.empty() ? ep->address : options.address;
    if (address.empty())
      return Status::InvalidArgument("ENDPOINT '" + name_ + "' has no address to listen on");
    StorageOptions storage = spec.storage.options;
    if (!spec.storage.values.contains("segment")) storage.segment = "overlay-" + SafeName(name_);
    // RocksDB locks its directory, and one config serves every node.
    if (!storage.disk.empty() && storage.disk != kNoDisk) storage.disk += "-" + SafeName(name_);
    auto container = storage::DataContainer::Open(storage);
    if (!container.ok()) return container.status();
    container_ = std::move(*container);
    // Outputs are kept: the client pulls them after the task.
    store_ = std::make_unique<storage::ContainerStore>(container_.get(), /*transient=*/false);
    for (const FunctionDecl& f : spec.functions) {
      auto fn = MakeDeclaredFunction(f);
      if (!fn.ok()) return fn.status();
      functions_[f.name] = std::move(*fn);
      if (!f.builtin.empty()) native_.insert(f.name);
    }
    transport::ChannelOptions channel = options.channel;
    if (!ep->curve_secret_file.empty() && channel.curve_secret_key.empty()) {
      auto secret = ReadCurveSecret(ep->curve_secret_file);
      if (!secret.ok()) return secret.status();
      channel.curve_secret_key = std::move(*secret);
    }
    if (!ep->clients_file.empty() && channel.curve_client_keys.empty()) {
      auto clients = ReadClientKeys(ep->clients_file);
      if (!clients.ok()) return clients.status();
      channel.curve_client_keys = std::move(*clients);
    }
    auto server = transport::Listen(address, channel);
    if (!server.ok()) return server.status();
    server_ = std::move(*server);
    auto poller = transport::Poller::Create();
    if (!poller.ok()) return poller.status();
    poller_ = std::move(*poller);
    int workers = ep->workers > 0
                      ? ep->workers
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
    return Status::OK();
  }

  ~Impl() {
    CloseQueue();
    for (auto& t : workers_) t.join();
  }

  Status Run() {
    transport::ServerChannel* servers[] = {server_.get()};
    const auto spin = server_->spin();
    auto last_request = std::chrono::steady_clock::now();
    while (!stop_.load()) {
      FlushReplies();
      int taken = 0;
      bool tried_inline = false;
      for (; taken < kBurst; ++taken) {
        auto req = server_->Receive(std::chrono::milliseconds(0));
        if (!req.ok()) break;  // nothing waiting; a bad request was answered by the channel
        Dispatch(*req);
        // The turn's first task, if small, is answered before polling for
        // more: on fabric:// a poll is a progress call, a syscall or more.
        if (!tried_inline && !accepted_.empty()) {
          tried_inline = true;
          if (RunInline()) FlushReplies();
        }
      }
      Enqueue();
      const auto now = std::chrono::steady_clock::now();
      if (taken > 0) {
        last_request = now;
      } else if (now - last_request >= spin) {
        poller_->Wait({}, servers, kMaxWait, kNap);
      }
    }
    CloseQueue();
    for (auto& t : workers_) t.join();
    workers_.clear();
    FlushReplies();
    return Status::OK();
  }

  void Stop() {
    stop_.store(true);
    poller_->Notify();
  }
  const std::string& address() const { return server_->address(); }

 private:
  void Dispatch(const ServerChannel::Request& req) {
    const wire::Envelope* env = req.message.envelope_view();
    const uint64_t id = env->request_id();
    switch (env->message_type()) {
      case wire::Message::Invoke:
        return AcceptInvoke(req, id);
      case wire::Message::Fetch: {
        auto fetch = transport::DecodeFetch(*env);
        Result<Blob> object = Status::NotFound("no object");
        if (fetch.ok()) {
          auto key = ObjectKey::FromHex(fetch->key);
          object =
              key ? container_->Get(*key)
                  : Result<Blob>(Status::InvalidArgument("malformed key '" + fetch->key + "'"));
        }
        (void)transport::ServeFetch(*server_, req, object);
        return;
      }
      case wire::Message::Heartbeat: {
        auto hb = transport::DecodeHeartbeat(*env);
        auto now = std::chrono::system_clock::now().time_since_epoch();
        transport::Heartbeat reply{
            name_, hb.ok() ? hb->sequence : 0,
            static_cast<uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()),
            incarnation_};
        (void)server_->Reply(req.peer,
                             transport::MakeMessage(transport::EncodeHeartbeat(id, reply)));
        return;
      }
      default:
        (void)server_->Reply(
            req.peer,
            transport::MakeMessage(transport::EncodeError(
                id, Status::InvalidArgument(
                        std::string("an endpoint serves Invoke, Fetch and Heartbeat, not ") +
                        wire::EnumNameMessage(env->message_type())))));
    }
  }

  void AcceptInvoke(const ServerChannel::Request& req, uint64_t id) {
    auto inv = transport::DecodeInvoke(*req.message.envelope_view());
    if (!inv.ok()) {
      (void)server_->Reply(req.peer,
                           transport::MakeMessage(transport::EncodeError(id, inv.status())));
      return;
    }
    // Task ids are unique per requester: its origin, else (no retries
    // possible) the connection it came on.
    const std::string by_peer = inv->origin.empty() ? "peer:" + req.peer : std::string();
    TaskKey key{nullptr, inv->task_id};
    {
      std::lock_guard lock(tasks_mu_);
      auto origin = origins_.try_emplace(inv->origin.empty() ? by_peer : inv->origin, 0).first;
      key.origin = &origin->first;
      auto it = tasks_.find(key);
      if (it != tasks_.end()) {
        if (it->second.done) {
          (void)server_->Reply(
              req.peer, transport::MakeMessage(transport::EncodeResult(id, it->second.result)));
        } else {
          it->second.peer = req.peer;
          it->second.request_id = id;
        }
        return;
      }
      ++origin->second;
      tasks_.emplace(key, TaskEntry{false, {}, req.peer, id});
    }
    accepted_.push_back(Job{std::move(*inv), std::move(key)});
  }

  // Runs the one accepted job here when it has InlineInputs; false otherwise.
  bool RunInline() {
    if (accepted_.size() != 1) return false;
    std::optional<std::vector<Blob>> inputs = InlineInputs(accepted_.front());
    if (!inputs) return false;
    Job job = std::move(accepted_.front());
    accepted_.clear();
    transport::InvokeResult result;
    result.task_id = job.invoke.task_id;
    result.status = Execute(job.invoke, nullptr, std::move(*inputs), &result);
    Finish(job.task_key, std::move(result), /*on_channel_thread=*/true);
    return true;
  }

  // Hands the jobs accepted in this loop turn to the workers at once: one lock
  // and one wake-up per burst rather than per task.
  void Enqueue() {
    if (accepted_.empty()) return;
    const size_t n = accepted_.size();
    {
      std::lock_guard lock(queue_mu_);
      for (Job& job : accepted_) queue_.push_back(std::move(job));
    }
    accepted_.clear();
    if (n == 1)
      queue_cv_.notify_one();
    else
      queue_cv_.notify_all();
  }

  // A lone small task of a native function whose inputs are all in RAM (L1)
  // runs on the channel thread: handing it to a worker and its reply back
  // costs two thread wake-ups, more than the work. Commands, stream ends (they
  // may draw a whole stream), large inputs and anything that would wait
  // (inputs on disk, on the CDN or to pull; a busy queue) go to the workers.
  // Only L1 is asked: a lookup further down would itself stall the channel.
  // Returns the task's inputs when it qualifies, so Execute need not look
  // them up again; nullopt otherwise.
  std::optional<std::vector<Blob>> InlineInputs(const Job& job) {
    const transport::Invoke& inv = job.invoke;
    storage::ShmCache* l1 = container_->l1();
    if (inv.end_of_stream || !native_.contains(inv.function) || l1 == nullptr) return std::nullopt;
    {
      std::lock_guard lock(queue_mu_);
      if (!queue_.empty()) return std::nullopt;
    }
    std::vector<Blob> inputs;
    size_t bytes = 0;
    for (const std::string& hex : inv.inputs) {
      auto key = ObjectKey::FromHex(hex);
      if (!key) return std::nullopt;
      auto local = l1->Get(*key);
      if (!local.ok()) return std::nullopt;
      bytes += local->size();
      if (bytes > kInlineInputBytes) return std::nullopt;
      inputs.push_back(std::move(*local));
    }
    return inputs;
  }

  void CloseQueue() {
    std::lock_guard lock(queue_mu_);
    closed_ = true;
    queue_cv_.notify_all();
  }

  void WorkerLoop() {
    // Channels are single-threaded, so each worker keeps its own origin connections.
    std::map<std::string, std::unique_ptr<transport::ClientChannel>> origins;
    for (;;) {
      Job job;
      {
        std::unique_lock lock(queue_mu_);
        queue_cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      transport::InvokeResult result;
      result.task_id = job.invoke.task_id;
      result.status = Execute(job.invoke, &origins, {}, &result);
      Finish(job.task_key, std::move(result));
    }
  }

  // Queues the task's reply; a worker wakes the channel thread to send it (the
  // channel thread itself sends it before it next sleeps).
  void Finish(const TaskKey& key, transport::InvokeResult result, bool on_channel_thread = false) {
    std::string peer;
    Message reply;
    {
      std::lock_guard lock(tasks_mu_);
      // Running entries are never dropped: only done ones leave, oldest first.
      TaskEntry& e = tasks_.find(key)->second;
      e.done = true;
      e.result = std::move(result);
      peer = e.peer;
      reply = transport::MakeMessage(transport::EncodeResult(e.request_id, e.result));
      done_order_.push_back(key);
      if (done_order_.size() > kRememberedResults) Forget(done_order_.front());
    }
    bool wake = false;
    {
      std::lock_guard lock(reply_mu_);
      wake = replies_.empty();  // else a wake-up is already on its way
      replies_.emplace_back(std::move(peer), std::move(reply));
    }
    if (wake && !on_channel_thread) poller_->Notify();
  }

  // Drops the oldest remembered result, and its origin once no task names it.
  // REQUIRES: tasks_mu_ held; `key` is done_order_.front().
  void Forget(TaskKey key) {
    tasks_.erase(key);
    done_order_.pop_front();
    auto origin = origins_.find(*key.origin);
    if (--origin->second == 0) origins_.erase(origin);
  }

  void FlushReplies() {
    std::vector<std::pair<std::string, Message>> out;
    {
      std::lock_guard lock(reply_mu_);
      out.swap(replies_);
    }
    for (auto& [peer, msg] : out) (void)server_->Reply(peer, msg);
  }

  // The input's bytes: from the container, else pulled from `origin` and stored.
  Result<Blob> Input(const std::string& hex, const std::string& origin,
                     std::map<std::string, std::unique_ptr<transport::ClientChannel>>& origins) {
    auto key = ObjectKey::FromHex(hex);
    if (!key) return Status::InvalidArgument("malformed input key '" + hex + "'");
    auto local = container_->Get(*key);
    // An unreachable CDN (Unavailable) is a miss too: the origin has the object.
    if (local.ok() || origin.empty() ||
        !(local.status().IsNotFound() || local.status().IsUnavailable()))
      return local;
    auto& ch = origins[origin];
    if (!ch) {
      auto c = transport::Connect(origin, options_.channel);
      if (!c.ok())
        return Status::Unavailable("origin " + origin + ": " + std::string(c.status().message()));
      ch = std::move(*c);
    }
    transport::BulkOptions bulk;
    bulk.timeout = options_.fetch_timeout;
    auto bytes = transport::FetchObject(*ch, hex, bulk);
    if (!bytes.ok()) {
      origins.erase(origin);  // replies may still be pending on it
      if (bytes.status().IsNotFound()) return bytes.status();
      return Status::Unavailable("fetching input " + hex + " from " + origin + ": " +
                                 std::string(bytes.status().message()));
    }
    // The one hash of these bytes on this node; the container trusts it.
    if (!(ObjectKey::Of(bytes->view()) == *key))
      return Status::Corruption("input " + hex + " from " + origin + " does not match its key");
    return container_->PutVerified(*key, bytes->view());
  }

  std::shared_ptr<StreamEntry> Stream(const std::string& key, const Function& fn,
                                      const std::string& stream) {
    std::lock_guard lock(streams_mu_);
    auto& e = streams_[key];
    if (!e) {
      e = std::make_shared<StreamEntry>();
      e->state = fn.NewStream(stream);
    }
    return e;
  }

  // `fetched`: the inputs already in hand (inline tasks), else empty and each
  // is looked up through Input, pulling with `origins` (the calling thread's
  // connections; unused, and may be null, when `fetched` holds every input).
  Status Execute(const transport::Invoke& inv,
                 std::map<std::string, std::unique_ptr<transport::ClientChannel>>* origins,
                 std::vector<Blob> fetched, transport::InvokeResult* result) {
    auto fit = functions_.find(inv.function);
    if (fit == functions_.end())
      return Status::NotFound("endpoint '" + name_ + "' has no FUNCTION '" + inv.function + "'");
    const Function& fn = *fit->second;
    Task task;
    task.stream = inv.stream;
    task.allocator = store_.get();
    task.seq = inv.seq;
    for (size_t i = 0; i < inv.inputs.size(); ++i) {
      auto bytes = i < fetched.size() ? Result<Blob>(std::move(fetched[i]))
                                      : Input(inv.inputs[i], inv.origin, *origins);
      if (!bytes.ok()) return bytes.status();
      std::string name = i < inv.input_names.size() ? inv.input_names[i] : inv.inputs[i];
      task.inputs.push_back(NamedBlob{std::move(name), std::move(*bytes)});
    }
    Status s;
    if (inv.stream.empty()) {
      std::unique_ptr<StreamState> state = fn.NewStream("");
      task.state = state.get();
      s = inv.end_of_stream ? fn.EndStream(task) : fn.Process(task);
    } else {
      std::string key = inv.origin + '\0' + inv.stage + '\0' + inv.function + '\0' + inv.stream;
      std::shared_ptr<StreamEntry> entry = Stream(key, fn, inv.stream);
      std::lock_guard lock(entry->mu);
      if (entry->state != nullptr && inv.position != entry->position) {
        if (inv.position != 0 || inv.end_of_stream) {
          result->stream_mismatch = true;
          result->stream_position = entry->position;
          return Status::Failed("stream '" + inv.stream + "' of stage '" + inv.stage +
                                "': endpoint state has seen " + std::to_string(entry->position) +
                                " items, the task expects " + std::to_string(inv.position));
        }
        entry->state = fn.NewStream(inv.stream);  // the sender starts the stream afresh
        entry->position = 0;
      }
      task.state = entry->state.get();
      s = inv.end_of_stream ? fn.EndStream(task) : fn.Process(task);
      ++entry->position;  // a failed item has been seen too: the sender counts it
      if (inv.end_of_stream) {
        std::lock_guard slock(streams_mu_);
        streams_.erase(key);
      }
    }
    if (!s.ok() || inv.replay) return s;
    result->counters = std::move(task.counters);
    for (const NamedBlob& out : task.outputs) {
      // Space from Task::NewOutput is stored already.
      std::optional<ObjectKey> key = out.data.key();
      if (!key) {
        auto stored = container_->Put(out.data.view());
        if (!stored.ok()) return stored.status();
        key = stored->key();
      }
      result->outputs.push_back(key->ToHex());
      result->output_names.push_back(out.name);
    }
    return Status::OK();
  }

  std::string name_;
  uint64_t incarnation_ = 0;
  EndpointServerOptions options_;
  std::unique_ptr<storage::DataContainer> container_;
  std::unique_ptr<storage::ContainerStore> store_;  // native outputs are built in place
  std::map<std::string, std::unique_ptr<Function>> functions_;
  std::unique_ptr<ServerChannel> server_;
  std::unique_ptr<transport::Poller> poller_;
  std::atomic<bool> stop_{false};
  std::vector<Job> accepted_;  // channel thread only: this turn's jobs
  std::set<std::string> native_;  // FUNCTIONs with a builtin

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Job> queue_;
  bool closed_ = false;
  std::vector<std::thread> workers_;

  std::mutex reply_mu_;
  std::vector<std::pair<std::string, Message>> replies_;

  std::mutex tasks_mu_;
  std::unordered_map<TaskKey, TaskEntry, TaskKeyHash> tasks_;
  std::deque<TaskKey> done_order_;
  // Requesters named by tasks_, with how many entries name each.
  std::unordered_map<std::string, size_t> origins_;

  std::mutex streams_mu_;
  std::map<std::string, std::shared_ptr<StreamEntry>> streams_;
};

Result<std::unique_ptr<EndpointServer>> EndpointServer::Create(
    const PipelineSpec& spec, std::string_view endpoint, const EndpointServerOptions& options) {
  auto impl = std::make_unique<Impl>();
  OVERLAY_RETURN_IF_ERROR(impl->Init(spec, endpoint, options));
  return std::unique_ptr<EndpointServer>(new EndpointServer(std::move(impl)));
}

EndpointServer::EndpointServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EndpointServer::~EndpointServer() {
  if (thread_.joinable()) {
    Stop();
    thread_.join();
  }
}
Status EndpointServer::Run() { return impl_->Run(); }
void EndpointServer::Start() {
  thread_ = std::thread([this] { (void)impl_->Run(); });
}
void EndpointServer::Stop() { impl_->Stop(); }
const std::string& EndpointServer::address() const { return impl_->address(); }

}  // namespace overlay
