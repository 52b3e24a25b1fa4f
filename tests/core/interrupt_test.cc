// SPDX-License-Identifier: Apache-2.0
// `overlay run` stopped by SIGINT/SIGTERM, and `overlay` dying of a signal:
// the exit code says which signal, and a stopped run leaves no command, no
// workspace and no state directory behind. /bin/sh is only a test subject
// here: the command a run starts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/overlay_cli.h"

extern char** environ;

namespace overlay {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A started `overlay` whose stderr goes to a file; killed and reaped if the
// test ends first.
class OverlayProcess {
 public:
  OverlayProcess(const std::vector<std::string>& args, const fs::path& err_file) {
    std::vector<std::string> words = {std::string(OVERLAY_BINARY_DIR) + "/core/overlay"};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~OverlayProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

  // The wait status once it ends, within `limit`; -1 if it did not.
  int Wait(std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

// True once `pid` is gone or a zombie of someone else.
bool Gone(pid_t pid) {
  for (int i = 0; i < 300; ++i) {  // bounded: 300 × 10 ms
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    const size_t paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z')
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string Read(const fs::path& p) {
  std::ifstream f(p);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// A config whose one command hangs, over four inputs in its own directory.
class SlowRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tag_ = "overlay-int-" + std::to_string(::getpid()) + "-" +
           std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
           std::to_string(++serial_);
    dir_ = fs::temp_directory_path() / tag_;
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "in");
    for (int i = 0; i < 4; ++i) std::ofstream(dir_ / "in" / (tag_ + "-" + std::to_string(i) + ".txt")) << i;
    // Input 0 ends at once with a result. The others record a setsid child
    // (which leaves the command's process group), their state directory and
    // their own pid in the workspace, then hang.
    std::ofstream(dir_ / "slow.sh")
        << "if ls \"$1\" | grep -q -- '-0[.]txt$'; then echo done > \"$1/result.txt\"; exit 0; fi\n"
           "setsid sleep 300 </dev/null >/dev/null 2>&1 &\n"
           "echo $! > \"$1/child.pid\"\n"
           "echo \"$OVERLAY_STATE_DIR\" > \"$1/state.dir\"\n"
           "echo $$ > \"$1/self.pid\"\n"
           "echo \"$1\" > \"$1/ready\"\n"
           "exec sleep 300\n";
    std::ofstream(dir_ / "slow.cfg") << "[FUNCTION]\nname = slow\ncommand = /bin/sh "
                                     << (dir_ / "slow.sh").string()
                                     << " @W\n[END]\n[STAGE]\nname = s1\nsource = in\n"
                                        "transformation = slow\n[END]\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Workspaces under /dev/shm that hold one of this test's inputs and are ready.
  std::vector<fs::path> ReadyWorkspaces() {
    std::vector<fs::path> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/dev/shm", ec)) {
      if (!e.path().filename().string().starts_with("overlay-task-")) continue;
      const fs::path w = e.path() / "w";
      bool ours = false;
      for (int i = 0; i < 4; ++i) ours |= fs::exists(w / (tag_ + "-" + std::to_string(i) + ".txt"), ec);
      if (ours && fs::exists(w / "ready", ec)) found.push_back(e.path());
    }
    return found;
  }

  // Waits (bounded: 30 s) until both workers run a command of this test.
  std::vector<fs::path> TwoReadyWorkspaces() {
    std::vector<fs::path> workspaces;
    for (int i = 0; i < 1500 && workspaces.size() < 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      workspaces = ReadyWorkspaces();
    }
    return workspaces;
  }

  static inline int serial_ = 0;
  std::string tag_;
  fs::path dir_;
};

class InterruptTest : public SlowRunTest, public ::testing::WithParamInterface<int> {};

TEST_P(InterruptTest, StopsCommandsRemovesWorkspacesAndExitsWith128PlusSignal) {
  const int sig = GetParam();
  const fs::path err = dir_ / "stderr";
  OverlayProcess run({"run", (dir_ / "slow.cfg").string(), "--no-store", "--quiet", "--workers",
                      "2", "--out", (dir_ / "out").string()},
                     err);
  const std::vector<fs::path> workspaces = TwoReadyWorkspaces();
  ASSERT_EQ(workspaces.size(), 2u) << Read(err);
  std::vector<pid_t> setsid_children;
  std::vector<fs::path> state_dirs;
  for (const fs::path& w : workspaces) {
    setsid_children.push_back(std::stoi(Read(w / "w" / "child.pid")));
    std::string state = Read(w / "w" / "state.dir");
    state_dirs.push_back(state.substr(0, state.find('\n')));
    EXPECT_TRUE(fs::is_directory(state_dirs.back()));
  }

  ASSERT_EQ(::kill(run.pid(), sig), 0);
  const int status = run.Wait(std::chrono::seconds(30));
  ASSERT_NE(status, -1) << "overlay did not exit; stderr:\n" << Read(err);
  ASSERT_TRUE(WIFEXITED(status)) << "died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 128 + sig) << Read(err);

  const std::string text = Read(err);
  EXPECT_THAT(text, HasSubstr(std::string("interrupted by ") +
                              (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                              ": 1 of 4 streams done, 3 tasks cancelled, 3 unfinished"));
  for (const fs::path& w : workspaces) EXPECT_FALSE(fs::exists(w)) << w;
  for (const fs::path& s : state_dirs) EXPECT_FALSE(fs::exists(s)) << s;
  for (pid_t child : setsid_children) EXPECT_TRUE(Gone(child)) << "setsid child " << child;
  EXPECT_TRUE(ReadyWorkspaces().empty());
  // --out keeps the finished stream only, and its manifest says the run was
  // interrupted.
  auto manifest = nlohmann::json::parse(Read(dir_ / "out" / "manifest.json"), nullptr, false);
  ASSERT_FALSE(manifest.is_discarded()) << text;
  EXPECT_EQ(manifest["interrupted"]["signal"], sig == SIGINT ? "SIGINT" : "SIGTERM");
  EXPECT_EQ(manifest["interrupted"]["streams_done"], 1);
  EXPECT_EQ(manifest["interrupted"]["unfinished_streams"].size(), 3u);
  EXPECT_EQ(Read(dir_ / "out" / "s1" / (tag_ + "-0") / "result.txt"), "done\n");
  std::vector<std::string> kept;
  for (const auto& e : fs::directory_iterator(dir_ / "out" / "s1")) kept.push_back(e.path().filename());
  EXPECT_EQ(kept, std::vector<std::string>{tag_ + "-0"});
}

// A second signal stops at once, even when commands ignore SIGTERM: they are
// SIGKILLed with what they started, and nothing of the run is left.
TEST_F(SlowRunTest, SecondSignalStopsAtOnce) {
  std::string script = Read(dir_ / "slow.sh");
  std::ofstream(dir_ / "slow.sh") << "trap '' TERM\n" << script;
  const fs::path err = dir_ / "stderr";
  OverlayProcess run({"run", (dir_ / "slow.cfg").string(), "--no-store", "--quiet", "--workers",
                      "2", "--out", (dir_ / "out").string()},
                     err);
  const std::vector<fs::path> workspaces = TwoReadyWorkspaces();
  ASSERT_EQ(workspaces.size(), 2u) << Read(err);
  std::vector<pid_t> commands;
  for (const fs::path& w : workspaces) {
    commands.push_back(std::stoi(Read(w / "w" / "child.pid")));
    commands.push_back(std::stoi(Read(w / "w" / "self.pid")));
  }
  ASSERT_EQ(::kill(run.pid(), SIGINT), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(::kill(run.pid(), SIGINT), 0);
  const int status = run.Wait(std::chrono::seconds(30));
  ASSERT_NE(status, -1) << Read(err);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_THAT(Read(err), HasSubstr("interrupted by SIGINT, stopped at once"));
  for (const fs::path& w : workspaces) EXPECT_FALSE(fs::exists(w)) << w;
  for (pid_t pid : commands) EXPECT_TRUE(Gone(pid)) << pid;
  EXPECT_FALSE(fs::exists(dir_ / "out" / "s1"));
  EXPECT_FALSE(fs::exists(dir_ / "out" / "manifest.json"));
}

// A crash of `overlay` itself keeps the default action, so the shell sees
// 128+N and names the signal: no handler turns it into exit 1.
TEST_F(SlowRunTest, CrashSignalsEndOverlayWithTheirDefaultAction) {
  const rlimit no_core{0, 0};
  ASSERT_EQ(::setrlimit(RLIMIT_CORE, &no_core), 0);  // inherited: no core file to write
  // AddressSanitizer turns SIGSEGV into a report and exit 1; the default action
  // is what is under test, so the child keeps it.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string saved = asan ? asan : "";
  ::setenv("ASAN_OPTIONS", (saved + (saved.empty() ? "" : ":") + "handle_segv=0").c_str(), 1);
  struct Restore {
    const char* had;
    std::string value;
    ~Restore() { had ? ::setenv("ASAN_OPTIONS", value.c_str(), 1) : ::unsetenv("ASAN_OPTIONS"); }
  } restore{asan, saved};
  for (int crash : {SIGSEGV, SIGABRT}) {
    OverlayProcess run({"run", (dir_ / "slow.cfg").string(), "--no-store", "--quiet"},
                       dir_ / "stderr");
    for (int i = 0; i < 1500 && ReadyWorkspaces().empty(); ++i)  // bounded: 30 s
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_FALSE(ReadyWorkspaces().empty()) << Read(dir_ / "stderr");
    ASSERT_EQ(::kill(run.pid(), crash), 0);
    const int status = run.Wait(std::chrono::seconds(30));
    ASSERT_NE(status, -1);
    ASSERT_TRUE(WIFSIGNALED(status)) << "exited with " << WEXITSTATUS(status);
    EXPECT_EQ(WTERMSIG(status), crash);
    // Its commands, now orphans of init, are this test's to stop.
    for (const fs::path& w : ReadyWorkspaces()) {
      ::kill(std::stoi(Read(w / "w" / "child.pid")), SIGKILL);
      ::kill(-std::stoi(Read(w / "w" / "self.pid")), SIGKILL);
      fs::remove_all(w);
    }
  }
}

// A command killed by a signal fails its item, naming the signal.
TEST_F(SlowRunTest, CommandKilledBySignalIsNamed) {
  for (const std::string name : {"SEGV", "ABRT"}) {
    const int sig = name == "SEGV" ? SIGSEGV : SIGABRT;
    std::ofstream(dir_ / "crash.cfg") << "[FUNCTION]\nname = crash\ncommand = /bin/sh -c 'kill -"
                                      << name << " $$'\n[END]\n[STAGE]\nname = s1\n"
                                         "source = in\ntransformation = crash\n[END]\n";
    RunResult r = testing::RunOverlay({"run", (dir_ / "crash.cfg").string(), "--no-store", "--quiet"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err.tail, HasSubstr("killed by SIG" + name + " (signal " + std::to_string(sig) + ")"));
  }
}

INSTANTIATE_TEST_SUITE_P(Signals, InterruptTest, ::testing::Values(SIGINT, SIGTERM),
                         [](const auto& info) { return info.param == SIGINT ? "SIGINT" : "SIGTERM"; });

}  // namespace
}  // namespace overlay
