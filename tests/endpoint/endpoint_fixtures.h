// SPDX-License-Identifier: Apache-2.0
// Shared by the endpoint test files: a client data container, synthetic ECG
// chunks and their local QRS results, endpoint daemons in this process or as
// child processes, and checks of remote outcomes against local ones.
#ifndef OVERLAY_TESTS_ENDPOINT_ENDPOINT_FIXTURES_H_
#define OVERLAY_TESTS_ENDPOINT_ENDPOINT_FIXTURES_H_

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/sensor_chunks.h"
#include "overlay/config.h"
#include "overlay/endpoint_server.h"
#include "overlay/function.h"
#include "overlay/function_manager.h"
#include "overlay/storage/container_store.h"
#include "overlay/storage/data_container.h"
#include "overlay/storage/shm_cache.h"
#include "overlay/transport/channel.h"
#include "overlay/transport/wire.h"

extern char** environ;

namespace overlay::endpoint_test {

using namespace std::chrono_literals;

inline constexpr auto kWait = 20s;  // bound of every wait for a result

inline std::string Unique(const std::string& what) {
  return "ovl-ept-" + what + "-" + std::to_string(::getpid());
}

// The client's own data container as the manager's ObjectStore. Its objects
// are not transient: the tests hand the manager keys and let go of the Blobs,
// where a run would hold each input until its task is done (and a transient
// one is dropped with its last pin).
class ClientStore : public storage::ContainerStore {
 public:
  explicit ClientStore(const std::string& segment)
      : ContainerStore(nullptr, /*transient=*/false), segment_(segment) {
    StorageOptions o;
    o.segment = segment;
    o.memory = 32ull << 20;
    auto c = storage::DataContainer::Open(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (c.ok()) container_ = std::move(*c);
    set_container(container_.get());
  }
  ~ClientStore() override {
    container_.reset();
    (void)storage::ShmCache::Remove(segment_);
  }
  bool ok() const { return container_ != nullptr; }

 private:
  std::string segment_;
  std::unique_ptr<storage::DataContainer> container_;
};

inline constexpr char kPatient[] =
    "# overlay-synthetic-ecg\nduration_s = 30\nhr_bpm = 80\nseed = 5\nnoise_mv = 0.03\n";

// Chunk files of one synthetic patient, as the sensor simulator writes them.
inline std::vector<NamedBlob> Chunks(const std::string& stream) {
  return testing_common::SensorChunks(kPatient, stream, 1000);
}

// What the QRS detector gives locally: per chunk, then at the end of the stream.
inline std::vector<std::vector<NamedBlob>> LocalQrs(const std::string& stream,
                                             const std::vector<NamedBlob>& chunks) {
  auto fn = MakeFunction(FunctionSpec{"qrs", "qrs_detector", "", {}});
  EXPECT_TRUE(fn.ok());
  auto state = (*fn)->NewStream(stream);
  std::vector<std::vector<NamedBlob>> out;
  uint64_t seq = 0;
  for (const auto& c : chunks) {
    Task t;
    t.stream = stream;
    t.seq = seq++;
    t.state = state.get();
    t.inputs.push_back(c);
    EXPECT_TRUE((*fn)->Process(t).ok());
    out.push_back(t.outputs);
  }
  Task end;
  end.stream = stream;
  end.seq = seq;
  end.state = state.get();
  EXPECT_TRUE((*fn)->EndStream(end).ok());
  out.push_back(end.outputs);
  return out;
}

inline std::string Config(const std::string& endpoint, const std::string& address) {
  return "[FUNCTION]\nname = qrs\nbuiltin = qrs_detector\n[END]\n"
         "[ENDPOINT]\nname = " +
         endpoint + "\naddress = " + address +
         "\nworkers = 2\n[END]\n"
         "[STORAGE]\nmemory = 32MiB\n[END]\n";
}

// A TCP port free at the time of the call (the daemon binds it next).
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

// Waits (bounded) for the task's outcome; Timeout when none came.
inline TaskOutcome Wait(FunctionManager& fm, uint64_t id) {
  auto f = fm.Result(id);
  if (f.wait_for(kWait) != std::future_status::ready)
    return TaskOutcome{Status::Timeout("test gave up waiting")};
  return f.get();
}

// Checks the remote outcome against the local outputs, fetching the bytes.
inline void ExpectSameOutputs(FunctionManager& fm, const std::string& endpoint, const TaskOutcome& got,
                       const std::vector<NamedBlob>& want) {
  ASSERT_TRUE(got.status.ok()) << got.status.ToString();
  ASSERT_EQ(got.outputs.size(), want.size());
  ASSERT_EQ(got.output_names.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got.output_names[i], want[i].name);
    auto bytes = fm.FetchOutput(endpoint, got.outputs[i]);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    EXPECT_EQ(bytes->view(), want[i].data.view()) << want[i].name;
  }
}

// ---- in-process daemon ------------------------------------------------------

class InProcessEndpoint {
 public:
  InProcessEndpoint(const std::string& name, const std::string& listen) {
    auto spec = ParseConfigText(Config(name, listen), "<test>", ".");
    EXPECT_TRUE(spec.ok()) << spec.status().ToString();
    segment_ = "overlay-" + name;
    EndpointServerOptions o;
    auto s = EndpointServer::Create(*spec, name, o);
    status_ = s.status();
    if (!s.ok()) return;
    server_ = std::move(*s);
    server_->Start();
  }
  ~InProcessEndpoint() {
    server_.reset();
    (void)storage::ShmCache::Remove(segment_);
  }
  const Status& status() const { return status_; }
  const std::string& address() const { return server_->address(); }

 private:
  Status status_;
  std::string segment_;
  std::unique_ptr<EndpointServer> server_;
};

// ---- the daemon as a child process --------------------------------------------

class ChildEndpoint {
 public:
  // `config` defaults to Config(name, address).
  ChildEndpoint(std::string name, std::string address, const std::string& config = "")
      : name_(std::move(name)), address_(std::move(address)) {
    dir_ = std::filesystem::temp_directory_path() / Unique("cfg-" + name_);
    std::filesystem::create_directories(dir_);
    config_ = (dir_ / "endpoint.cfg").string();
    std::ofstream(config_) << (config.empty() ? Config(name_, address_) : config);
  }
  ~ChildEndpoint() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    (void)storage::ShmCache::Remove("overlay-" + name_);
    std::filesystem::remove_all(dir_);
  }

  // Starts `overlay endpoint` and waits (bounded) until it answers a heartbeat.
  ::testing::AssertionResult Start() {
    std::string bin = std::string(OVERLAY_BINARY_DIR) + "/core/overlay";
    // Its log stays in the test's folder, not the machine's default place.
    std::vector<std::string> args = {bin,     "endpoint", "--config", config_, "--name",
                                     name_,   "--log",    log()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, bin.c_str(), nullptr, nullptr, argv.data(), environ) != 0)
      return ::testing::AssertionFailure() << "cannot spawn " << bin;
    for (int i = 0; i < 100; ++i) {
      auto ch = transport::Connect(address_);
      if (ch.ok()) {
        auto hb = (*ch)->Call(
            transport::MakeMessage(transport::EncodeHeartbeat(1, transport::Heartbeat{"t", 1, 0})),
            200ms);
        if (hb.ok()) return ::testing::AssertionSuccess();
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return ::testing::AssertionFailure() << "endpoint exited during start-up";
      }
      std::this_thread::sleep_for(100ms);
    }
    return ::testing::AssertionFailure() << "endpoint never answered a heartbeat";
  }

  // Sends `sig` and waits (bounded) for the exit; returns the wait status or -1.
  int Signal(int sig) {
    kill(pid_, sig);
    for (int i = 0; i < 200; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(50ms);
    }
    return -1;
  }

  void Pause() { kill(pid_, SIGSTOP); }
  const std::string& address() const { return address_; }
  // The daemon's event log.
  std::string log() const { return (dir_ / "endpoint.log").string(); }

 private:
  std::string name_, address_, config_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};


// ---- a stream through a (remote) function while endpoints die -----------------

// Manager options for tests that kill endpoints: short waits, so a lost or
// restarted endpoint is noticed within a second.
inline FunctionManagerOptions KillTestOptions(ObjectStore* store) {
  FunctionManagerOptions o;
  o.store = store;
  o.timeout = 5s;
  o.heartbeat_interval = 100ms;
  o.heartbeat_timeout = 500ms;
  return o;
}

// Item `i` of a stream of `chunks` as the executor hands it over; past the
// last chunk, the stream's end (no inputs).
inline Task StreamItem(const std::string& stream, const std::vector<NamedBlob>& chunks, size_t i) {
  Task t;
  t.stream = stream;
  t.seq = i;
  if (i < chunks.size()) t.inputs.push_back(chunks[i]);
  return t;
}

// Process, or EndStream for an item without inputs.
inline Status RunItem(const Function& fn, Task& t) {
  return t.inputs.empty() ? fn.EndStream(t) : fn.Process(t);
}

// Runs `t` while its endpoint dies: stopped, the endpoint takes the Invoke but
// cannot answer; killed, it loses it. Restarted afterwards when `restart`.
inline Status RunItemWhileKilled(const Function& fn, Task& t, ChildEndpoint& ep, bool restart) {
  Status s;
  ep.Pause();
  std::thread call([&] { s = RunItem(fn, t); });
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(WIFSIGNALED(ep.Signal(SIGKILL)));
  if (restart) {
    EXPECT_TRUE(ep.Start());
  }
  call.join();
  return s;
}

// The item ran and gave what the uninterrupted local run gives.
inline void ExpectItemLikeLocal(const Status& s, const Task& t, const std::vector<NamedBlob>& want,
                                size_t i) {
  ASSERT_TRUE(s.ok()) << "item " << i << ": " << s.ToString();
  ASSERT_EQ(t.outputs.size(), want.size()) << "item " << i;
  for (size_t k = 0; k < want.size(); ++k) {
    EXPECT_EQ(t.outputs[k].name, want[k].name);
    EXPECT_EQ(t.outputs[k].data.view(), want[k].data.view()) << "item " << i;
  }
}
// Every result file under `dir`, by relative path (not the run's manifest,
// which names its own paths and times).
inline std::map<std::string, std::string> Tree(const std::filesystem::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == "manifest.json") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    files[std::filesystem::relative(e.path(), dir).string()] = ss.str();
  }
  return files;
}

// A two-stage ECG pipeline: the simulator locally, the detector on `endpoint`
// (or locally when `address` is empty).

}  // namespace overlay::endpoint_test

#endif  // OVERLAY_TESTS_ENDPOINT_ENDPOINT_FIXTURES_H_
