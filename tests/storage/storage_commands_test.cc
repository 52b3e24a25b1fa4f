// SPDX-License-Identifier: Apache-2.0
#include "cli/storage_commands.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "overlay/storage/shm_cache.h"
#include "storage/nginx_server.h"

namespace overlay {
namespace {

using storage::testing::FreePort;
using storage::testing::TempDir;
using storage::testing::UniqueSegment;

struct Outcome {
  int code = -1;
  std::string out, err;
};

Outcome RunCli(std::vector<std::string> args) {
  CLI::App app{"overlay"};
  Outcome o;
  AddStorageCommands(app, &o.code);
  app.require_subcommand(1);
  args.insert(args.begin(), "overlay");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    o.code = e.get_exit_code() == 0 ? 0 : 2;
  }
  o.out = ::testing::internal::GetCapturedStdout();
  o.err = ::testing::internal::GetCapturedStderr();
  return o;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A tmpfs of `size` mounted on a new directory for the life of this object.
class TinyTmpfs {
 public:
  TinyTmpfs(const std::string& dir, const std::string& size) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    const std::string data = "size=" + size + ",mode=0700";
    if (mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, data.c_str()) != 0)
      error_ = std::strerror(errno);
  }
  ~TinyTmpfs() {
    if (error_.empty() && umount2(dir_.c_str(), 0) != 0) (void)umount2(dir_.c_str(), MNT_DETACH);
  }
  TinyTmpfs(const TinyTmpfs&) = delete;
  TinyTmpfs& operator=(const TinyTmpfs&) = delete;
  // Empty when mounted.
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  std::string error_;
};

class StorageCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    segment_ = UniqueSegment("cli");
    config_ = dir_.path() + "/node.cfg";
    std::ofstream(config_) << "[FUNCTION]\nname = f\nbuiltin = qrs_detector\n[END]\n[STORAGE]\n# "
                              "the node's data container\n"
                           << "memory = 4MiB\nsegment = " << segment_ << "\ndisk = " << dir_.path()
                           << "/l2\nwrite = through\n[END]\n";
    input_ = dir_.path() + "/ecg.txt";
    std::ofstream(input_) << std::string(5000, 'e') << "end\n";
  }
  void TearDown() override { (void)storage::ShmCache::Remove(segment_); }

  TempDir dir_;
  std::string segment_, config_, input_;
};

TEST_F(StorageCommandsTest, PutGetStatLsEvictPin) {
  Outcome put = RunCli({"put", input_, "--name", "patient42/0007.txt", "--config", config_});
  ASSERT_EQ(put.code, 0) << put.err;
  const std::string key = put.out.substr(0, put.out.find('\n'));
  ASSERT_EQ(key.size(), 32u);

  const std::string out = dir_.path() + "/copy.txt";
  Outcome get = RunCli({"get", "patient42/0007.txt", "-o", out, "--config", config_});
  ASSERT_EQ(get.code, 0) << get.err;
  EXPECT_EQ(ReadFile(out), ReadFile(input_));
  Outcome by_key = RunCli({"get", key, "--config", config_});
  ASSERT_EQ(by_key.code, 0) << by_key.err;
  EXPECT_EQ(by_key.out, ReadFile(input_));

  Outcome stat = RunCli({"stat", "patient42/0007.txt", "--config", config_});
  ASSERT_EQ(stat.code, 0) << stat.err;
  EXPECT_NE(stat.out.find("L1 (ram) yes"), std::string::npos) << stat.out;
  EXPECT_NE(stat.out.find("L2 (disk) yes"), std::string::npos) << stat.out;
  EXPECT_NE(stat.out.find("L3 (cdn) not configured"), std::string::npos) << stat.out;

  Outcome ls = RunCli({"ls", "--config", config_});
  ASSERT_EQ(ls.code, 0) << ls.err;
  EXPECT_NE(ls.out.find(key + "  5004  -  never  patient42/0007.txt"), std::string::npos) << ls.out;

  ASSERT_EQ(RunCli({"evict", key, "--config", config_}).code, 0);
  stat = RunCli({"stat", key, "--config", config_});
  EXPECT_NE(stat.out.find("L1 (ram) no"), std::string::npos) << stat.out;

  Outcome pin = RunCli({"pin", "patient42/0007.txt", "--config", config_});
  ASSERT_EQ(pin.code, 0) << pin.err;
  stat = RunCli({"stat", key, "--config", config_});
  EXPECT_NE(stat.out.find("pinned   yes"), std::string::npos) << stat.out;
  EXPECT_NE(stat.out.find("L1 (ram) yes"), std::string::npos) << stat.out;
  Outcome evict = RunCli({"evict", key, "--config", config_});
  EXPECT_EQ(evict.code, 1);
  EXPECT_NE(evict.err.find("pinned"), std::string::npos) << evict.err;
  ASSERT_EQ(RunCli({"unpin", key, "--config", config_}).code, 0);
  EXPECT_EQ(RunCli({"evict", key, "--config", config_}).code, 0);
}

TEST_F(StorageCommandsTest, ClearErrors) {
  Outcome unknown = RunCli({"get", "no/such/name", "--config", config_});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("neither a 32-hex-digit object key nor a known name"),
            std::string::npos)
      << unknown.err;

  Outcome missing = RunCli({"stat", std::string(32, 'a'), "--config", config_});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("is in no tier"), std::string::npos) << missing.err;

  const std::string cdn = "http://127.0.0.1:" + std::to_string(FreePort()) + "/objects";
  Outcome down = RunCli({"get", std::string(32, 'b'), "--config", config_, "--cdn", cdn});
  EXPECT_EQ(down.code, 1);
  EXPECT_NE(down.err.find("unreachable"), std::string::npos) << down.err;

  const std::string bad = dir_.path() + "/bad.cfg";
  std::ofstream(bad) << "[STORAGE]\nsegment = " << segment_ << "\nmemroy = 1GiB\n[END]\n";
  Outcome typo = RunCli({"ls", "--config", bad});
  EXPECT_EQ(typo.code, 1);
  EXPECT_NE(typo.err.find("bad.cfg:3"), std::string::npos) << typo.err;
  EXPECT_NE(typo.err.find("did you mean 'memory'"), std::string::npos) << typo.err;

  Outcome no_file = RunCli({"put", dir_.path() + "/absent", "--config", config_});
  EXPECT_EQ(no_file.code, 1);
  EXPECT_NE(no_file.err.find("cannot read"), std::string::npos) << no_file.err;
}

// L2 on a 2 MiB tmpfs: the put that does not fit fails naming the full disk,
// and the object stored before it stays readable from L2.
TEST_F(StorageCommandsTest, FullDiskIsReportedAndEarlierObjectsStayReadable) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs to fill needs root";
  TinyTmpfs disk(dir_.path() + "/small", "2m");
  if (!disk.error().empty()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.error();
  const std::string config = dir_.path() + "/small.cfg";
  std::ofstream(config) << "[STORAGE]\nmemory = 1MiB\nsegment = " << segment_
                        << "\ndisk = " << dir_.path() << "/small/l2\nwrite = through\n[END]\n";

  Outcome first = RunCli({"put", input_, "--name", "before.txt", "--config", config});
  ASSERT_EQ(first.code, 0) << first.err;
  const std::string key = first.out.substr(0, first.out.find('\n'));
  ASSERT_EQ(RunCli({"evict", key, "--config", config}).code, 0);
  Outcome stat = RunCli({"stat", "before.txt", "--config", config});
  ASSERT_NE(stat.out.find("L1 (ram) no"), std::string::npos) << stat.out;  // only L2 has it

  const std::string big = dir_.path() + "/big.bin";
  std::ofstream(big, std::ios::binary) << storage::testing::RandomBytes(3 << 20, 7);
  Outcome full = RunCli({"put", big, "--name", "big.bin", "--config", config});
  EXPECT_EQ(full.code, 1);
  EXPECT_NE(full.err.find("No space left on device in L2"), std::string::npos) << full.err;

  const std::string out = dir_.path() + "/before.copy";
  Outcome get = RunCli({"get", "before.txt", "-o", out, "--config", config});
  ASSERT_EQ(get.code, 0) << get.err;
  EXPECT_EQ(ReadFile(out), ReadFile(input_));
}

}  // namespace
}  // namespace overlay
