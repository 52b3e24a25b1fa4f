// SPDX-License-Identifier: Apache-2.0
// A segment that cannot fit is refused before it is made, with the way out
// (--memory): past the free room of /dev/shm a write into it was a silent
// SIGBUS, past a cgroup memory limit the OOM killer's silent SIGKILL.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "overlay/memory_room.h"

namespace overlay {
namespace {

namespace fs = std::filesystem;

// Exit code of a child whose set-up the kernel refused: the test skips.
constexpr int kSetupRefused = 77;

struct Outcome {
  bool setup_refused = false;
  int exit_code = -1;  // 128+N when killed by signal N
  std::string output;  // stdout and stderr
};

class MemoryRoomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("overlay-room-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::remove_all(dir_);
    // The runs that fit made their segment in the real /dev/shm.
    std::error_code ec;
    fs::remove(fs::path("/dev/shm") / Segment(), ec);
  }

  static std::string Segment() { return "room-" + std::to_string(::getpid()); }

  // `overlay run configs/ecg.cfg` with `extra` flags in a child that first runs
  // `setup` (in the child, before exec), its disk tier under dir_, killed
  // after 240 s.
  Outcome RunDemo(const std::function<bool()>& setup, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {std::string(OVERLAY_BINARY_DIR) + "/core/overlay",
                                     "run", "configs/ecg.cfg", "--quiet",
                                     "--out", (dir_ / "out").string(),
                                     "--segment", Segment()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string xdg = "XDG_DATA_HOME=" + (dir_ / "data").string();
    std::vector<char*> envp = {xdg.data(), nullptr};
    const std::string out = (dir_ / "output.txt").string();
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd < 0 || ::dup2(fd, 1) < 0 || ::dup2(fd, 2) < 0 || ::chdir(OVERLAY_SOURCE_DIR) != 0)
        ::_exit(126);
      if (!setup()) ::_exit(kSetupRefused);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    Outcome o;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        ADD_FAILURE() << "overlay run did not end within 240 s";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::stringstream text;
    text << std::ifstream(out).rdbuf();
    o.output = text.str();
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    o.setup_refused = o.exit_code == kSetupRefused;
    return o;
  }

  fs::path dir_;
};

// A private mount namespace whose /dev/shm is a 32 MiB tmpfs (Docker's
// default is 64 MiB): the default 256 MiB L1 does not fit.
bool SmallDevShm() {
  return ::unshare(CLONE_NEWNS) == 0 &&
         ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
         ::mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=32m,mode=1777") == 0;
}

TEST_F(MemoryRoomTest, SmallDevShmRefusesTheSegmentAndNamesTheWayOut) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small /dev/shm needs root";
  Outcome big = RunDemo(SmallDevShm, {});
  if (big.setup_refused)
    GTEST_SKIP() << "the kernel refused a mount namespace with its own /dev/shm";
  EXPECT_EQ(big.exit_code, 2) << big.output;
  EXPECT_NE(big.output.find("/dev/shm has 32 MiB free"), std::string::npos) << big.output;
  EXPECT_NE(big.output.find("--memory"), std::string::npos) << big.output;

  Outcome small = RunDemo(SmallDevShm, {"--memory", "16MiB"});
  EXPECT_EQ(small.exit_code, 0) << small.output;
  EXPECT_TRUE(fs::exists(dir_ / "out" / "manifest.json")) << small.output;
}

// A memory cgroup (v1 or v2, whichever this machine mounts) limited to 96 MiB.
class MemoryCgroup {
 public:
  MemoryCgroup() {
    const std::string name = "overlay-room-" + std::to_string(::getpid());
    for (const auto& [root, file] : {std::pair{"/sys/fs/cgroup/memory", "memory.limit_in_bytes"},
                                     std::pair{"/sys/fs/cgroup", "memory.max"}}) {
      std::error_code ec;
      const fs::path dir = fs::path(root) / name;
      if (!fs::exists(fs::path(root) / "cgroup.procs") || !fs::create_directory(dir, ec)) continue;
      if (std::ofstream(dir / file) << (96 << 20) && fs::exists(dir / file)) {
        dir_ = dir;
        return;
      }
      fs::remove(dir, ec);
    }
  }
  ~MemoryCgroup() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove(dir_, ec);
  }
  bool ok() const { return !dir_.empty(); }
  // In the child: move this process into the group.
  bool Enter() const {
    std::ofstream procs(dir_ / "cgroup.procs");
    procs << ::getpid() << std::flush;
    return procs.good();
  }

 private:
  fs::path dir_;
};

TEST_F(MemoryRoomTest, CgroupLimitRefusesTheSegmentAndNamesTheWayOut) {
  if (::geteuid() != 0) GTEST_SKIP() << "making a memory cgroup needs root";
  MemoryCgroup group;
  if (!group.ok()) GTEST_SKIP() << "no writable memory cgroup hierarchy on this machine";
  const auto enter = [&group] { return group.Enter(); };
  Outcome big = RunDemo(enter, {});
  if (big.setup_refused) GTEST_SKIP() << "could not move a process into the memory cgroup";
  EXPECT_EQ(big.exit_code, 2) << big.output;
  EXPECT_NE(big.output.find("cgroup may use 96 MiB"), std::string::npos) << big.output;
  EXPECT_NE(big.output.find("--memory"), std::string::npos) << big.output;

#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "refusal checked; the 16 MiB run is not: AddressSanitizer's shadow memory "
                  "and quarantine alone outgrow this 96 MiB cgroup";
#endif
  Outcome small = RunDemo(enter, {"--memory", "16MiB"});
  EXPECT_EQ(small.exit_code, 0) << small.output;
}

TEST(CgroupMemoryLimit, TakesTheSmallestLimitOnThePathToTheRoot) {
  // A fake hierarchy under a temp root, at the paths /proc/self/cgroup names.
  const fs::path root = fs::temp_directory_path() / ("overlay-cg-" + std::to_string(::getpid()));
  std::ifstream self("/proc/self/cgroup");
  std::string line;
  int written = 0;
  for (int n = 0; n < 64 && std::getline(self, line); ++n) {
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const fs::path path = fs::path(line.substr(b + 1)).relative_path();
    fs::path base;
    const char* file = nullptr;
    if (controllers.empty()) {
      base = root, file = "memory.max";
    } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      base = root / "memory", file = "memory.limit_in_bytes";
    } else {
      continue;
    }
    fs::create_directories(base / path);
    std::ofstream(base / path / file) << (200 << 20);
    if (!path.empty()) {
      std::ofstream(base / path.parent_path() / file) << (150 << 20);
      std::ofstream(base / file) << (controllers.empty() ? "max" : "9223372036854771712");
    }
    ++written;
  }
  if (written == 0) {
    fs::remove_all(root);
    GTEST_SKIP() << "/proc/self/cgroup names no memory cgroup";
  }
  std::optional<uint64_t> limit = CgroupMemoryLimit(root.string());
  ASSERT_TRUE(limit.has_value());
  // The process may sit at the root of its hierarchy (no parent to write).
  EXPECT_TRUE(*limit == (150u << 20) || *limit == (200u << 20)) << *limit;
  EXPECT_FALSE(CgroupMemoryLimit((root / "absent").string()).has_value());
  fs::remove_all(root);
}

TEST(FormatBytes, PicksTheLargestWholeUnit) {
  EXPECT_EQ(FormatBytes(100), "100 B");
  EXPECT_EQ(FormatBytes(512 << 10), "512 KiB");
  EXPECT_EQ(FormatBytes(256 << 20), "256 MiB");
  EXPECT_EQ(FormatBytes(3ull << 29), "1.5 GiB");
}

}  // namespace
}  // namespace overlay
