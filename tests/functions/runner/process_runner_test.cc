// SPDX-License-Identifier: Apache-2.0
// The runner itself never uses a shell; /bin/sh appears here only as a test
// subject started by execve, to script children and grandchildren.
#include "overlay/process_runner.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "file_util.h"
#include "temp_dir.h"

namespace overlay {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;

RunResult MustRun(const RunOptions& o) {
  Result<RunResult> r = RunProcess(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : RunResult{};
}

RunOptions Cmd(std::vector<std::string> argv) {
  RunOptions o;
  o.argv = std::move(argv);
  return o;
}

RunOptions Sh(std::string script) { return Cmd({"/bin/sh", "-c", std::move(script)}); }

// True once `pid` is gone or a zombie (an orphan waits there for init).
bool ProcessEnds(pid_t pid) {
  for (int i = 0; i < 500; ++i) {  // bounded: 500 × 10 ms
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    size_t paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z')
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// No child of this process is left unreaped.
void ExpectNoChildren() {
  int status;
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ProcessRunnerTest, CapturesExitCodeStdoutAndStderr) {
  RunResult r = MustRun(Sh("echo out; echo err >&2; exit 3"));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.success());
  EXPECT_EQ(r.out.tail, "out\n");
  EXPECT_EQ(r.err.tail, "err\n");
  EXPECT_FALSE(r.out.truncated());
  EXPECT_EQ(r.Describe(), "exit code 3");
  EXPECT_EQ(r.StderrTail(), "err");
  ExpectNoChildren();
}

TEST(ProcessRunnerTest, ZeroExitIsSuccess) {
  RunResult r = MustRun(Cmd({"/bin/true"}));
  EXPECT_TRUE(r.success());
  EXPECT_EQ(r.exit_code, 0);
}

TEST(ProcessRunnerTest, BareNameIsSearchedOnPath) {
  RunResult r = MustRun(Cmd({"echo", "hello", "world"}));
  EXPECT_EQ(r.out.tail, "hello world\n");
  Result<std::string> where = ResolveProgram("sh", "/nonexistent:/bin:/usr/bin");
  ASSERT_TRUE(where.ok());
  EXPECT_EQ(*where, "/bin/sh");
}

TEST(ProcessRunnerTest, PathFromEnvIsUsedForTheSearch) {
  Result<detail::TempDir> dir = detail::TempDir::Create(::testing::TempDir(), "runner-path-");
  ASSERT_TRUE(dir.ok());
  const std::string tool = dir->path() + "/my-tool";
  ASSERT_TRUE(detail::WriteNewFile(tool, "#!/bin/sh\necho from-my-tool\n").ok());
  ASSERT_EQ(::chmod(tool.c_str(), 0700), 0);
  RunOptions o = Cmd({"my-tool"});
  o.env = {{"PATH", dir->path() + ":/bin:/usr/bin"}};
  EXPECT_EQ(MustRun(o).out.tail, "from-my-tool\n");
}

TEST(ProcessRunnerTest, PassesEnvAndCwd) {
  RunOptions o = Sh("printf '%s|%s|' \"$OVERLAY_X\" \"$HOME\"; pwd");
  o.env = {{"OVERLAY_X", "a b;c"}, {"HOME", "/nowhere"}};
  o.cwd = "/";
  RunResult r = MustRun(o);
  EXPECT_EQ(r.out.tail, "a b;c|/nowhere|/\n");
}

TEST(ProcessRunnerTest, StdinIsDevNullAndNoDescriptorLeaks) {
  // A descriptor the caller opened without O_CLOEXEC must not reach the child.
  int leaked = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaked, 0);
  RunResult cat = MustRun(Cmd({"/bin/cat"}));  // would block on an inherited stdin
  EXPECT_TRUE(cat.success());
  EXPECT_EQ(cat.out.tail, "");
  RunResult fds = MustRun(Cmd({"/bin/ls", "/proc/self/fd"}));
  RunResult in = MustRun(Cmd({"/bin/readlink", "/proc/self/fd/0"}));
  ::close(leaked);
  EXPECT_EQ(fds.out.tail, "0\n1\n2\n3\n");  // 3: ls's own directory handle
  EXPECT_EQ(in.out.tail, "/dev/null\n");
}

TEST(ProcessRunnerTest, MissingExecutableIsAClearError) {
  Result<RunResult> r = RunProcess(Cmd({"/nonexistent/overlay-prog", "x"}));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound());
  EXPECT_EQ(r.status().message(),
            "cannot execute '/nonexistent/overlay-prog': No such file or directory");

  r = RunProcess(Cmd({"overlay-no-such-program"}));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("cannot execute 'overlay-no-such-program': No such file or directory"));
  ExpectNoChildren();
}

TEST(ProcessRunnerTest, NonExecutableFileIsAClearError) {
  Result<detail::TempDir> dir = detail::TempDir::Create(::testing::TempDir(), "runner-noexec-");
  ASSERT_TRUE(dir.ok());
  const std::string file = dir->path() + "/data.txt";
  ASSERT_TRUE(detail::WriteNewFile(file, "not a program\n").ok());
  Result<RunResult> r = RunProcess(Cmd({file}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cannot execute '" + file + "': Permission denied");
  ExpectNoChildren();
}

TEST(ProcessRunnerTest, MissingCwdIsAnError) {
  RunOptions o = Cmd({"/bin/true"});
  o.cwd = "/nonexistent/overlay-dir";
  Result<RunResult> r = RunProcess(o);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("/nonexistent/overlay-dir"));
}

TEST(ProcessRunnerTest, ReportsTheKillingSignal) {
  RunResult r = MustRun(Sh("kill -KILL $$"));
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_FALSE(r.success());
  EXPECT_EQ(r.Describe(), "killed by SIGKILL (signal 9)");
}

TEST(ProcessRunnerTest, KeepsTheLastBytesOfLongOutput) {
  RunOptions o = Sh("seq 1 20000; seq 1 30000 >&2");
  o.max_output_bytes = 1000;
  RunResult r = MustRun(o);
  ASSERT_TRUE(r.success());
  EXPECT_EQ(r.out.tail.size(), 1000u);
  EXPECT_THAT(r.out.tail, EndsWith("19999\n20000\n"));
  EXPECT_TRUE(r.out.truncated());
  uint64_t seq_bytes = 0;  // digits plus newline of 1..20000
  for (int i = 1; i <= 20000; ++i) seq_bytes += std::to_string(i).size() + 1;
  EXPECT_EQ(r.out.total_bytes, seq_bytes);
  EXPECT_THAT(r.err.tail, EndsWith("30000\n"));
  EXPECT_EQ(r.StderrTail(20), "…29998\n29999\n30000");
}

TEST(ProcessRunnerTest, DrainsBothPipesWithoutDeadlock) {
  // 1 MiB on each stream: far beyond the 64 KiB pipe buffers.
  RunResult r = MustRun(Sh("head -c 1048576 /dev/zero >&2 & head -c 1048576 /dev/zero; wait"));
  EXPECT_TRUE(r.success());
  EXPECT_EQ(r.out.total_bytes, 1048576u);
  EXPECT_EQ(r.err.total_bytes, 1048576u);
  EXPECT_EQ(r.out.tail.size(), 64u * 1024);
}

TEST(ProcessRunnerTest, TimeoutKillsTheWholeProcessGroup) {
  RunOptions o = Sh("sleep 100 & echo $!; sleep 100");
  o.timeout_ms = 300;
  RunResult r = MustRun(o);
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.success());
  EXPECT_EQ(r.term_signal, SIGTERM);
  EXPECT_THAT(r.Describe(), HasSubstr("timed out after"));
  // Not a performance check: without the kill the sleeps would take 100 s.
  EXPECT_LT(r.elapsed_ms, 100000);
  pid_t grandchild = static_cast<pid_t>(std::stol(r.out.tail));
  EXPECT_TRUE(ProcessEnds(grandchild)) << "background sleep " << grandchild << " survived";
  ExpectNoChildren();
}

TEST(ProcessRunnerTest, TimeoutEscalatesToSigkill) {
  // An ignored SIGTERM is inherited by the sleep as well.
  RunOptions o = Sh("trap '' TERM; sleep 100");
  o.timeout_ms = 200;
  o.kill_grace_ms = 200;
  RunResult r = MustRun(o);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGKILL);
  ExpectNoChildren();
}

TEST(ProcessRunnerTest, BackgroundHelpersDieWhenTheChildExits) {
  // The background sleep keeps stdout open; the run still ends, and kills it.
  RunResult r = MustRun(Sh("sleep 100 & echo $!"));
  EXPECT_TRUE(r.success());
  EXPECT_FALSE(r.timed_out);
  pid_t grandchild = static_cast<pid_t>(std::stol(r.out.tail));
  EXPECT_TRUE(ProcessEnds(grandchild));
  ExpectNoChildren();
}

TEST(ProcessRunnerTest, RunsConcurrentlyFromSeveralThreads) {
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &ok] {
      for (int i = 0; i < 5; ++i) {
        std::string word = "t" + std::to_string(t) + "i" + std::to_string(i);
        Result<RunResult> r = RunProcess(Cmd({"/bin/echo", word}));
        if (r.ok() && r->out.tail == word + "\n") ++ok[t];
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(ok[t], 5) << "thread " << t;
  ExpectNoChildren();
}

}  // namespace
}  // namespace overlay
