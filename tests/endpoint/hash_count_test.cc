// SPDX-License-Identifier: Apache-2.0
// Content hashes across two processes: an object is hashed once on the node
// that stores it first, and once more on a node that receives it from
// another (the check of the bytes against their key), never again. The
// endpoint runs as a child process (overlay_counting_endpoint, the
// EndpointServer of `overlay endpoint`), which reports its own hash count.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "endpoint_fixtures.h"

namespace overlay {
namespace {

using namespace endpoint_test;

// The counting endpoint with pipes to its stdin and stdout.
// Thread-safety: one thread. Ownership: kills (SIGKILL) and reaps the child.
class CountingEndpoint {
 public:
  explicit CountingEndpoint(const std::string& name) : name_(name) {
    address_ = "tcp://127.0.0.1:" + std::to_string(FreePort());
    dir_ = std::filesystem::temp_directory_path() / Unique("cfg-" + name_);
    std::filesystem::create_directories(dir_);
    config_ = (dir_ / "endpoint.cfg").string();
    std::ofstream(config_) << Config(name_, address_);
  }
  ~CountingEndpoint() {
    if (to_child_ >= 0) close(to_child_);
    if (from_child_ >= 0) close(from_child_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    (void)storage::ShmCache::Remove("overlay-" + name_);
    std::filesystem::remove_all(dir_);
  }

  ::testing::AssertionResult Start() {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
      return ::testing::AssertionFailure() << "pipe failed";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    std::string bin = OVERLAY_COUNTING_ENDPOINT;
    std::vector<std::string> args = {bin, config_, name_};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    to_child_ = in[1];
    from_child_ = out[0];
    if (rc != 0) {
      pid_ = -1;
      return ::testing::AssertionFailure() << "cannot spawn " << bin;
    }
    std::string line = ReadLine();
    if (line != "listening " + address_)
      return ::testing::AssertionFailure() << "endpoint did not start: '" << line << "'";
    return ::testing::AssertionSuccess();
  }

  // The child's ObjectKey::HashCount(); -1 when it did not answer in time.
  int64_t Hashes() {
    if (write(to_child_, "hashes\n", 7) != 7) return -1;
    std::string line = ReadLine();
    if (line.empty()) return -1;
    return std::stoll(line);
  }

  const std::string& address() const { return address_; }

 private:
  // One line of the child's stdout (without the newline); empty after kWait.
  std::string ReadLine() {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    for (;;) {
      const size_t nl = buffered_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffered_.substr(0, nl);
        buffered_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{from_child_, POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
      char buf[256];
      const ssize_t n = read(from_child_, buf, sizeof buf);
      if (n <= 0) return "";
      buffered_.append(buf, static_cast<size_t>(n));
    }
  }

  std::string name_, address_, config_, buffered_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int to_child_ = -1, from_child_ = -1;
};

// A QRS stream run on another node: the manager's node hashes each input it
// stores and each output it fetches (its check on arrival); the endpoint's
// node hashes each input it pulls (the check) and each output it stores.
TEST(HashCountAcrossNodes, OnceWhereStoredAndOnceMoreWhereReceived) {
  CountingEndpoint ep(Unique("count"));
  ASSERT_TRUE(ep.Start());
  ClientStore store(Unique("count-client"));
  ASSERT_TRUE(store.ok());
  FunctionManagerOptions o;
  o.store = &store;
  o.data_address = "tcp://127.0.0.1:0";
  auto fm = FunctionManager::Create(o);
  ASSERT_TRUE(fm.ok()) << fm.status().ToString();

  const std::string stream = "ward/count";
  std::vector<NamedBlob> chunks = Chunks(stream);
  ASSERT_GT(chunks.size(), 10u);
  auto local = LocalQrs(stream, chunks);

  const uint64_t here_before = ObjectKey::HashCount();
  const int64_t there_before = ep.Hashes();
  ASSERT_GE(there_before, 0) << "the endpoint did not report its hash count";
  std::set<std::string> inputs, outputs;
  for (size_t i = 0; i <= chunks.size(); ++i) {
    TaskSpec t{ep.address(), "qrs", {}, {}, "qrs", stream, i, i == chunks.size()};
    t.position = i;
    if (i < chunks.size()) {
      auto stored = store.Put(chunks[i].data.view());
      ASSERT_TRUE(stored.ok());
      t.inputs = {stored->key()->ToHex()};
      t.input_names = {chunks[i].name};
      inputs.insert(t.inputs[0]);
    }
    TaskOutcome got = Wait(**fm, (*fm)->Submit(t));
    ASSERT_NO_FATAL_FAILURE(ExpectSameOutputs(**fm, ep.address(), got, local[i])) << "item " << i;
    outputs.insert(got.outputs.begin(), got.outputs.end());
  }
  // Distinct objects, so every hash counted belongs to a different object.
  ASSERT_EQ(inputs.size(), chunks.size());
  ASSERT_GT(outputs.size(), 0u);
  size_t output_count = 0;
  for (const auto& per_item : local) output_count += per_item.size();
  ASSERT_EQ(outputs.size(), output_count) << "two outputs with the same bytes";

  const uint64_t here = ObjectKey::HashCount() - here_before;
  const int64_t there = ep.Hashes() - there_before;
  EXPECT_EQ(here, inputs.size() + outputs.size())
      << "manager's node: 1 per input stored + 1 per output received";
  EXPECT_EQ(there, static_cast<int64_t>(inputs.size() + outputs.size()))
      << "endpoint's node: 1 per input received + 1 per output stored";
}

}  // namespace
}  // namespace overlay
