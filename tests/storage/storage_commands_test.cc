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

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include "overlay/storage/shm_cache.h"
#include "overlay/storage_options.h"
#include "storage/nginx_server.h"

namespace overlay {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
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
  EXPECT_THAT(ls.out, ContainsRegex(key + " +5004 +no +[0-9TZ:-]+ +never +patient42/0007.txt\n"));

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
  ASSERT_EQ(RunCli({"put", input_, "--config", config_}).code, 0);  // the segment exists
  Outcome unknown = RunCli({"get", "no/such/name", "--config", config_});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("no object named 'no/such/name'"));

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

// Without a disk tier L1 holds the only copy: evict refuses and the name stays
// readable; with a disk tier it demotes.
TEST_F(StorageCommandsTest, EvictNeverDropsTheOnlyCopy) {
  const std::string mem = dir_.path() + "/mem.cfg";
  std::ofstream(mem) << "[STORAGE]\nmemory = 4MiB\ndisk = none\nsegment = " << segment_
                     << "\n[END]\n";
  Outcome put = RunCli({"put", input_, "--name", "only.txt", "--config", mem});
  ASSERT_EQ(put.code, 0) << put.err;
  Outcome evict = RunCli({"evict", "only.txt", "--config", mem});
  EXPECT_EQ(evict.code, 1);
  EXPECT_THAT(evict.err, HasSubstr("no lower tier holds it"));
  Outcome get = RunCli({"get", "only.txt", "--config", mem});
  ASSERT_EQ(get.code, 0) << get.err;
  EXPECT_EQ(get.out, ReadFile(input_));

  const std::string disk = dir_.path() + "/disk.cfg";
  std::ofstream(disk) << "[STORAGE]\nsegment = " << segment_ << "\ndisk = " << dir_.path()
                      << "/l2\n[END]\n";
  // Other bytes: the object above stays pinned by its name, its only copy.
  const std::string other = dir_.path() + "/other.txt";
  std::ofstream(other) << "bytes that only the disk-tier run stores\n";
  ASSERT_EQ(RunCli({"put", other, "--name", "demoted.txt", "--config", disk}).code, 0);
  ASSERT_EQ(RunCli({"evict", "demoted.txt", "--config", disk}).code, 0);
  Outcome stat = RunCli({"stat", "demoted.txt", "--config", disk});
  EXPECT_THAT(stat.out, HasSubstr("L1 (ram) no"));
  EXPECT_THAT(stat.out, HasSubstr("L2 (disk) yes"));
}

TEST_F(StorageCommandsTest, RmRemovesNamesAndObjectsNoOtherNameHolds) {
  const std::string key = RunCli({"put", input_, "--name", "a.txt", "--config", config_}).out;
  ASSERT_EQ(RunCli({"put", input_, "--name", "b.txt", "--config", config_}).code, 0);
  Outcome rm = RunCli({"rm", "a.txt", "--config", config_});
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_THAT(rm.out, HasSubstr("kept"));
  Outcome gone = RunCli({"get", "a.txt", "--config", config_});
  EXPECT_EQ(gone.code, 1);
  EXPECT_THAT(gone.err, HasSubstr("no object named 'a.txt'"));
  EXPECT_EQ(RunCli({"get", "b.txt", "--config", config_}).out, ReadFile(input_));

  rm = RunCli({"rm", "b.txt", "--config", config_});
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_THAT(rm.out, HasSubstr("erased"));
  Outcome by_key = RunCli({"get", key.substr(0, 32), "--config", config_});
  EXPECT_EQ(by_key.code, 1);
  EXPECT_THAT(by_key.err, HasSubstr("is in no tier"));

  ASSERT_EQ(RunCli({"put", input_, "--name", "dir/1", "--config", config_}).code, 0);
  ASSERT_EQ(RunCli({"put", config_, "--name", "dir/2", "--config", config_}).code, 0);
  ASSERT_EQ(RunCli({"put", config_, "--name", "dirt", "--config", config_}).code, 0);
  ASSERT_EQ(RunCli({"rm", "dir/", "--config", config_}).code, 0);
  Outcome ls = RunCli({"ls", "--config", config_});
  EXPECT_THAT(ls.out, Not(HasSubstr("dir/")));
  EXPECT_THAT(ls.out, HasSubstr("dirt"));
  EXPECT_THAT(ls.out, HasSubstr("\n1 name\n"));
  Outcome again = RunCli({"rm", "dir/", "--config", config_});
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr("no names under 'dir/'"));
}

TEST_F(StorageCommandsTest, LsFiltersCountsAndPrintsJson) {
  ASSERT_EQ(RunCli({"put", input_, "--name", "s1/x", "--config", config_}).code, 0);
  ASSERT_EQ(RunCli({"put", config_, "--name", "s1/y", "--pin", "--config", config_}).code, 0);
  ASSERT_EQ(RunCli({"put", config_, "--name", "s2/z", "--config", config_}).code, 0);
  Outcome ls = RunCli({"ls", "s1/", "--config", config_});
  ASSERT_EQ(ls.code, 0) << ls.err;
  EXPECT_THAT(ls.out, ContainsRegex("^KEY +SIZE +PINNED +CREATED +EXPIRES +NAME\n"));
  EXPECT_THAT(ls.out, HasSubstr("\n2 names under 's1/'\n"));
  EXPECT_THAT(ls.out, Not(HasSubstr("s2/z")));

  Outcome js = RunCli({"ls", "s1/", "--json", "--config", config_});
  ASSERT_EQ(js.code, 0) << js.err;
  nlohmann::json arr = nlohmann::json::parse(js.out);
  ASSERT_TRUE(arr.is_array());
  ASSERT_EQ(arr.size(), 2u);
  EXPECT_EQ(arr[0]["name"], "s1/x");
  EXPECT_EQ(arr[0]["size"], 5004);
  EXPECT_EQ(arr[0]["pinned"], false);
  EXPECT_TRUE(arr[0]["expiry"].is_null());
  EXPECT_TRUE(arr[0]["ctime"].is_string());
  EXPECT_EQ(arr[1]["pinned"], true);
  EXPECT_EQ(arr[1]["key"].get<std::string>().size(), 32u);

  Outcome st = RunCli({"stat", "s1/x", "--json", "--config", config_});
  ASSERT_EQ(st.code, 0) << st.err;
  nlohmann::json obj = nlohmann::json::parse(st.out);
  EXPECT_EQ(obj["key"], arr[0]["key"]);
  EXPECT_EQ(obj["size"], 5004);
  EXPECT_EQ(obj["l1"], true);
  EXPECT_EQ(obj["l2"], true);
  EXPECT_TRUE(obj["l3"].is_null());
}

// Reading commands report a missing segment and leave none behind.
TEST_F(StorageCommandsTest, ReadersNeverCreateASegment) {
  const std::string typo = storage::testing::UniqueSegment("typo");
  for (std::vector<std::string> args : {std::vector<std::string>{"ls"},
                                        {"get", "x"},
                                        {"stat", "x"},
                                        {"evict", "x"},
                                        {"unpin", "x"},
                                        {"rm", "x"}}) {
    args.insert(args.end(), {"--segment", typo});
    Outcome o = RunCli(args);
    EXPECT_EQ(o.code, 1) << args[0];
    EXPECT_THAT(o.err, HasSubstr("L1 segment '" + typo + "' does not exist")) << args[0];
    EXPECT_FALSE(std::filesystem::exists("/dev/shm/" + typo)) << args[0];
  }
  Outcome put = RunCli({"put", input_, "--segment", typo, "--memory", "2MiB"});
  EXPECT_EQ(put.code, 0) << put.err;
  EXPECT_TRUE(std::filesystem::exists("/dev/shm/" + typo));
  (void)storage::ShmCache::Remove(typo);
}

TEST_F(StorageCommandsTest, EachCommandTakesOnlyItsFlags) {
  for (const char* cmd : {"get", "stat", "ls", "evict", "rm", "unpin"})
    for (const char* flag : {"--policy", "--ttl", "--write", "--memory"}) {
      Outcome o = RunCli({cmd, "x", flag, "1", "--config", config_});
      EXPECT_EQ(o.code, 2) << cmd << " " << flag;
    }
  EXPECT_EQ(RunCli({"pin", "x", "--ttl", "1", "--config", config_}).code, 2);
  CLI::App app{"overlay"};
  int code = 0;
  AddStorageCommands(app, &code);
  const std::string help = app.get_subcommand("put")->help();
  for (const std::string& key : StorageOptionKeys()) EXPECT_THAT(help, HasSubstr(key));
  EXPECT_THAT(app.get_subcommand("rm")->help(), HasSubstr("no other name"));
}

TEST_F(StorageCommandsTest, NamesCannotPoseAsKeys) {
  Outcome a = RunCli({"put", input_, "--config", config_});
  ASSERT_EQ(a.code, 0) << a.err;
  const std::string key = a.out.substr(0, 32);
  Outcome b = RunCli({"put", config_, "--name", key, "--config", config_});
  EXPECT_EQ(b.code, 1);
  EXPECT_THAT(b.err, HasSubstr("32 hex digits"));
  EXPECT_EQ(RunCli({"get", key, "--config", config_}).out, ReadFile(input_));
  const std::string upper = "ABCDEF0123456789ABCDEF0123456789";
  EXPECT_EQ(RunCli({"put", config_, "--name", upper, "--config", config_}).code, 1);
}

TEST_F(StorageCommandsTest, PutRefusesDirectoriesAndSpecialFiles) {
  Outcome dir = RunCli({"put", dir_.path(), "--config", config_});
  EXPECT_EQ(dir.code, 1);
  EXPECT_THAT(dir.err, HasSubstr("is a directory"));
  Outcome zero = RunCli({"put", "/dev/zero", "--config", config_});
  EXPECT_EQ(zero.code, 1);
  EXPECT_THAT(zero.err, HasSubstr("not a regular file"));
  EXPECT_FALSE(std::filesystem::exists("/dev/shm/" + segment_));  // refused before opening
}

}  // namespace
}  // namespace overlay
