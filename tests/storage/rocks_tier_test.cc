// SPDX-License-Identifier: Apache-2.0
#include "overlay/storage/rocks_tier.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "storage/file_corruption.h"
#include "storage/nginx_server.h"

namespace overlay::storage {
namespace {

using testing::FlipByteInStoreFiles;
using testing::RandomBytes;

std::string Bytes(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 13 + (i >> 10));
  return s;
}

class RocksTierTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    Result<std::unique_ptr<RocksTier>> t = NewRocksTier({dir_.path() + "/db", 64 << 10});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tier_ = std::move(*t);
  }
  testing::TempDir dir_;
  std::unique_ptr<RocksTier> tier_;
};

TEST_F(RocksTierTest, InlineAndChunkedRoundTrip) {
  for (size_t n :
       {size_t{0}, size_t{1000}, size_t{64 << 10}, size_t{(64 << 10) + 1}, size_t{1 << 20}}) {
    std::string data = Bytes(n, static_cast<char>(n));
    ObjectKey k = ObjectKey::Of(data);
    ASSERT_TRUE(tier_->Put(k, data, ObjectMeta{n, 5, 0}).ok());
    Result<Blob> b = tier_->Get(k);
    ASSERT_TRUE(b.ok()) << n << ": " << b.status().ToString();
    EXPECT_EQ(b->view(), data) << n;
    Result<ObjectMeta> m = tier_->Head(k);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->size, n);
    EXPECT_EQ(m->ctime_ms, 5u);
  }
  EXPECT_TRUE(tier_->Get(ObjectKey::Of("nope")).status().IsNotFound());
}

// A bit flipped in a file on disk, as a failing drive would: RocksDB's block
// (SST) or record (blob) checksum reports it, and the object can still be erased.
TEST_F(RocksTierTest, FlippedByteOnDiskIsDetected) {
  // 1000 B: inline in an SST data block; 40 KiB: its own SST block; 300 KiB:
  // 64 KiB chunks, which go to blob files.
  for (size_t n : {size_t{1000}, size_t{40 << 10}, size_t{300 << 10}}) {
    std::string data = RandomBytes(n, n);
    ObjectKey k = ObjectKey::Of(data);
    ASSERT_TRUE(tier_->Put(k, data, ObjectMeta{n, 0, 0}).ok());
    ASSERT_TRUE(tier_->Flush().ok());
    tier_.reset();  // the reopened store starts with a cold block cache
    Result<std::string> file =
        FlipByteInStoreFiles(dir_.path(), std::string_view(data).substr(n / 2, 64));
    ASSERT_TRUE(file.ok()) << n << ": " << file.status().ToString();
    EXPECT_TRUE(file->ends_with(n < (64 << 10) ? ".sst" : ".blob")) << n << ": " << *file;
    Reopen();
    Result<Blob> b = tier_->Get(k);
    EXPECT_TRUE(b.status().IsCorruption()) << n << " in " << *file << ": " << b.status().ToString();
    ASSERT_TRUE(tier_->Erase(k).ok());
    EXPECT_TRUE(tier_->Head(k).status().IsNotFound());
    ASSERT_TRUE(tier_->Put(k, data, ObjectMeta{n, 0, 0}).ok());
    Result<Blob> again = tier_->Get(k);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_TRUE(again->view() == data);
  }
}

// A chunked object that lost a chunk (a store edited or damaged behind the
// tier's back) is reported as Corruption, not served short.
TEST_F(RocksTierTest, MissingChunkIsCorruption) {
  const std::string data = RandomBytes(200 << 10, 3);
  ObjectKey k = ObjectKey::Of(data);
  ASSERT_TRUE(tier_->Put(k, data, ObjectMeta{data.size(), 0, 0}).ok());
  tier_.reset();
  {
    std::vector<rocksdb::ColumnFamilyDescriptor> descs = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"catalog", {}}, {"journal", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> cfs;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), dir_.path() + "/db", descs, &cfs, &raw).ok());
    std::string second_chunk;
    {
      std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), cfs[0]));
      int seen = 0;
      for (it->Seek("c"); it->Valid() && it->key().starts_with("c") && seen < 2; it->Next())
        if (++seen == 2) second_chunk = it->key().ToString();
    }
    EXPECT_FALSE(second_chunk.empty());
    EXPECT_TRUE(raw->Delete(rocksdb::WriteOptions(), cfs[0], second_chunk).ok());
    for (auto* cf : cfs) EXPECT_TRUE(raw->DestroyColumnFamilyHandle(cf).ok());
    delete raw;
  }
  Reopen();
  Result<Blob> b = tier_->Get(k);
  EXPECT_TRUE(b.status().IsCorruption()) << b.status().ToString();
}

TEST_F(RocksTierTest, JournalCatalogAndExpiry) {
  std::string a = Bytes(10, 'a'), b = Bytes(10, 'b');
  ObjectKey ka = ObjectKey::Of(a), kb = ObjectKey::Of(b);
  ASSERT_TRUE(tier_->PutJournaled(ka, a, ObjectMeta{10, 0, 0}).ok());
  ASSERT_TRUE(tier_->Put(kb, b, ObjectMeta{10, 0, NowUnixMs() - 1}).ok());
  ASSERT_TRUE(tier_->JournalAdd(kb, JournalOp::kDelete).ok());
  EXPECT_EQ(*tier_->JournalSize(), 2u);
  auto list = tier_->JournalList(10);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  ASSERT_TRUE(tier_->JournalRemove(ka).ok());
  EXPECT_EQ(*tier_->JournalSize(), 1u);

  EXPECT_TRUE(tier_->Get(kb).status().IsNotFound());  // expired
  Result<std::vector<ObjectKey>> gone = tier_->ExpireNow(NowUnixMs());
  ASSERT_TRUE(gone.ok());
  ASSERT_EQ(gone->size(), 1u);
  EXPECT_EQ((*gone)[0], kb);
  EXPECT_TRUE(tier_->Get(ka).ok());

  ASSERT_TRUE(tier_->PutName(CatalogEntry{"x/y", ka, 10, 1, 0, false}).ok());
  Result<CatalogEntry> e = tier_->GetName("x/y");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->key, ka);
  EXPECT_EQ(tier_->ListNames()->size(), 1u);
  ASSERT_TRUE(tier_->EraseName("x/y").ok());
  EXPECT_TRUE(tier_->GetName("x/y").status().IsNotFound());
}

TEST_F(RocksTierTest, SecondOpenOfTheSameDirectoryFailsClearly) {
  Result<std::unique_ptr<RocksTier>> again = NewRocksTier({dir_.path() + "/db"});
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("another process"), std::string_view::npos)
      << again.status().ToString();
}

// A second process on the node reads what the owner had stored when it
// opened, chunked objects (blob files) and unflushed ones (the owner's WAL)
// alike, and on a miss what the owner stored since; the reader cannot write.
TEST_F(RocksTierTest, ReaderBesideTheOwnerReadsAndCannotWrite) {
  std::string flushed = Bytes(300 << 10, 'p'), unflushed = Bytes(77, 'q');
  ASSERT_TRUE(tier_->Put(ObjectKey::Of(flushed), flushed, ObjectMeta{flushed.size(), 0, 0}).ok());
  ASSERT_TRUE(tier_->PutName(CatalogEntry{"out/a", ObjectKey::Of(flushed), 1, 1, 0, false}).ok());
  ASSERT_TRUE(tier_->Flush().ok());
  ASSERT_TRUE(tier_->Put(ObjectKey::Of(unflushed), unflushed, ObjectMeta{77, 0, 0}).ok());
  Result<std::unique_ptr<RocksTier>> reader = NewRocksTierReader({dir_.path() + "/db", 64 << 10});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_TRUE(tier_->Put(ObjectKey::Of("later"), "later", ObjectMeta{5, 0, 0}).ok());
  for (const std::string* want : {&flushed, &unflushed}) {
    Result<Blob> b = (*reader)->Get(ObjectKey::Of(*want));
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->view(), *want);
  }
  EXPECT_TRUE((*reader)->GetName("out/a").ok());
  EXPECT_TRUE((*reader)->Get(ObjectKey::Of("never stored")).status().IsNotFound());
  Status w = (*reader)->Put(ObjectKey::Of("x"), "x", ObjectMeta{1, 0, 0});
  EXPECT_TRUE(w.IsBusy()) << w.ToString();
  EXPECT_TRUE((*reader)->PutName(CatalogEntry{"out/b", ObjectKey::Of("x"), 1, 1, 0, false}).IsBusy());
  EXPECT_TRUE(tier_->Get(ObjectKey::Of("later")).ok()) << "the owner still writes";
  // Stored after the reader opened: a miss reopens it, so it is found.
  Result<Blob> later = (*reader)->Get(ObjectKey::Of("later"));
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_EQ(later->view(), "later");
  ASSERT_TRUE(tier_->PutName(CatalogEntry{"out/later", ObjectKey::Of("later"), 5, 1, 0, false}).ok());
  EXPECT_TRUE((*reader)->GetName("out/later").ok());
  Result<std::vector<CatalogEntry>> names = (*reader)->ListNames();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 2u);
}

// Nobody but this user reads L2: the directory is 0700, every file in it has
// no group or other bits, after puts, a flush and a reopen.
TEST_F(RocksTierTest, DirectoryAndFilesArePrivate) {
  for (int i = 0; i < 8; ++i) {
    std::string data = Bytes(100 << 10, static_cast<char>(i));
    ASSERT_TRUE(tier_->Put(ObjectKey::Of(data), data, ObjectMeta{data.size(), 0, 0}).ok());
  }
  ASSERT_TRUE(tier_->Flush().ok());
  tier_.reset();
  Reopen();
  const std::string db = dir_.path() + "/db";
  struct stat st {};
  ASSERT_EQ(stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  int files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(db)) {
    ASSERT_EQ(stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 077, 0u) << e.path() << " has mode " << std::oct
                                    << (st.st_mode & 07777);
    ++files;
  }
  EXPECT_GT(files, 3);
}

// A directory an earlier run left open to others is tightened on open.
TEST_F(RocksTierTest, LooseDirectoryIsTightened) {
  tier_.reset();
  const std::string db = dir_.path() + "/db";
  ASSERT_EQ(chmod(db.c_str(), 0755), 0);
  ASSERT_EQ(chmod((db + "/CURRENT").c_str(), 0644), 0);
  Reopen();
  struct stat st {};
  ASSERT_EQ(stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(stat((db + "/CURRENT").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
}

// A small tmpfs this test mounts itself (root only) and unmounts.
class SmallDisk {
 public:
  explicit SmallDisk(const std::string& dir) : path_(dir + "/small") {
    if (geteuid() != 0) {
      why_ = "needs root to mount a small tmpfs";
    } else if (mkdir(path_.c_str(), 0700) != 0 ||
               mount("tmpfs", path_.c_str(), "tmpfs", 0, "size=4m,mode=0700") != 0) {
      why_ = std::string("cannot mount a 4 MiB tmpfs: ") + std::strerror(errno);
    } else {
      mounted_ = true;
    }
  }
  ~SmallDisk() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
  }
  bool ok() const { return mounted_; }
  const std::string& why() const { return why_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string why_;
  bool mounted_ = false;
};

// The disk fills up: puts fail with a Status saying so (the process goes on),
// and what is already stored can still be read.
TEST(RocksTierDiskFull, PutsFailWithAStatusAndReadsGoOn) {
  testing::TempDir dir;
  SmallDisk disk(dir.path());
  if (!disk.ok()) GTEST_SKIP() << disk.why();
  {
    auto tier = NewRocksTier({disk.path() + "/db", 64 << 10, 1 << 20});
    ASSERT_TRUE(tier.ok()) << tier.status().ToString();
    const std::string first = Bytes(1000, 'a');
    ASSERT_TRUE((*tier)->Put(ObjectKey::Of(first), first, ObjectMeta{first.size(), 0, 0}).ok());
    Status failed;
    for (int i = 0; i < 64 && failed.ok(); ++i) {
      std::string data = RandomBytes(256 << 10, 1000 + i);
      failed = (*tier)->Put(ObjectKey::Of(data), data, ObjectMeta{data.size(), 0, 0});
    }
    ASSERT_FALSE(failed.ok()) << "16 MiB fit on a 4 MiB disk";
    EXPECT_NE(failed.message().find("No space left on device in L2"), std::string_view::npos)
        << failed.ToString();
    // Later writes fail the same way rather than abort.
    const std::string more = Bytes(5000, 'm');
    Status again = (*tier)->Put(ObjectKey::Of(more), more, ObjectMeta{more.size(), 0, 0});
    EXPECT_FALSE(again.ok());
    EXPECT_NE(again.message().find("No space left on device in L2"), std::string_view::npos)
        << again.ToString();
    Result<Blob> got = (*tier)->Get(ObjectKey::Of(first));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->view(), first);
  }
  // The next command opens the store on the full disk: reads still work.
  auto tier = NewRocksTier({disk.path() + "/db", 64 << 10, 1 << 20});
  ASSERT_TRUE(tier.ok()) << tier.status().ToString();
  const std::string first = Bytes(1000, 'a');
  Result<Blob> got = (*tier)->Get(ObjectKey::Of(first));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->view(), first);
  const std::string more = Bytes(5000, 'n');
  Status refused = (*tier)->Put(ObjectKey::Of(more), more, ObjectMeta{more.size(), 0, 0});
  EXPECT_NE(refused.message().find("No space left on device in L2"), std::string_view::npos)
      << refused.ToString();
}

}  // namespace
}  // namespace overlay::storage
