// SPDX-License-Identifier: Apache-2.0
// The progress line of `overlay run`: its text, and that it is drawn on a
// terminal from the start and nowhere else.
#include "progress_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace overlay {
namespace {

using ::testing::HasSubstr;

Progress Start() {
  Progress p;
  p.streams_total = 4;
  p.input_bytes_total = 4'000'000;
  p.stages = {{"stage1", 0, 0}, {"stage2", 0, 0}};
  return p;
}

TEST(ProgressText, ShowsEveryStageBeforeTheFirstTask) {
  std::string line = ProgressText(Start(), 0);
  EXPECT_THAT(line, HasSubstr("stage1 0, stage2 0"));
  EXPECT_THAT(line, HasSubstr("streams 0/4"));
  EXPECT_THAT(line, HasSubstr("input 0%"));
  EXPECT_THAT(line, HasSubstr("ETA --:--"));
}

TEST(ProgressText, ShowsShareRateAndTimeLeft) {
  Progress p = Start();
  p.stages[0].tasks_ok = 12;
  p.stages[1].tasks_ok = 7;
  p.stages[1].tasks_failed = 1;
  p.input_bytes_read = 1'000'000;
  p.streams_done = 1;
  std::string line = ProgressText(p, 10);
  EXPECT_THAT(line, HasSubstr("stage1 12, stage2 7 (1 failed)"));
  EXPECT_THAT(line, HasSubstr("input 25%"));
  EXPECT_THAT(line, HasSubstr("100.0 kB/s"));
  EXPECT_THAT(line, HasSubstr("ETA 0:30"));  // 3 MB left at 100 kB/s
  EXPECT_THAT(line, HasSubstr("| 0:10"));
}

TEST(ProgressText, FallsBackToStreamsWithoutByteCounts) {
  Progress p = Start();
  p.input_bytes_total = 0;
  p.streams_done = 2;
  EXPECT_THAT(ProgressText(p, 5), HasSubstr("input 50%"));
}

// `overlay run` with stderr on a terminal draws the line from the start; with
// stderr on a pipe it draws nothing.
TEST(ProgressLine, DrawnOnlyOnATerminal) {
  const std::string overlay = std::string(OVERLAY_BINARY_DIR) + "/core/overlay";
  auto run = [&](bool tty) {
    int master = -1;
    int pipe_fds[2];
    EXPECT_EQ(::pipe(pipe_fds), 0);
    pid_t pid = tty ? ::forkpty(&master, nullptr, nullptr, nullptr) : ::fork();
    if (pid == 0) {
      if (!tty) ::dup2(pipe_fds[1], STDERR_FILENO);
      ::dup2(::open("/dev/null", O_WRONLY), STDOUT_FILENO);
      if (::chdir(OVERLAY_SOURCE_DIR) != 0) ::_exit(127);
      ::execl(overlay.c_str(), overlay.c_str(), "run", "configs/ecg.cfg", "--no-store",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    const int fd = tty ? master : pipe_fds[0];
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
    ::close(fd);
    if (tty) ::close(pipe_fds[0]);
    return text;
  };
  const std::string tty = run(true);
  EXPECT_THAT(tty, HasSubstr("\rstage1 0, stage2 0, stage3 0 | streams 0/4 | input 0%"));
  EXPECT_THAT(tty, HasSubstr("streams 4/4 | input 100%"));
  EXPECT_THAT(run(false), ::testing::Not(HasSubstr("streams")));
}


TEST(WaitingText, NamesBusyEndpointsSilentForASecondOrMore) {
  PipelineSpec spec;
  spec.endpoints.push_back(EndpointDecl{});
  spec.endpoints[0].name = "cloud";
  spec.endpoints[0].address = "tcp://10.0.0.3:7002";
  using std::chrono::milliseconds;
  std::vector<EndpointContact> contacts = {
      {"tcp://10.0.0.3:7002", milliseconds(4200), true, false},
      {"tcp://10.0.0.9:1", milliseconds(1000), true, true},    // not in the config: its address
      {"tcp://10.0.0.4:1", milliseconds(900), true, true},     // heard recently
      {"tcp://10.0.0.5:1", milliseconds(60000), false, true},  // idle: not waited for
  };
  EXPECT_EQ(WaitingText(contacts, spec), "waiting for cloud (4 s), tcp://10.0.0.9:1 (1 s)");
  EXPECT_EQ(WaitingText({}, spec), "");
}

}  // namespace
}  // namespace overlay
