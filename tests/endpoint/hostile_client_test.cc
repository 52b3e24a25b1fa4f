// SPDX-License-Identifier: Apache-2.0
// An endpoint under clients that misbehave: origins that never answer, floods
// of new streams, strangers at the data server.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <memory>
#include <string>
#include <vector>

#include "endpoint_fixtures.h"
#include "overlay/config.h"
#include "overlay/endpoint_server.h"
#include "overlay/function_manager.h"
#include "overlay/object_key.h"
#include "overlay/storage/shm_cache.h"
#include "overlay/transport/bulk.h"
#include "overlay/transport/channel.h"
#include "overlay/transport/wire.h"

namespace overlay {
namespace {

using namespace std::chrono_literals;
using namespace endpoint_test;

// One endpoint, in process, with its own config text and options.
class Endpoint {
 public:
  Endpoint(const std::string& name, const std::string& extra_keys,
           const EndpointServerOptions& options = {})
      : segment_("overlay-" + name) {
    auto spec = ParseConfigText("[FUNCTION]\nname = qrs\nbuiltin = qrs_detector\n[END]\n"
                                "[ENDPOINT]\nname = " + name +
                                    "\naddress = tcp://127.0.0.1:0\n" + extra_keys +
                                    "[END]\n[STORAGE]\nmemory = 32MiB\n[END]\n",
                                "<test>", ".");
    EXPECT_TRUE(spec.ok()) << spec.status().ToString();
    if (!spec.ok()) return;
    auto s = EndpointServer::Create(*spec, name, options);
    status_ = s.status();
    if (!s.ok()) return;
    server_ = std::move(*s);
    server_->Start();
  }
  ~Endpoint() {
    server_.reset();
    (void)storage::ShmCache::Remove(segment_);
  }
  const Status& status() const { return status_; }
  const std::string& address() const { return server_->address(); }
  EndpointServer& server() { return *server_; }

 private:
  Status status_;
  std::string segment_;
  std::unique_ptr<EndpointServer> server_;
};

// A key no one has: its object must be pulled.
std::string MissingKey(int i) {
  return ObjectKey::Of("no such object " + std::to_string(i)).ToHex();
}

// Runs one patient's stream on `endpoint` through `fm` item by item; every
// item must succeed.
void RunLegitStream(FunctionManager& fm, ObjectStore& store, const std::string& endpoint,
                    const std::string& stream, size_t items) {
  std::vector<NamedBlob> chunks = Chunks(stream);
  ASSERT_GE(chunks.size(), items);
  for (size_t i = 0; i <= items; ++i) {
    TaskSpec t{endpoint, "qrs", {}, {}, "qrs", stream, i, i == items};
    t.position = i;
    if (i < items) {
      auto key = store.Put(chunks[i].data.view());
      ASSERT_TRUE(key.ok());
      t.inputs = {key->key()->ToHex()};
      t.input_names = {chunks[i].name};
    }
    TaskOutcome got = Wait(fm, fm.Submit(t));
    ASSERT_TRUE(got.status.ok()) << "item " << i << ": " << got.status.ToString();
  }
}

// Invokes whose origin takes connections and never answers must not hold the
// endpoint's only worker: a legitimate client's stream completes while those
// pulls are still pending, and they then fail with a reason naming the origin.
TEST(EndpointPulls, SilentOriginsHoldNoWorker) {
  EndpointServerOptions o;
  o.connect_timeout = 4s;  // far longer than the legitimate stream needs
  Endpoint ep(Unique("pulls"), "workers = 1\n", o);
  ASSERT_TRUE(ep.status().ok()) << ep.status().ToString();
  auto silent = transport::Listen("tcp://127.0.0.1:0");  // never read
  ASSERT_TRUE(silent.ok());
  auto bad = transport::Connect(ep.address());
  ASSERT_TRUE(bad.ok());
  constexpr int kBad = 10;
  for (int i = 0; i < kBad; ++i) {
    transport::Invoke inv;
    inv.task_id = 1000 + i;
    inv.function = "qrs";
    inv.inputs = {MissingKey(i)};
    inv.origin = (*silent)->address();
    ASSERT_TRUE((*bad)->Send(transport::MakeMessage(transport::EncodeInvoke(i, inv))).ok());
  }

  ClientStore store(Unique("pulls-client"));
  FunctionManagerOptions fo;
  fo.store = &store;
  auto fm = FunctionManager::Create(fo);
  ASSERT_TRUE(fm.ok());
  ASSERT_NO_FATAL_FAILURE(RunLegitStream(**fm, store, ep.address(), "legit", 8));
  // The bad tasks are still waiting for their origin: none has been answered.
  EXPECT_TRUE((*bad)->Receive(0ms).status().IsTimeout())
      << "a bad task was answered before the legitimate stream ended";

  int failed = 0;
  for (int i = 0; i < kBad; ++i) {
    auto reply = (*bad)->Receive(kWait);
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    auto r = transport::DecodeResult(*reply->envelope_view());
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->status.IsUnavailable()) << r->status.ToString();
    EXPECT_NE(r->status.message().find((*silent)->address()), std::string_view::npos)
        << r->status.ToString();
    ++failed;
  }
  EXPECT_EQ(failed, kBad);
}

// Sends an Invoke of `function` naming `stream` at `position` on `ch`.
void SendInvoke(transport::ClientChannel& ch, uint64_t id, const std::string& stream,
                uint64_t position, std::vector<std::string> inputs = {},
                const std::string& origin = "") {
  transport::Invoke inv;
  inv.task_id = id;
  inv.stage = "qrs";
  inv.function = "qrs";
  inv.stream = stream;
  inv.position = position;
  inv.seq = position;
  inv.inputs = std::move(inputs);
  inv.origin = origin;
  ASSERT_TRUE(ch.Send(transport::MakeMessage(transport::EncodeInvoke(id, inv))).ok());
}

// The status of the next reply on `ch` (a Result's or an Error's).
Status NextStatus(transport::ClientChannel& ch, transport::InvokeResult* result = nullptr) {
  auto reply = ch.Receive(kWait);
  if (!reply.ok()) return reply.status();
  const wire::Envelope* env = reply->envelope_view();
  if (env->message_type() == wire::Message::Error) return transport::DecodeError(*env);
  auto r = transport::DecodeResult(*env);
  if (!r.ok()) return r.status();
  if (result != nullptr) *result = *r;
  return r->status.ok() ? Status::OK() : r->status;
}

// A flood of Invokes naming new streams: the endpoint keeps at most
// max_streams states for the client and refuses the rest, saying why.
TEST(EndpointBounds, NewStreamsBeyondTheBoundAreRefused) {
  Endpoint ep(Unique("streams"), "max_streams = 50\n");
  ASSERT_TRUE(ep.status().ok()) << ep.status().ToString();
  auto ch = transport::Connect(ep.address());
  ASSERT_TRUE(ch.ok());
  constexpr int kStreams = 300;
  for (int i = 0; i < kStreams; ++i) SendInvoke(**ch, i + 1, "flood-" + std::to_string(i), 0);
  int refused = 0;
  for (int i = 0; i < kStreams; ++i) {
    Status s = NextStatus(**ch);
    ASSERT_FALSE(s.IsTimeout()) << "reply " << i << " missing";
    if (s.IsBusy()) {
      ++refused;
      EXPECT_NE(s.message().find("max_streams"), std::string_view::npos) << s.ToString();
    }
    EXPECT_LE(ep.server().stream_states(), 50u);
  }
  EXPECT_EQ(refused, kStreams - 50);
  EXPECT_EQ(ep.server().stream_states(), 50u);
}

// Idle stream state is dropped after stream_idle; a stream that returns is
// told the state has seen nothing (the sender then replays), and room is
// made for new streams.
TEST(EndpointBounds, IdleStreamStateIsDroppedAndTheStreamReplayed) {
  Endpoint ep(Unique("idle"), "max_streams = 4\nstream_idle = 200ms\n");
  ASSERT_TRUE(ep.status().ok()) << ep.status().ToString();
  auto ch = transport::Connect(ep.address());
  ASSERT_TRUE(ch.ok());
  for (int i = 0; i < 4; ++i) {
    SendInvoke(**ch, i + 1, "s" + std::to_string(i), 0);
    EXPECT_FALSE(NextStatus(**ch).IsBusy());
  }
  SendInvoke(**ch, 10, "s4", 0);
  EXPECT_TRUE(NextStatus(**ch).IsBusy());
  for (int i = 0; i < 100 && ep.server().stream_states() > 0; ++i)
    std::this_thread::sleep_for(50ms);
  ASSERT_EQ(ep.server().stream_states(), 0u) << "idle streams were not dropped";
  // s0 returns with its second item: its state is gone, so the endpoint asks for a replay.
  transport::InvokeResult r;
  SendInvoke(**ch, 11, "s0", 1);
  Status s = NextStatus(**ch, &r);
  EXPECT_TRUE(r.stream_mismatch) << s.ToString();
  EXPECT_EQ(r.stream_position, 0u);
  SendInvoke(**ch, 12, "s4", 0);
  EXPECT_FALSE(NextStatus(**ch).IsBusy());
}

// Tasks in flight are bounded per client: tasks stuck on a silent origin fill
// max_tasks, and the next one is refused at once.
TEST(EndpointBounds, TasksInFlightBeyondTheBoundAreRefused) {
  EndpointServerOptions o;
  o.connect_timeout = 1s;
  Endpoint ep(Unique("tasks"), "max_tasks = 3\n", o);
  ASSERT_TRUE(ep.status().ok()) << ep.status().ToString();
  auto silent = transport::Listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(silent.ok());
  auto ch = transport::Connect(ep.address());
  ASSERT_TRUE(ch.ok());
  for (int i = 0; i < 5; ++i)
    SendInvoke(**ch, i + 1, "", 0, {MissingKey(i)}, (*silent)->address());
  // The two refusals come first: the three admitted wait for their origin.
  for (int i = 0; i < 2; ++i) {
    Status s = NextStatus(**ch);
    EXPECT_TRUE(s.IsBusy()) << s.ToString();
    EXPECT_NE(s.message().find("max_tasks"), std::string_view::npos) << s.ToString();
  }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(NextStatus(**ch).IsUnavailable());
}

// ---- the run's data server --------------------------------------------------

struct KeyPair {
  std::string pub, sec;
};
KeyPair NewPair() {
  auto p = transport::NewCurveKeyPair();
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? KeyPair{p->first, p->second} : KeyPair{};
}

// Pulls `key` from the data server as the holder of `own` (null: plain text).
Result<Blob> PullAs(const FunctionManager& fm, const KeyPair* own, const std::string& key) {
  transport::ChannelOptions c;
  if (own != nullptr) {
    c.curve_server_key = fm.curve_public_key();
    c.curve_public_key = own->pub;
    c.curve_secret_key = own->sec;
  }
  auto ch = transport::Connect(fm.data_address(), c);
  if (!ch.ok()) return ch.status();
  transport::BulkOptions bulk;
  bulk.timeout = 1500ms;
  return transport::FetchObject(**ch, key, bulk);
}

// With CURVE endpoints, the data server serves a task's inputs to the
// endpoint the task went to, and to no one else: not to strangers, with or
// without a key, and not to another of the run's endpoints.
TEST(DataServer, ServesTheInputsOfATaskOnlyToItsEndpoint) {
  const KeyPair e1 = NewPair(), e2 = NewPair(), stranger = NewPair();
  // Nothing listens there: the task stays in flight while its resends fail.
  const std::string ep1 = "tcp://127.0.0.1:" + std::to_string(FreePort());
  const std::string ep2 = "tcp://127.0.0.1:" + std::to_string(FreePort());
  ClientStore store(Unique("grants"));
  FunctionManagerOptions o;
  o.store = &store;
  o.retries = 1000;
  o.curve_server_keys = {{ep1, e1.pub}, {ep2, e2.pub}};
  auto fm = FunctionManager::Create(o);
  ASSERT_TRUE(fm.ok()) << fm.status().ToString();
  ASSERT_EQ((*fm)->curve_public_key().size(), 40u);
  auto sent = store.Put("input of the task");
  auto other = store.Put("an object no task names");
  ASSERT_TRUE(sent.ok() && other.ok());
  const std::string sent_key = sent->key()->ToHex(), other_key = other->key()->ToHex();
  TaskSpec t{ep1, "qrs", {sent_key}};
  t.timeout = 20s;
  (*fm)->Submit(t);

  auto got = PullAs(**fm, &e1, sent_key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->view(), "input of the task");
  Status not_sent = PullAs(**fm, &e1, other_key).status();
  EXPECT_TRUE(not_sent.IsInvalidArgument()) << not_sent.ToString();
  EXPECT_NE(not_sent.message().find("not an input"), std::string_view::npos);
  Status other_endpoint = PullAs(**fm, &e2, sent_key).status();
  EXPECT_TRUE(other_endpoint.IsInvalidArgument()) << other_endpoint.ToString();
  // Strangers are not let in at all: no reply.
  EXPECT_TRUE(PullAs(**fm, &stranger, sent_key).status().IsTimeout());
  EXPECT_TRUE(PullAs(**fm, nullptr, sent_key).status().IsTimeout());
}

// Without CURVE, the data server still serves only inputs of tasks in flight.
TEST(DataServer, PlainTextServesOnlyInputsOfTasksInFlight) {
  ClientStore store(Unique("plain"));
  FunctionManagerOptions o;
  o.store = &store;
  o.retries = 1000;
  auto fm = FunctionManager::Create(o);
  ASSERT_TRUE(fm.ok());
  auto sent = store.Put("input of the plain task");
  auto other = store.Put("another object");
  ASSERT_TRUE(sent.ok() && other.ok());
  TaskSpec t{"tcp://127.0.0.1:" + std::to_string(FreePort()), "qrs", {sent->key()->ToHex()}};
  t.timeout = 20s;
  (*fm)->Submit(t);
  EXPECT_TRUE(PullAs(**fm, nullptr, sent->key()->ToHex()).ok());
  EXPECT_TRUE(PullAs(**fm, nullptr, other->key()->ToHex()).status().IsInvalidArgument());
}

// ---- clients_file through a real `overlay endpoint` --------------------------

// `overlay endpoint` as a child process with its own config; killed at the end.
class CurveChild {
 public:
  CurveChild(const std::string& name, const std::string& config) : name_(name) {
    dir_ = std::filesystem::temp_directory_path() / Unique("curve-" + name);
    std::filesystem::create_directories(dir_);
    const std::string cfg = (dir_ / "endpoint.cfg").string();
    std::ofstream(cfg) << config;
    std::string bin = std::string(OVERLAY_BINARY_DIR) + "/core/overlay";
    const std::string log = (dir_ / "endpoint.log").string();
    std::vector<std::string> args = {bin,  "endpoint", "--config", cfg,
                                     "--name", name,   "--log",    log};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, bin.c_str(), nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
  }
  ~CurveChild() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    (void)storage::ShmCache::Remove("overlay-" + name_);
    std::filesystem::remove_all(dir_);
  }
  bool running() const { return pid_ > 0; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::string name_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

TEST(EndpointCurve, ClientsFileOfARealEndpointServesListedKeysOnly) {
  const KeyPair server = NewPair(), listed = NewPair(), unlisted = NewPair();
  const std::string name = Unique("clients");
  const std::string address = "tcp://127.0.0.1:" + std::to_string(FreePort());
  const auto keys_dir = std::filesystem::temp_directory_path() / Unique("keys");
  std::filesystem::create_directories(keys_dir);
  const std::string secret = (keys_dir / "server.key").string();
  const std::string clients = (keys_dir / "clients").string();
  std::ofstream(secret) << server.sec << "\n";
  std::ofstream(clients) << "# the only client\n" << listed.pub << "\n";
  CurveChild child(name, "[FUNCTION]\nname = qrs\nbuiltin = qrs_detector\n[END]\n"
                         "[ENDPOINT]\nname = " + name + "\naddress = " + address +
                             "\ncurve_public = " + server.pub + "\ncurve_secret_file = " +
                             secret + "\nclients_file = " + clients +
                             "\n[END]\n[STORAGE]\nmemory = 32MiB\n[END]\n");
  ASSERT_TRUE(child.running());

  auto manager = [&](const KeyPair& own, ObjectStore* store) {
    FunctionManagerOptions o;
    o.store = store;
    o.curve_server_keys[address] = server.pub;
    o.curve_public_key = own.pub;
    o.curve_secret_key = own.sec;
    return FunctionManager::Create(o);
  };
  ClientStore store(Unique("listed"));
  auto good = manager(listed, &store);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  // Wait (bounded) until the endpoint answers the listed client.
  Status up = Status::Timeout("never answered");
  for (int i = 0; i < 50 && !up.IsNotFound(); ++i) {
    TaskSpec ping{address, "no_such_function"};
    ping.timeout = 500ms;
    up = (*good)->Call(ping).status;
  }
  ASSERT_TRUE(up.IsNotFound()) << "the endpoint never answered the listed client: "
                               << up.ToString();
  // The listed client is served, inputs pulled from its CURVE data server included.
  ASSERT_NO_FATAL_FAILURE(RunLegitStream(**good, store, address, "listed", 4));

  auto bad = manager(unlisted, nullptr);
  ASSERT_TRUE(bad.ok());
  TaskSpec t{address, "no_such_function"};
  t.timeout = 1500ms;
  Status refused = Wait(**bad, (*bad)->Submit(t)).status;
  EXPECT_TRUE(refused.IsTimeout() || refused.IsUnavailable())
      << "an unlisted client was answered: " << refused.ToString();
  std::filesystem::remove_all(keys_dir);
}

}  // namespace
}  // namespace overlay
