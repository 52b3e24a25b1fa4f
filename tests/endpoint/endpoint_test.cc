// SPDX-License-Identifier: Apache-2.0
// The endpoint daemon and the function manager on loopback: the QRS detector
// run remotely must give the bytes it gives locally, over ZeroMQ and libfabric,
// with the daemon in-process and as a real `overlay endpoint` child process.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "endpoint_fixtures.h"
#include "overlay/config.h"
#include "overlay/endpoint_server.h"
#include "overlay/executor.h"
#include "overlay/function.h"
#include "overlay/function_manager.h"
#include "overlay/process_runner.h"
#include "overlay/remote_function.h"
#include "overlay/storage/container_store.h"
#include "overlay/storage/data_container.h"
#include "overlay/object_key.h"
#include "overlay/storage/shm_cache.h"
#include "overlay/transport/bulk.h"
#include "overlay/transport/wire.h"

namespace overlay {
namespace {

using namespace std::chrono_literals;
using namespace endpoint_test;

// Runs one patient's stream through `fm` on `endpoint`, item by item (in
// stream order, as the executor does), and compares with the local run. Each
// item is submitted, or with `call` run by FunctionManager::Call.
void RunStreamRemotely(FunctionManager& fm, ObjectStore& store, const std::string& endpoint,
                       const std::string& stream, bool call = false) {
  std::vector<NamedBlob> chunks = Chunks(stream);
  ASSERT_GT(chunks.size(), 10u);
  auto local = LocalQrs(stream, chunks);
  for (size_t i = 0; i <= chunks.size(); ++i) {
    TaskSpec t{endpoint, "qrs", {}, {}, "qrs", stream, i, i == chunks.size()};
    t.position = i;
    if (i < chunks.size()) {
      auto key = store.Put(chunks[i].data.view());
      ASSERT_TRUE(key.ok());
      t.inputs = {key->key()->ToHex()};
      t.input_names = {chunks[i].name};
    }
    TaskOutcome got = call ? fm.Call(t) : Wait(fm, fm.Submit(t));
    if (call) {
      EXPECT_EQ(got.attempts, 1) << "item " << i << " was handed over";
    }
    ASSERT_NO_FATAL_FAILURE(ExpectSameOutputs(fm, endpoint, got, local[i])) << "item " << i;
  }
}

struct Transport {
  std::string name;
  std::string listen;  // daemon address, port 0
  std::string data;    // manager's data server address
};

// Names the transport in test listings (instead of the struct's bytes).
void PrintTo(const Transport& t, std::ostream* os) { *os << t.name; }

// An in-process endpoint, the client's store and a function manager using it.
class RemoteInvoke : public testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    ep_ = std::make_unique<InProcessEndpoint>(Unique("fog-" + GetParam().name), GetParam().listen);
    if (ep_->status().IsUnavailable())
      GTEST_SKIP() << "transport unavailable: " << ep_->status().ToString();
    ASSERT_TRUE(ep_->status().ok()) << ep_->status().ToString();
    ASSERT_TRUE(store_.ok());
    FunctionManagerOptions o;
    o.store = &store_;
    o.data_address = GetParam().data;
    auto fm = FunctionManager::Create(o);
    ASSERT_TRUE(fm.ok()) << fm.status().ToString();
    fm_ = std::move(*fm);
  }

  // One task per synthetic chunk, each its own stream "<prefix><i>" (so they
  // may run in any order), and the outputs the local run gives each.
  void OneItemStreams(const std::string& prefix, std::vector<TaskSpec>* tasks,
                      std::vector<std::vector<NamedBlob>>* want) {
    std::vector<NamedBlob> chunks = Chunks(prefix);
    for (size_t i = 0; i < chunks.size(); ++i) {
      std::string stream = prefix + std::to_string(i);
      want->push_back(LocalQrs(stream, {chunks[i]}).front());
      auto key = store_.Put(chunks[i].data.view());
      ASSERT_TRUE(key.ok());
      tasks->push_back(TaskSpec{ep_->address(), "qrs", {key->key()->ToHex()}, {chunks[i].name}, "qrs", stream, 0});
    }
  }

  std::unique_ptr<InProcessEndpoint> ep_;
  ClientStore store_{Unique("client")};
  std::unique_ptr<FunctionManager> fm_;
};

TEST_P(RemoteInvoke, InProcessQrsStreamEqualsLocalRun) {
  RunStreamRemotely(*fm_, store_, ep_->address(), "ward/patient");
}

TEST_P(RemoteInvoke, CalledQrsStreamEqualsLocalRun) {
  RunStreamRemotely(*fm_, store_, ep_->address(), "ward/called", true);
}

TEST_P(RemoteInvoke, BatchOfStreamsEqualsLocalRun) {
  std::vector<TaskSpec> batch;
  std::vector<std::vector<NamedBlob>> want;
  ASSERT_NO_FATAL_FAILURE(OneItemStreams("s", &batch, &want));
  std::vector<uint64_t> ids = fm_->SubmitBatch(batch);
  ASSERT_EQ(ids.size(), batch.size());
  for (size_t i = 0; i < ids.size(); ++i)
    ASSERT_NO_FATAL_FAILURE(ExpectSameOutputs(*fm_, ep_->address(), Wait(*fm_, ids[i]), want[i]));
}

// Threads calling at once each get a pooled channel of their own; every
// result still matches the local run.
TEST_P(RemoteInvoke, ConcurrentCallsEqualLocalRun) {
  std::vector<TaskSpec> tasks;
  std::vector<std::vector<NamedBlob>> want;
  ASSERT_NO_FATAL_FAILURE(OneItemStreams("c", &tasks, &want));
  constexpr int kThreads = 4, kRounds = 3;
  std::vector<std::vector<TaskOutcome>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r)
        for (size_t i = t; i < tasks.size(); i += kThreads) got[t].push_back(fm_->Call(tasks[i]));
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    size_t k = 0;
    for (int r = 0; r < kRounds; ++r) {
      for (size_t i = t; i < tasks.size(); i += kThreads, ++k) {
        ASSERT_NO_FATAL_FAILURE(ExpectSameOutputs(*fm_, ep_->address(), got[t][k], want[i]))
            << "thread " << t << " round " << r << " task " << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Transports, RemoteInvoke,
    testing::Values(Transport{"zmq_tcp", "tcp://127.0.0.1:0", "tcp://127.0.0.1:0"},
                    Transport{"fabric_tcp", "fabric://127.0.0.1:0", "fabric://127.0.0.1:0"}),
    [](const auto& info) { return info.param.name; });

TEST(EndpointErrors, UnknownFunctionAndBadKeyAreAnsweredWithErrors) {
  InProcessEndpoint ep(Unique("err"), "tcp://127.0.0.1:0");
  ASSERT_TRUE(ep.status().ok()) << ep.status().ToString();
  ClientStore store(Unique("client"));
  FunctionManagerOptions o;
  o.store = &store;
  auto fm = FunctionManager::Create(o);
  ASSERT_TRUE(fm.ok());
  TaskOutcome unknown = Wait(**fm, (*fm)->Submit(TaskSpec{ep.address(), "nope", {}}));
  EXPECT_TRUE(unknown.status.IsNotFound()) << unknown.status.ToString();
  TaskOutcome bad = Wait(**fm, (*fm)->Submit(TaskSpec{ep.address(), "qrs", {"not-a-key"}}));
  EXPECT_TRUE(bad.status.IsInvalidArgument()) << bad.status.ToString();
  // A key the origin does not have either.
  TaskOutcome missing =
      Wait(**fm, (*fm)->Submit(TaskSpec{ep.address(), "qrs", {std::string(32, 'a')}}));
  EXPECT_TRUE(missing.status.IsNotFound()) << missing.status.ToString();
  EXPECT_TRUE((*fm)->Result(999999).get().status.IsNotFound());
}

TEST(EndpointErrors, ClientsWithoutOriginDoNotShareTaskIds) {
  InProcessEndpoint ep(Unique("ids"), "tcp://127.0.0.1:0");
  ASSERT_TRUE(ep.status().ok()) << ep.status().ToString();
  auto a = transport::Connect(ep.address());
  auto b = transport::Connect(ep.address());
  ASSERT_TRUE(a.ok() && b.ok());
  transport::Invoke inv;
  inv.task_id = 1;
  inv.function = "nope";
  auto ra = (*a)->Call(transport::MakeMessage(transport::EncodeInvoke(1, inv)), kWait);
  inv.function = "qrs";
  inv.inputs = {std::string(32, 'b')};
  auto rb = (*b)->Call(transport::MakeMessage(transport::EncodeInvoke(1, inv)), kWait);
  ASSERT_TRUE(ra.ok() && rb.ok());
  auto da = transport::DecodeResult(*ra->envelope_view());
  auto db = transport::DecodeResult(*rb->envelope_view());
  ASSERT_TRUE(da.ok() && db.ok());
  EXPECT_NE(da->status.message().find("nope"), std::string_view::npos) << da->status.ToString();
  EXPECT_NE(db->status.message().find(std::string(32, 'b')), std::string_view::npos)
      << db->status.ToString();
}

// An endpoint with CURVE keys answers only managers that know its public key.
TEST(EndpointCurve, OnlyManagersWithTheEndpointKeyAreAnswered) {
  auto keys = transport::NewCurveKeyPair();
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  const std::string secret_file = "/tmp/" + Unique("curve") + ".key";
  std::ofstream(secret_file) << keys->second << "\n";
  const std::string name = Unique("curve-ep");
  auto spec = ParseConfigText("[ENDPOINT]\nname = " + name +
                                  "\naddress = tcp://127.0.0.1:0\ncurve_public = " + keys->first +
                                  "\ncurve_secret_file = " + secret_file + "\n[END]\n",
                              "<test>", ".");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  auto server = EndpointServer::Create(*spec, name, {});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  (*server)->Start();
  const std::string address = (*server)->address();

  auto ask = [&](bool with_key) {
    FunctionManagerOptions o;
    o.retries = 0;
    if (with_key) o.curve_server_keys[address] = keys->first;
    auto fm = FunctionManager::Create(o);
    EXPECT_TRUE(fm.ok());
    TaskSpec t{address, "no_such_function"};
    t.timeout = 1500ms;
    return Wait(**fm, (*fm)->Submit(t)).status;
  };
  // An answer at all (here: the function is unknown) proves the channel works.
  EXPECT_TRUE(ask(true).IsNotFound()) << ask(true).ToString();
  Status refused = ask(false);
  EXPECT_TRUE(refused.IsTimeout() || refused.IsUnavailable())
      << "a manager without the key was answered: " << refused.ToString();

  server->reset();
  (void)storage::ShmCache::Remove("overlay-" + name);
  std::remove(secret_file.c_str());
}

TEST(FunctionManagerFetch, OutputNotMatchingItsKeyIsRejected) {
  auto liar = transport::Listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(liar.ok());
  std::thread serve([&] {
    auto req = (*liar)->Receive(kWait);
    if (req.ok()) (void)transport::ServeFetch(**liar, *req, Blob::FromString("not the object"));
  });
  ClientStore store(Unique("fetch-client"));
  ASSERT_TRUE(store.ok());
  FunctionManagerOptions o;
  o.store = &store;
  auto fm = FunctionManager::Create(o);
  ASSERT_TRUE(fm.ok());
  const std::string key = ObjectKey::Of("the object").ToHex();
  auto got = (*fm)->FetchOutput((*liar)->address(), key);
  serve.join();
  EXPECT_TRUE(got.status().IsCorruption()) << got.status().ToString();
  EXPECT_TRUE(store.Get(ObjectKey::Of("the object")).status().IsNotFound());
}

TEST(FunctionManagerTimeout, SilentEndpointGivesTimeoutAfterEveryRetry) {
  // Bound but never served: every Invoke goes unanswered.
  auto silent = transport::Listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(silent.ok());
  FunctionManagerOptions o;
  o.retries = 2;
  auto fm = FunctionManager::Create(o);
  ASSERT_TRUE(fm.ok());
  TaskSpec t{(*silent)->address(), "qrs"};
  t.timeout = 100ms;
  TaskOutcome got = Wait(**fm, (*fm)->Submit(t));
  EXPECT_TRUE(got.status.IsTimeout()) << got.status.ToString();
  EXPECT_EQ(got.attempts, 3);
  (*fm)->Release(1);
  EXPECT_TRUE((*fm)->Result(1).get().status.IsNotFound());
}

TEST(FunctionManagerCall, SilentEndpointGivesTimeoutAfterEveryRetry) {
  auto silent = transport::Listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(silent.ok());
  FunctionManagerOptions o;
  o.retries = 2;
  o.heartbeat_interval = 50ms;
  auto fm = FunctionManager::Create(o);
  ASSERT_TRUE(fm.ok());
  TaskSpec t{(*silent)->address(), "qrs"};
  t.timeout = 100ms;
  TaskOutcome got = (*fm)->Call(t);
  EXPECT_TRUE(got.status.IsTimeout()) << got.status.ToString();
  EXPECT_EQ(got.attempts, 4);  // the direct try, then 1 + retries
}

TEST(FunctionManagerCall, UnreachableEndpointIsAnError) {
  auto fm = FunctionManager::Create({});
  ASSERT_TRUE(fm.ok());
  TaskOutcome got = (*fm)->Call(TaskSpec{"bogus://nowhere", "qrs"});
  EXPECT_TRUE(got.status.IsInvalidArgument()) << got.status.ToString();
  EXPECT_EQ(got.attempts, 0);
}

TEST(EndpointErrors, MalformedRequestAndWrongMessageGetErrorReplies) {
  InProcessEndpoint ep(Unique("raw"), "tcp://127.0.0.1:0");
  ASSERT_TRUE(ep.status().ok()) << ep.status().ToString();
  zmq::context_t ctx;
  zmq::socket_t raw(ctx, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::rcvtimeo, 10000);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(ep.address());
  const std::string garbage = "this is not a flatbuffer at all";
  raw.send(zmq::buffer(garbage), zmq::send_flags::none);
  zmq::message_t reply;
  ASSERT_TRUE(raw.recv(reply).has_value()) << "no answer to a malformed request";
  // Copy into aligned memory before verifying.
  std::vector<uint64_t> aligned((reply.size() + 7) / 8);
  std::memcpy(aligned.data(), reply.data(), reply.size());
  auto env = transport::VerifyEnvelope(
      std::as_bytes(std::span(reinterpret_cast<const char*>(aligned.data()), reply.size())), {});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ((*env)->message_type(), wire::Message::Error);

  auto ch = transport::Connect(ep.address());
  ASSERT_TRUE(ch.ok());
  auto data = (*ch)->Call(transport::MakeMessage(transport::EncodeData(
                              5, {"k", 0, 1}, std::as_bytes(std::span("x", 1)), 0)),
                          kWait);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_TRUE(transport::ReplyStatus(*data).IsInvalidArgument());
  auto hb = (*ch)->Call(
      transport::MakeMessage(transport::EncodeHeartbeat(6, transport::Heartbeat{"test", 41, 0})),
      kWait);
  ASSERT_TRUE(hb.ok()) << hb.status().ToString();
  auto beat = transport::DecodeHeartbeat(*hb->envelope_view());
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(beat->sequence, 41u);
  EXPECT_EQ(beat->sender, Unique("raw"));
}

// ---- the executor with a remote stage ------------------------------------------

std::string PipelineConfig(const std::string& input, const std::string& address) {
  std::string cfg =
      "[FUNCTION]\nname = sim\nbuiltin = sensor_simulator\nargs = 1000\n[END]\n"
      "[FUNCTION]\nname = qrs\nbuiltin = qrs_detector\n[END]\n"
      "[STAGE]\nname = sensor\nsource = " +
      input +
      "\ntransformation = sim\n[END]\n"
      "[STAGE]\nname = detect\nsource = sensor\ntransformation = qrs\n";
  if (address.empty()) return cfg + "[END]\n";
  return cfg + "endpoint = fog\n[END]\n[ENDPOINT]\nname = fog\naddress = " + address +
         "\nworkers = 2\n[END]\n";
}

class RemotePipeline : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / Unique("pipeline");
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "in");
    for (int seed : {1, 2}) {
      std::ofstream(dir_ / "in" / ("p" + std::to_string(seed) + ".txt"))
          << "# overlay-synthetic-ecg\nduration_s = 20\nhr_bpm = 70\nseed = " << seed << "\n";
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs the pipeline in-process and returns the result files.
  std::map<std::string, std::string> Run(const std::string& address, const std::string& out) {
    auto spec = ParseConfigText(PipelineConfig((dir_ / "in").string(), address), "<test>", ".");
    EXPECT_TRUE(spec.ok()) << spec.status().ToString();
    ClientStore store(Unique("pipeline-client"));
    FunctionManagerOptions fo;
    fo.store = &store;
    auto fm = FunctionManager::Create(fo);
    EXPECT_TRUE(fm.ok());
    ExecutorOptions o;
    o.out_dir = (dir_ / out).string();
    o.store = &store;
    remote_stages_ = 0;
    o.make_stage_function = [&, remote = RemoteStageFactory(*spec, fm->get(), &store)](
                                const StageDecl& stage, const FunctionDecl& fn) {
      auto built = remote(stage, fn);
      if (built.ok() && *built != nullptr) ++remote_stages_;
      return built;
    };
    auto report = RunPipeline(*spec, o);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    if (report.ok()) {
      EXPECT_TRUE(report->ok());
      for (const auto& f : report->failures) ADD_FAILURE() << f.stage << " " << f.status.ToString();
      counters_ = report->counters;
    }
    return Tree(dir_ / out);
  }

  std::filesystem::path dir_;
  int remote_stages_ = 0;                    // stages of the last Run given a RemoteFunction
  std::map<std::string, int64_t> counters_;  // of the last Run
};

TEST_F(RemotePipeline, ExecutorRemoteStageEqualsLocalRun) {
  auto local = Run("", "local");
  ASSERT_GT(local.size(), 2u);
  EXPECT_EQ(remote_stages_, 0);
  auto local_counters = counters_;
  ASSERT_GT(local_counters["beats"], 0);
  InProcessEndpoint ep(Unique("pipe"), "tcp://127.0.0.1:0");
  ASSERT_TRUE(ep.status().ok()) << ep.status().ToString();
  auto remote = Run(ep.address(), "remote");
  EXPECT_EQ(remote_stages_, 1);
  EXPECT_EQ(remote, local);
  EXPECT_EQ(counters_, local_counters);
}

TEST_F(RemotePipeline, OverlayRunCliUsesChildEndpoint) {
  auto local = Run("", "local");
  ChildEndpoint ep(Unique("cli"), "tcp://127.0.0.1:" + std::to_string(FreePort()));
  ASSERT_TRUE(ep.Start());
  std::string cfg = (dir_ / "remote.cfg").string();
  std::ofstream(cfg) << PipelineConfig((dir_ / "in").string(), ep.address())
                     << "[STORAGE]\nsegment = " << Unique("cli-client")
                     << "\nmemory = 32MiB\n[END]\n";
  RunOptions run;
  run.argv = {std::string(OVERLAY_BINARY_DIR) + "/core/overlay",
              "run",
              cfg,
              "--out",
              (dir_ / "cli").string(),
              "-q",
              "--rerun"};
  run.timeout_ms = 60000;
  auto r = RunProcess(run);
  (void)storage::ShmCache::Remove(Unique("cli-client"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->success()) << r->Describe() << "\n" << r->StderrTail();
  EXPECT_EQ(Tree(dir_ / "cli"), local);
}

// `overlay run CFG ARGS...` with its own data container segment.
RunResult OverlayRun(const std::string& cfg, const std::vector<std::string>& args) {
  RunOptions run;
  run.argv = {std::string(OVERLAY_BINARY_DIR) + "/core/overlay",
              "run",
              cfg,
              "-q",
              "--rerun",
              "--segment",
              Unique("flags-client")};
  run.argv.insert(run.argv.end(), args.begin(), args.end());
  run.timeout_ms = 60000;
  auto r = RunProcess(run);
  (void)storage::ShmCache::Remove(Unique("flags-client"));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : RunResult{};
}

TEST_F(RemotePipeline, OverlayRunLocalIgnoresEndpointAddresses) {
  auto local = Run("", "local");
  // Nothing listens there: only a run that ignores the address can succeed.
  std::string cfg = (dir_ / "remote.cfg").string();
  std::ofstream(cfg) << PipelineConfig((dir_ / "in").string(),
                                       "tcp://127.0.0.1:" + std::to_string(FreePort()));
  RunResult remote = OverlayRun(cfg, {"--no-store", "--out", (dir_ / "remote").string()});
  EXPECT_EQ(remote.exit_code, 2) << "a remote stage without the data container must be refused";
  RunResult r = OverlayRun(cfg, {"--local", "--no-store", "--out", (dir_ / "cli").string()});
  ASSERT_TRUE(r.success()) << r.Describe() << "\n" << r.StderrTail();
  EXPECT_EQ(Tree(dir_ / "cli"), local);
}

TEST_F(RemotePipeline, OverlayRunDataAddressIsWhereTheManagerServes) {
  auto local = Run("", "local");
  ChildEndpoint ep(Unique("data-addr"), "tcp://127.0.0.1:" + std::to_string(FreePort()));
  ASSERT_TRUE(ep.Start());
  std::string cfg = (dir_ / "remote.cfg").string();
  std::ofstream(cfg) << PipelineConfig((dir_ / "in").string(), ep.address());
  // A port someone else listens on: the manager cannot bind it, so the run stops.
  auto taken = transport::Listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  RunResult busy = OverlayRun(cfg, {"--data-address", (*taken)->address()});
  EXPECT_EQ(busy.exit_code, 2);
  EXPECT_NE(busy.err.tail.find("function manager"), std::string::npos) << busy.err.tail;
  const std::string free = "tcp://127.0.0.1:" + std::to_string(FreePort());
  RunResult r = OverlayRun(cfg, {"--data-address", free, "--out", (dir_ / "cli").string()});
  ASSERT_TRUE(r.success()) << r.Describe() << "\n" << r.StderrTail();
  EXPECT_EQ(Tree(dir_ / "cli"), local);
}

class ChildProcess : public testing::TestWithParam<Transport> {};

TEST_P(ChildProcess, QrsStreamEqualsLocalRunAndSigtermExitsZero) {
  const std::string scheme = GetParam().listen.substr(0, GetParam().listen.find("://"));
  ChildEndpoint ep(Unique("child-" + GetParam().name),
                   scheme + "://127.0.0.1:" + std::to_string(FreePort()));
  {
    auto probe = transport::Listen(GetParam().data);
    if (probe.status().IsUnavailable())
      GTEST_SKIP() << "transport unavailable: " << probe.status().ToString();
  }
  ASSERT_TRUE(ep.Start());
  ClientStore store(Unique("client"));
  ASSERT_TRUE(store.ok());
  FunctionManagerOptions o;
  o.store = &store;
  o.data_address = GetParam().data;
  auto fm = FunctionManager::Create(o);
  ASSERT_TRUE(fm.ok()) << fm.status().ToString();
  RunStreamRemotely(**fm, store, ep.address(), "ward/child");
  int status = ep.Signal(SIGTERM);
  ASSERT_NE(status, -1) << "endpoint did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(status)) << "wait status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

INSTANTIATE_TEST_SUITE_P(Transports, ChildProcess,
                         testing::Values(Transport{"zmq_tcp", "tcp://", "tcp://127.0.0.1:0"},
                                         Transport{"fabric_tcp", "fabric://",
                                                   "fabric://127.0.0.1:0"}),
                         [](const auto& info) { return info.param.name; });

TEST(ChildProcessSigterm, QueuedAndRunningTasksFinishBeforeExit) {
  // One worker and a 300 ms command: at SIGTERM one task runs and two wait.
  const std::string name = Unique("drain");
  const std::string address = "tcp://127.0.0.1:" + std::to_string(FreePort());
  ChildEndpoint ep(name, address,
                   "[FUNCTION]\nname = slow\ncommand = sleep 0.3\n[END]\n"
                   "[ENDPOINT]\nname = " +
                       name + "\naddress = " + address + "\nworkers = 1\n[END]\n");
  ASSERT_TRUE(ep.Start());
  FunctionManagerOptions o;
  o.retries = 0;
  auto fm = FunctionManager::Create(o);
  ASSERT_TRUE(fm.ok());
  std::vector<uint64_t> ids = (*fm)->SubmitBatch(
      {TaskSpec{address, "slow"}, TaskSpec{address, "slow"}, TaskSpec{address, "slow"}});
  std::this_thread::sleep_for(150ms);
  int status = ep.Signal(SIGTERM);
  ASSERT_NE(status, -1) << "endpoint did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  for (uint64_t id : ids) {
    TaskOutcome got = Wait(**fm, id);
    EXPECT_TRUE(got.status.ok()) << "task " << id << ": " << got.status.ToString();
  }
}

// A task that outlasts the heartbeat interval stays on the direct call while
// its endpoint answers heartbeats, and runs once.
TEST(FunctionManagerCall, SlowTaskOfALiveEndpointRunsOnce) {
  const std::string name = Unique("slowcall");
  const std::string address = "tcp://127.0.0.1:" + std::to_string(FreePort());
  // Commands write outside their workspace only where FUNCTION.writable says.
  const auto runs_dir = std::filesystem::temp_directory_path() / Unique("runs");
  std::filesystem::create_directory(runs_dir);
  const auto runs = runs_dir / "runs";
  ChildEndpoint ep(name, address,
                   "[FUNCTION]\nname = slow\ncommand = sh -c 'sleep 0.3; echo run >> " +
                       runs.string() + "'\nwritable = " + runs_dir.string() +
                       "\n[END]\n[ENDPOINT]\nname = " + name +
                       "\naddress = " + address + "\nworkers = 1\n[END]\n");
  ASSERT_TRUE(ep.Start());
  FunctionManagerOptions o;
  o.heartbeat_interval = 50ms;
  auto fm = FunctionManager::Create(o);
  ASSERT_TRUE(fm.ok());
  TaskOutcome got = (*fm)->Call(TaskSpec{address, "slow"});
  EXPECT_TRUE(got.status.ok()) << got.status.ToString();
  EXPECT_EQ(got.attempts, 1);  // not handed over: the endpoint kept answering
  std::ifstream in(runs);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all, "run\n");
  std::filesystem::remove_all(runs_dir);
  EXPECT_EQ(ep.Signal(SIGTERM) & 0xffff, 0);
}

// The endpoint answers a repeated Invoke (same origin and task id, on any
// connection) from memory, without running it again, until newer results
// push it out; then the task runs anew.
TEST(EndpointTasks, RepeatedInvokeIsAnsweredFromMemoryUntilForgotten) {
  const std::string name = Unique("memory");
  const std::string address = "tcp://127.0.0.1:" + std::to_string(FreePort());
  const auto runs_dir = std::filesystem::temp_directory_path() / Unique("memory-runs");
  std::filesystem::create_directory(runs_dir);
  const auto runs = runs_dir / "runs";
  ChildEndpoint ep(name, address,
                   "[FUNCTION]\nname = count\ncommand = sh -c 'echo run >> " + runs.string() +
                       "'\nwritable = " + runs_dir.string() +
                       "\n[END]\n[FUNCTION]\nname = noop\nbuiltin = identity\n[END]\n"
                       "[ENDPOINT]\nname = " +
                       name + "\naddress = " + address + "\nworkers = 1\n[END]\n");
  ASSERT_TRUE(ep.Start());
  auto a = transport::Connect(address);
  auto b = transport::Connect(address);
  ASSERT_TRUE(a.ok() && b.ok());
  auto run_count = [&] {
    std::ifstream in(runs);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return std::count(all.begin(), all.end(), '\n');
  };
  auto ok_result = [](const Result<transport::Message>& reply) {
    if (!reply.ok()) return reply.status();
    auto result = transport::DecodeResult(*reply->envelope_view());
    return result.ok() ? result->status : result.status();
  };
  transport::Invoke count;
  count.task_id = 1;
  count.function = "count";
  count.origin = "test-origin-a";
  const auto count_msg = transport::MakeMessage(transport::EncodeInvoke(1, count));
  ASSERT_TRUE(ok_result((*a)->Call(count_msg, kWait)).ok());
  ASSERT_TRUE(ok_result((*b)->Call(count_msg, kWait)).ok());
  EXPECT_EQ(run_count(), 1);

  // More results than the endpoint remembers (4096), from another origin.
  constexpr uint64_t kNewer = 5000;
  constexpr uint64_t kWindow = 64;
  transport::Invoke noop;
  noop.function = "noop";
  noop.origin = "test-origin-b";
  uint64_t sent = 0;
  for (uint64_t received = 0; received < kNewer; ++received) {
    for (; sent < kNewer && sent - received < kWindow; ++sent) {
      noop.task_id = sent + 1;
      ASSERT_TRUE((*b)->Send(transport::MakeMessage(transport::EncodeInvoke(sent + 1, noop))).ok());
    }
    ASSERT_TRUE(ok_result((*b)->Receive(kWait)).ok()) << "task " << received + 1;
  }
  ASSERT_TRUE(ok_result((*a)->Call(count_msg, kWait)).ok());
  EXPECT_EQ(run_count(), 2);
  std::filesystem::remove_all(runs_dir);
  EXPECT_EQ(ep.Signal(SIGTERM) & 0xffff, 0);
}

TEST(ChildProcessRestart, KilledEndpointRestartedEveryResultExactlyOnce) {
  ChildEndpoint ep(Unique("restart"), "tcp://127.0.0.1:" + std::to_string(FreePort()));
  ASSERT_TRUE(ep.Start());
  ClientStore store(Unique("client"));
  ASSERT_TRUE(store.ok());
  FunctionManagerOptions o;
  o.store = &store;
  o.timeout = 1500ms;
  o.retries = 8;
  auto fm = FunctionManager::Create(o);
  ASSERT_TRUE(fm.ok()) << fm.status().ToString();
  std::vector<NamedBlob> chunks = Chunks("r");
  std::vector<std::vector<NamedBlob>> want;
  std::vector<TaskSpec> first, second;
  for (size_t i = 0; i < chunks.size(); ++i) {
    std::string stream = "r" + std::to_string(i);
    want.push_back(LocalQrs(stream, {chunks[i]}).front());
    auto key = store.Put(chunks[i].data.view());
    ASSERT_TRUE(key.ok());
    (i < chunks.size() / 2 ? first : second)
        .push_back(TaskSpec{ep.address(), "qrs", {key->key()->ToHex()}, {chunks[i].name}, "qrs", stream, 0});
  }
  std::vector<uint64_t> ids = (*fm)->SubmitBatch(first);
  for (uint64_t id : ids) ASSERT_TRUE(Wait(**fm, id).status.ok());
  // The second half reaches a stopped endpoint that is then killed, so those
  // Invokes are lost for certain and only a retry can deliver them.
  ep.Pause();
  for (uint64_t id : (*fm)->SubmitBatch(second)) ids.push_back(id);
  std::this_thread::sleep_for(200ms);
  int status = ep.Signal(SIGKILL);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_TRUE(ep.Start());
  int retried = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    TaskOutcome got = Wait(**fm, ids[i]);
    retried += got.attempts > 1;
    ASSERT_NO_FATAL_FAILURE(ExpectSameOutputs(**fm, ep.address(), got, want[i])) << "task " << i;
  }
  EXPECT_GE(retried, static_cast<int>(second.size()));
  std::printf("%zu tasks, %d resent, %llu late duplicates dropped\n", ids.size(), retried,
              static_cast<unsigned long long>((*fm)->duplicates_dropped()));
  EXPECT_EQ(ep.Signal(SIGTERM) & 0xffff, 0);
}

// A stateful stream survives its endpoint's restart: the QRS detector's filter
// state is rebuilt by replaying the stream's earlier items, so every item's
// outputs equal the uninterrupted local run, each delivered once. The endpoint
// is killed once between items and once while an item is in flight.
TEST(ChildProcessRestart, StatefulStreamReplayedAfterRestartEqualsLocalRun) {
  ChildEndpoint ep(Unique("replay"), "tcp://127.0.0.1:" + std::to_string(FreePort()));
  ASSERT_TRUE(ep.Start());
  ClientStore store(Unique("replay-client"));
  ASSERT_TRUE(store.ok());
  auto fm = FunctionManager::Create(KillTestOptions(&store));
  ASSERT_TRUE(fm.ok()) << fm.status().ToString();
  RemoteFunction remote(fm->get(), &store, ep.address(), "qrs", "qrs");

  const std::string stream = "ward/replayed";
  std::vector<NamedBlob> chunks = Chunks(stream);
  ASSERT_GT(chunks.size(), 8u);
  auto want = LocalQrs(stream, chunks);
  const size_t kill_between = chunks.size() / 3, kill_during = 2 * chunks.size() / 3;
  for (size_t i = 0; i <= chunks.size(); ++i) {
    if (i == kill_between) {
      ASSERT_TRUE(WIFSIGNALED(ep.Signal(SIGKILL)));
      ASSERT_TRUE(ep.Start());
    }
    Task t = StreamItem(stream, chunks, i);
    Status s = i == kill_during ? RunItemWhileKilled(remote, t, ep, true) : RunItem(remote, t);
    ASSERT_NO_FATAL_FAILURE(ExpectItemLikeLocal(s, t, want[i], i));
  }
  EXPECT_EQ(ep.Signal(SIGTERM) & 0xffff, 0);
}

}  // namespace
}  // namespace overlay
