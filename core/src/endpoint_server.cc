// SPDX-License-Identifier: Apache-2.0
#include "overlay/endpoint_server.h"

#include <atomic>
#include <cctype>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "client_limits.h"
#include "client_watch.h"
#include "invoke_handler.h"
#include "origin_puller.h"
#include "overlay/event_log.h"
#include "overlay/metrics_server.h"
#include "overlay/task_metrics.h"
#include "overlay/storage/container_store.h"
#include "overlay/storage/data_container.h"
#include "overlay/storage/rocks_tier.h"
#include "overlay/storage/shm_cache.h"
#include "overlay/transport/bulk.h"
#include "overlay/transport/poller.h"
#include "overlay/transport/traffic.h"
#include "overlay/transport/wire.h"
#include "task_ledger.h"
#include "task_runner.h"
#include "worker_pool.h"

namespace overlay {
namespace {

using endpoint::Job;
using endpoint::TaskLedger;
using transport::Message;
using transport::ServerChannel;

// Requests taken per loop turn before finished replies are sent.
constexpr int kBurst = 64;
// Largest input total of a task run on the channel thread (see InlineInputs).
constexpr size_t kInlineInputBytes = 64 << 10;
// Longest sleep of the idle channel thread; workers and Stop wake it sooner.
constexpr std::chrono::microseconds kMaxWait{100000};
// Its nap when the channel cannot be waited on (fabric://).
constexpr std::chrono::microseconds kNap{200};
// How often idle stream state is looked for.
constexpr std::chrono::seconds kSweepInterval{1};

// The endpoint name with characters unsafe in segment and file names replaced.
std::string SafeName(std::string_view endpoint) {
  std::string s;
  for (char c : endpoint)
    s += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '_';
  return s;
}

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
    incarnation_ = std::random_device{}() | uint64_t{std::random_device{}()} << 32;
    started_ns_ = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
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
    watch_ = std::make_unique<endpoint::ClientWatch>(name_,
                                                     std::chrono::milliseconds(ep->lost_after_ms));
    registry_.AddCollector([this](metrics::Samples& out) {
      watch_->Collect(out);
      CollectStorageAndTransport(container_.get(), out);
    });
    if (!ep->metrics_address.empty()) {
      auto metrics = MetricsServer::Start(ep->metrics_address, &registry_);
      if (!metrics.ok()) return metrics.status();
      metrics_ = std::move(*metrics);
    }
    // Outputs are kept: the client pulls them after the task.
    store_ = std::make_unique<storage::ContainerStore>(container_.get(), /*transient=*/false);
    runner_ = std::make_unique<endpoint::TaskRunner>(
        name_, container_.get(), store_.get(), static_cast<size_t>(ep->max_streams),
        std::chrono::milliseconds(ep->stream_idle_ms));
    OVERLAY_RETURN_IF_ERROR(runner_->AddFunctions(spec));
    limits_ = std::make_unique<endpoint::ClientLimits>(static_cast<size_t>(ep->max_tasks),
                                                       ep->max_memory);
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
    endpoint::OriginPullerOptions pulls;
    pulls.channel = options.channel;
    if (!channel.curve_secret_key.empty()) {
      // A CURVE origin (a client's data server) knows the endpoint by its key.
      pulls.channel.curve_public_key = ep->curve_public;
      pulls.channel.curve_secret_key = channel.curve_secret_key;
    }
    pulls.fetch_timeout = options.fetch_timeout;
    pulls.connect_timeout = options.connect_timeout;
    pulls.threads = options.pull_threads;
    pulls.per_origin = options.pulls_per_origin;
    puller_ = std::make_unique<endpoint::OriginPuller>(container_.get(), std::move(pulls));
    auto server = transport::Listen(address, channel);
    if (!server.ok()) return server.status();
    server_ = std::move(*server);
    auto poller = transport::Poller::Create();
    if (!poller.ok()) return poller.status();
    poller_ = std::move(*poller);
    int workers = ep->workers > 0
                      ? ep->workers
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    pool_ = std::make_unique<endpoint::WorkerPool>(
        workers, container_.get(), runner_.get(), puller_.get(), limits_.get(),
        [this](const endpoint::Job& job, transport::InvokeResult result) {
          Finish(job, std::move(result));
        });
    return Status::OK();
  }

  ~Impl() {
    metrics_.reset();  // its threads read the registry and the members below
    if (pool_) pool_->Close();
    puller_.reset();  // its callbacks use the pool and the members below
  }

  Status Run() {
    transport::ServerChannel* servers[] = {server_.get()};
    const auto spin = server_->spin();
    auto last_request = std::chrono::steady_clock::now();
    auto next_sweep = last_request + kSweepInterval;
    while (!stop_.load()) {
      FlushReplies();
      if (std::chrono::steady_clock::now() >= next_sweep) {
        runner_->DropIdleStreams();
        watch_->Sweep();
        next_sweep = std::chrono::steady_clock::now() + kSweepInterval;
      }
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
      pool_->Push(accepted_);  // one lock and one wake-up per burst
      const auto now = std::chrono::steady_clock::now();
      if (taken > 0) {
        last_request = now;
      } else if (now - last_request >= spin) {
        poller_->Wait({}, servers, kMaxWait, kNap);
      }
    }
    // Tasks waiting for pulls come back to the workers: close only once all are done.
    pool_->WaitIdle();
    pool_->Close();
    FlushReplies();
    return Status::OK();
  }

  void Stop() {
    stop_.store(true);
    poller_->Notify();
  }
  const std::string& address() const { return server_->address(); }
  std::string metrics_address() const { return metrics_ ? metrics_->address() : ""; }
  size_t stream_states() const { return runner_->stream_states(); }

 private:
  void Dispatch(const ServerChannel::Request& req) {
    const wire::Envelope* env = req.message.envelope_view();
    const uint64_t id = env->request_id();
    switch (env->message_type()) {
      case wire::Message::Invoke:
        return AcceptInvoke(req);
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
        watch_->Heard(endpoint::ClientOf(req));
        auto hb = transport::DecodeHeartbeat(*env);
        auto now = std::chrono::system_clock::now().time_since_epoch();
        transport::Heartbeat reply{
            name_, hb.ok() ? hb->sequence : 0,
            static_cast<uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()),
            incarnation_};
        if (hb.ok() && hb->want_status) reply.status = Report();
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

  void AcceptInvoke(const ServerChannel::Request& req) {
    const std::string client = endpoint::ClientOf(req);
    watch_->Heard(client);
    endpoint::Admission admission = endpoint::AdmitInvoke(req, *limits_, ledger_);
    if (!admission.refused.ok())
      EventLog().warn("refused a task of stage '{}' from {}: {}", admission.stage, client,
                      admission.refused.ToString());
    if (admission.reply) (void)server_->Reply(req.peer, *admission.reply);
    if (!admission.job) return;
    pool_->Started();
    watch_->TaskStarted(client);
    tasks_.Started(admission.job->invoke.stage, admission.job->invoke.function);
    accepted_.push_back(std::move(*admission.job));
  }

  // Runs the one accepted job here when it has InlineInputs; false otherwise.
  bool RunInline() {
    if (accepted_.size() != 1) return false;
    std::optional<std::vector<Blob>> inputs = InlineInputs(accepted_.front());
    if (!inputs) return false;
    Job job = std::move(accepted_.front());
    accepted_.clear();
    job.inputs.assign(std::make_move_iterator(inputs->begin()),
                      std::make_move_iterator(inputs->end()));
    transport::InvokeResult result = endpoint::RunJob(job, *runner_, *container_);
    Finish(job, std::move(result), /*on_channel_thread=*/true);
    return true;
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
    if (inv.end_of_stream || !runner_->IsNative(inv.function) || l1 == nullptr) return std::nullopt;
    if (pool_->backlog()) return std::nullopt;
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

  // What `overlay status` shows of this endpoint.
  transport::EndpointStatus Report() const {
    transport::EndpointStatus st;
    st.started_ns = started_ns_;
    st.tasks_running = pool_->outstanding();
    st.tasks_done = done_.load(std::memory_order_relaxed);
    st.tasks_failed = failed_.load(std::memory_order_relaxed);
    st.queue_depth = pool_->queued();
    if (storage::ShmCache* l1 = container_->l1()) {
      const storage::ShmStats shm = l1->Stats();
      st.l1_live_bytes = shm.live_bytes;
      st.l1_capacity_bytes = shm.capacity_bytes;
    }
    const storage::TierReads reads = container_->reads();
    st.tier_hits = reads.hits;
    st.tier_misses = reads.misses;
    st.tier_bytes = reads.bytes;
    if (storage::RocksTier* l2 = container_->l2()) st.l2_bytes = l2->ApproximateBytes();
    st.transports = transport::TrafficByTransport();
    return st;
  }

  // Queues the task's reply; a worker wakes the channel thread to send it (the
  // channel thread itself sends it before it next sleeps).
  void Finish(const Job& job, transport::InvokeResult result, bool on_channel_thread = false) {
    Observe(job, result.status);
    (result.status.ok() ? done_ : failed_).fetch_add(1, std::memory_order_relaxed);
    auto [peer, reply] = endpoint::FinishJob(job, std::move(result), *limits_, ledger_);
    bool wake = false;
    {
      std::lock_guard lock(reply_mu_);
      wake = replies_.empty();  // else a wake-up is already on its way
      replies_.emplace_back(std::move(peer), std::move(reply));
    }
    if (wake && !on_channel_thread) poller_->Notify();
    pool_->Finished();
  }

  // A task answered: metrics, and a failure's reason in the log.
  void Observe(const Job& job, const Status& status) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - job.accepted).count();
    tasks_.Finished(job.invoke.stage, job.invoke.function, status, seconds);
    watch_->TaskFinished(job.client);
    if (!status.ok())
      EventLog().warn("task {} of stage '{}' ({}{}{}) from {} failed after {:.3f} s: {}",
                      job.invoke.task_id, job.invoke.stage, job.invoke.function,
                      job.invoke.stream.empty() ? "" : ", stream ", job.invoke.stream, job.client,
                      seconds, status.ToString());
  }

  void FlushReplies() {
    std::vector<std::pair<std::string, Message>> out;
    {
      std::lock_guard lock(reply_mu_);
      out.swap(replies_);
    }
    for (auto& [peer, msg] : out) (void)server_->Reply(peer, msg);
  }

  std::string name_;
  uint64_t incarnation_ = 0;
  uint64_t started_ns_ = 0;  // Unix nanoseconds
  std::atomic<uint64_t> done_{0}, failed_{0};  // tasks answered, by outcome
  EndpointServerOptions options_;
  std::unique_ptr<storage::DataContainer> container_;
  std::unique_ptr<storage::ContainerStore> store_;  // native outputs are built in place
  std::unique_ptr<endpoint::TaskRunner> runner_;
  std::unique_ptr<endpoint::OriginPuller> puller_;
  std::unique_ptr<endpoint::ClientLimits> limits_;
  std::unique_ptr<ServerChannel> server_;
  std::unique_ptr<transport::Poller> poller_;
  std::atomic<bool> stop_{false};
  std::vector<Job> accepted_;  // channel thread only: this turn's jobs
  TaskLedger ledger_;

  std::unique_ptr<endpoint::WorkerPool> pool_;

  metrics::Registry registry_;
  TaskMetrics tasks_{&registry_};
  std::unique_ptr<endpoint::ClientWatch> watch_;
  std::unique_ptr<MetricsServer> metrics_;  // last: it reads the members above

  std::mutex reply_mu_;
  std::vector<std::pair<std::string, Message>> replies_;
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
size_t EndpointServer::stream_states() const { return impl_->stream_states(); }
const std::string& EndpointServer::address() const { return impl_->address(); }
std::string EndpointServer::metrics_address() const { return impl_->metrics_address(); }

}  // namespace overlay
