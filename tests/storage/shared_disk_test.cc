// SPDX-License-Identifier: Apache-2.0
// Eight processes on one segment and one disk tier: the first owns L2, seven
// read it beside it, all put and get distinct and shared objects at once; then
// every object must read back byte-identical from a fresh process (nothing
// lost), and the readers must find what the owner demoted after they opened.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "overlay/storage/data_container.h"
#include "overlay/storage/rocks_tier.h"
#include "overlay/storage/shm_cache.h"
#include "storage/nginx_server.h"
#include "storage/shared_disk_objects.h"

namespace overlay::storage {
namespace {

using ::testing::HasSubstr;
using testing::kSharedDiskPeers;
using testing::SharedDiskObject;
using testing::TempDir;
using testing::UniqueSegment;

// A worker process (shared_disk_worker.cc) with pipes to its stdin and stdout.
class Worker {
 public:
  explicit Worker(std::vector<std::string> args) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
    std::vector<char*> argv;
    args.insert(args.begin(), SHARED_DISK_WORKER);
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~Worker() {
    CloseInput();
    if (from_ >= 0) close(from_);
    if (pid_ > 0 && Wait(std::chrono::seconds(0)) == -1) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  pid_t pid() const { return pid_; }
  void Send(const std::string& line) {
    ASSERT_EQ(write(to_, (line + "\n").data(), line.size() + 1),
              static_cast<ssize_t>(line.size() + 1));
  }
  void CloseInput() {
    if (to_ >= 0) close(to_);
    to_ = -1;
  }
  // The next line the worker prints; "" when it prints none within `limit`.
  std::string ReadLine(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::string line;
    char c = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{from_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      if (read(from_, &c, 1) != 1) return "";
      if (c == '\n') return line;
      line.push_back(c);
    }
    return "";
  }
  // The exit code once it exits within `limit`; -1 if it has not.
  int Wait(std::chrono::seconds limit) {
    if (exited_) return code_;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return code_;
      }
      if (std::chrono::steady_clock::now() >= deadline) return -1;
      usleep(10000);
    }
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  bool exited_ = false;
  int code_ = -1;
};

TEST(SharedDiskTest, EightProcessesShareOneDiskTierAndLoseNothing) {
  TempDir dir;
  const std::string segment = UniqueSegment("shared-disk");
  const std::string disk = dir.path() + "/l2";
  Worker owner({"owner", segment, disk, dir.path()});
  ASSERT_EQ(owner.ReadLine(std::chrono::seconds(60)), "ready");

  std::vector<std::unique_ptr<Worker>> peers;
  for (int id = 0; id < kSharedDiskPeers; ++id)
    peers.push_back(std::make_unique<Worker>(
        std::vector<std::string>{"peer", segment, disk, dir.path(), std::to_string(id)}));
  for (auto& p : peers) ASSERT_EQ(p->ReadLine(std::chrono::seconds(60)), "open");
  owner.Send("demote");
  for (auto& p : peers) EXPECT_EQ(p->Wait(std::chrono::seconds(240)), 0) << "peer " << p->pid();

  // While the owner holds L2, this process reads it too, through the CLI's
  // container, and a fresh process reads everything back.
  {
    StorageOptions o;
    o.segment = segment;
    o.disk = disk;
    Result<std::unique_ptr<DataContainer>> c = DataContainer::OpenExisting(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ((*c)->disk_owner_pid(), owner.pid());
    EXPECT_THAT((*c)->notice(), HasSubstr("belongs to process " + std::to_string(owner.pid())));
    Result<CatalogEntry> e = (*c)->Lookup("demoted/3");
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    Result<ObjectInfo> info = (*c)->Stat(e->key);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_TRUE(info->in_l2);
    Result<std::vector<CatalogEntry>> names = (*c)->List();
    ASSERT_TRUE(names.ok());
    EXPECT_GE(names->size(), size_t{20 + 20 * kSharedDiskPeers + 10});
    EXPECT_TRUE((*c)->Remove("demoted/3").status().IsBusy()) << "a reader cannot unname L2";
  }
  Worker reader({"verify", segment, disk});
  EXPECT_THAT(reader.ReadLine(std::chrono::seconds(120)), HasSubstr("reader read"));
  EXPECT_EQ(reader.Wait(std::chrono::seconds(60)), 0);

  owner.CloseInput();
  ASSERT_EQ(owner.Wait(std::chrono::seconds(60)), 0);
  Worker fresh({"verify", segment, disk});
  EXPECT_THAT(fresh.ReadLine(std::chrono::seconds(120)), HasSubstr("owner read"));
  EXPECT_EQ(fresh.Wait(std::chrono::seconds(60)), 0);
  (void)ShmCache::Remove(segment);
}

// Within one process too (a second container on the same disk is a reader):
// the owner keeps objects in L1 only (write = memory), the reader's puts
// evict them, and the reader keeps each until the owner has copied it to L2,
// instead of dropping the last copy.
TEST(SharedDiskTest, AReaderNeverDropsWhatOnlyL1Holds) {
  TempDir dir;
  StorageOptions o;
  o.segment = UniqueSegment("shared-disk");
  o.disk = dir.path() + "/l2";
  o.memory = 4 << 20;
  o.max_objects = 1024;
  Result<std::unique_ptr<DataContainer>> owner = DataContainer::Open(o);
  ASSERT_TRUE(owner.ok()) << owner.status().ToString();
  std::vector<std::string> owned;
  for (int i = 0; i < 12; ++i) {
    owned.push_back(SharedDiskObject("owned", i));
    ASSERT_TRUE((*owner)->Put(owned.back()).ok());
  }
  for (const std::string& b : owned)
    ASSERT_FALSE((*owner)->l2()->Head(ObjectKey::Of(b)).ok()) << "only L1 holds it";

  Result<std::unique_ptr<DataContainer>> reader = DataContainer::Open(o);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->disk_owner_pid(), getpid());
  EXPECT_TRUE((*reader)->disk_dir().empty());
  std::vector<std::string> put;
  for (int i = 0; i < 60; ++i) {  // about 5 MiB: more than L1
    put.push_back(SharedDiskObject("reader", i));
    Result<Blob> b = (*reader)->Put(put.back());
    ASSERT_TRUE(b.ok()) << b.status().ToString();
  }
  for (const std::vector<std::string>* set : {&owned, &put})
    for (const std::string& want : *set) {
      Result<Blob> b = (*reader)->Get(ObjectKey::Of(want));
      ASSERT_TRUE(b.ok()) << b.status().ToString();
      EXPECT_EQ(b->view(), want);
    }
  EXPECT_GT((*owner)->l1()->Stats().evictions, 0u);

  // A reader whose config promises a disk copy refuses to put.
  StorageOptions through = o;
  through.write = WriteMode::kThrough;
  Result<std::unique_ptr<DataContainer>> strict = DataContainer::Open(through);
  ASSERT_TRUE(strict.ok()) << strict.status().ToString();
  Status refused = (*strict)->Put("needs the disk").status();
  EXPECT_TRUE(refused.IsBusy()) << refused.ToString();
  EXPECT_THAT(std::string(refused.message()), HasSubstr("write = through"));
  strict->reset();

  // Once both have gone, every object is still there.
  reader->reset();
  owner->reset();
  Result<std::unique_ptr<DataContainer>> fresh = DataContainer::Open(o);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  for (const std::vector<std::string>* set : {&owned, &put})
    for (const std::string& want : *set) {
      Result<Blob> b = (*fresh)->Get(ObjectKey::Of(want));
      ASSERT_TRUE(b.ok()) << b.status().ToString();
      EXPECT_EQ(b->view(), want);
    }
  fresh->reset();
  (void)ShmCache::Remove(o.segment);
}

}  // namespace
}  // namespace overlay::storage
