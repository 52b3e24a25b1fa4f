// SPDX-License-Identifier: Apache-2.0
#include "overlay/storage/data_container.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "overlay/storage/cdn_tier.h"
#include "overlay/storage/rocks_tier.h"
#include "storage/file_corruption.h"
#include "storage/nginx_server.h"

namespace overlay::storage {
namespace {

using testing::NginxServer;
using testing::RandomBytes;
using testing::UniqueSegment;

class DataContainerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    container_.reset();
    for (const auto& s : segments_) (void)ShmCache::Remove(s);
  }

  // L1 (4 MiB) + L2, plus L3 in write-back when `cdn`.
  StorageOptions Options(bool cdn, EvictionPolicy policy = EvictionPolicy::kLru) {
    StorageOptions o;
    o.segment = UniqueSegment("dc");
    segments_.push_back(o.segment);
    o.memory = 4 << 20;
    o.max_objects = 1024;
    o.policy = policy;
    o.disk = dir_.path() + "/l2-" + o.segment;
    o.write = WriteMode::kThrough;
    o.chunk = 1 << 20;
    o.retry_min_ms = 20;
    o.retry_max_ms = 200;
    o.cdn_timeout_ms = 60000;  // a 256 MiB GET on a loaded 2-core machine took over 5 s
    if (cdn) {
      o.cdn = nginx_->base_url();
      o.write = WriteMode::kBack;
    }
    return o;
  }

  void StartNginx() {
    if (NginxServer::Binary().empty())
      GTEST_SKIP() << "nginx is not installed (apt install nginx-light)";
    Result<std::unique_ptr<NginxServer>> s = NginxServer::Start(dir_.path() + "/nginx");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    nginx_ = std::move(*s);
  }

  // The key of a put, its pin dropped.
  Result<ObjectKey> PutKey(std::string_view data, const PutOptions& put = {}) {
    Result<Blob> b = container_->Put(data, put);
    if (!b.ok()) return b.status();
    return *b->key();
  }

  void OpenContainer(const StorageOptions& o) {
    Result<std::unique_ptr<DataContainer>> c = DataContainer::Open(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    container_ = std::move(*c);
  }

  testing::TempDir dir_;
  std::unique_ptr<NginxServer> nginx_;
  std::unique_ptr<DataContainer> container_;
  std::vector<std::string> segments_;
};

class RoundTripTest : public DataContainerTest, public ::testing::WithParamInterface<size_t> {};

TEST_P(RoundTripTest, EveryTierReturnsTheBytes) {
  StartNginx();
  if (IsSkipped()) return;
  StorageOptions o = Options(true);
  o.memory = 64 << 20;
  OpenContainer(o);
  const size_t n = GetParam();
  const std::string data = RandomBytes(n, static_cast<uint32_t>(n));
  Result<ObjectKey> key = PutKey(data, PutOptions{"round/trip", std::nullopt, false});
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(*key, ObjectKey::Of(data));
  Result<Blob> got = container_->Get(*key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got->view() == data);
  // Objects above half the L1 budget live in L2 (chunked) and L3 only.
  const bool l1_expected = n + 64 <= (64u << 20) / 2;
  EXPECT_EQ(container_->l1()->Head(*key).ok(), l1_expected);
  Result<Blob> l2 = container_->l2()->Get(*key);
  ASSERT_TRUE(l2.ok()) << l2.status().ToString();
  EXPECT_TRUE(l2->view() == data);
  ASSERT_TRUE(container_->DrainJournal(std::chrono::seconds(60)).ok());
  Result<Blob> l3 = container_->l3()->Get(*key);
  ASSERT_TRUE(l3.ok()) << l3.status().ToString();
  EXPECT_TRUE(l3->view() == data);
  Result<ObjectKey> by_name = container_->Resolve("round/trip");
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(*by_name, *key);
  Result<ObjectInfo> info = container_->Stat(*key);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->meta.size, n);
  EXPECT_TRUE(info->in_l2);
  EXPECT_TRUE(info->in_l3);
}

INSTANTIATE_TEST_SUITE_P(Sizes, RoundTripTest,
                         ::testing::Values(size_t{0}, size_t{1} << 10, size_t{1} << 20,
                                           size_t{256} << 20),
                         [](const auto& info) { return std::to_string(info.param) + "B"; });

class DemotionTest : public DataContainerTest,
                     public ::testing::WithParamInterface<EvictionPolicy> {};

TEST_P(DemotionTest, EvictionDemotesToL2AndGetPromotesBack) {
  StorageOptions o = Options(false, GetParam());
  o.write = WriteMode::kMemory;  // only eviction may put objects into L2
  OpenContainer(o);
  std::vector<std::string> objs;
  std::vector<ObjectKey> keys;
  for (uint32_t i = 0; i < 10; ++i) {
    objs.push_back(RandomBytes(900 << 10, i));
    Result<ObjectKey> k = PutKey(objs.back());
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    keys.push_back(*k);
  }
  EXPECT_GT(container_->l1()->Stats().evictions, 0u);
  int demoted = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    const bool in_l1 = container_->l1()->Head(keys[i]).ok();
    const bool in_l2 = container_->l2()->Head(keys[i]).ok();
    EXPECT_TRUE(in_l1 || in_l2) << "object " << i << " was dropped";
    if (!in_l1) {
      ++demoted;
      Result<Blob> b = container_->Get(keys[i]);
      ASSERT_TRUE(b.ok()) << b.status().ToString();
      EXPECT_TRUE(b->view() == objs[i]);
      EXPECT_TRUE(container_->l1()->Head(keys[i]).ok()) << "object " << i << " not promoted";
    }
  }
  EXPECT_GE(demoted, 6);
}

INSTANTIATE_TEST_SUITE_P(Policies, DemotionTest,
                         ::testing::Values(EvictionPolicy::kLru, EvictionPolicy::kLfu,
                                           EvictionPolicy::kSieve),
                         [](const auto& info) {
                           return std::string(info.param == EvictionPolicy::kLru   ? "lru"
                                              : info.param == EvictionPolicy::kLfu ? "lfu"
                                                                                   : "sieve");
                         });

TEST_F(DataContainerTest, LoanCommitAndCatalog) {
  OpenContainer(Options(false));
  const std::string data = RandomBytes(10000, 7);
  Result<PutLoan> loan = container_->Loan(data.size());
  ASSERT_TRUE(loan.ok());
  std::memcpy(loan->data().data(), data.data(), data.size());
  Result<Blob> stored =
      container_->Commit(std::move(*loan), PutOptions{"a/b.txt", std::nullopt, true});
  ASSERT_TRUE(stored.ok());
  Result<ObjectKey> key = *stored->key();
  stored = Blob();
  EXPECT_TRUE(container_->l2()->Head(*key).ok());  // write-through
  Result<CatalogEntry> e = container_->Lookup("a/b.txt");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->key, *key);
  EXPECT_EQ(e->size, data.size());
  EXPECT_TRUE(e->pinned);
  EXPECT_TRUE(container_->Evict(*key).IsBusy());
  ASSERT_TRUE(container_->Pin(*key, false).ok());
  EXPECT_FALSE(container_->Lookup("a/b.txt")->pinned);
  ASSERT_TRUE(container_->Evict(*key).ok());
  EXPECT_TRUE(container_->Evict(*key).IsNotFound());
  Result<ObjectInfo> info = container_->Stat(*key);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->in_l1);
  EXPECT_TRUE(info->in_l2);
  ASSERT_TRUE(container_->Put("other", PutOptions{"c", std::nullopt, false}).ok());
  Result<std::vector<CatalogEntry>> names = container_->List();
  ASSERT_TRUE(names.ok());
  ASSERT_EQ(names->size(), 2u);
  EXPECT_EQ((*names)[0].name, "a/b.txt");
  EXPECT_TRUE(container_->Resolve("nothing").status().IsNotFound());
  EXPECT_EQ(*container_->Resolve(key->ToHex()), *key);
}

// A loan whose filler hashed the bytes as it wrote them commits under that
// key with no second hash, in L1 and in the heap loan of an object too large
// for it (4 MiB L1: objects above half of it go to L2 only).
TEST_F(DataContainerTest, CommitVerifiedDoesNotHashAgain) {
  OpenContainer(Options(false));
  for (size_t size : {size_t{10000}, size_t{3} << 20}) {
    const std::string data = RandomBytes(size, 11);
    KeyHasher hasher;
    hasher.Update(data);
    const ObjectKey key = hasher.Finish();
    Result<PutLoan> loan = container_->Loan(data.size());
    ASSERT_TRUE(loan.ok());
    std::memcpy(loan->data().data(), data.data(), data.size());
    const uint64_t before = ObjectKey::HashCount();
    Result<Blob> stored = container_->CommitVerified(std::move(*loan), key);
    ASSERT_TRUE(stored.ok()) << stored.status().ToString();
    EXPECT_EQ(ObjectKey::HashCount() - before, 0u) << size;
    EXPECT_EQ(*stored->key(), key);
    EXPECT_EQ(stored->view(), data);
    stored = Blob();
    Result<Blob> back = container_->Get(key);
    ASSERT_TRUE(back.ok()) << size;
    EXPECT_EQ(back->view(), data);
  }
}

TEST_F(DataContainerTest, MemoryOnlyRejectsWhatCannotFit) {
  StorageOptions o = Options(false);
  o.disk = "none";
  o.write = WriteMode::kMemory;
  OpenContainer(o);
  Result<ObjectKey> big = PutKey(RandomBytes(5 << 20, 1));
  EXPECT_TRUE(big.status().IsInvalidArgument()) << big.status().ToString();
  StorageOptions bad = Options(false);
  bad.disk = "none";
  EXPECT_TRUE(DataContainer::Open(bad).status().IsInvalidArgument());  // through without disk
}

TEST_F(DataContainerTest, TtlExpiryRemovesFromEveryTier) {
  StartNginx();
  if (IsSkipped()) return;
  OpenContainer(Options(true));
  const std::string data = RandomBytes(3000, 3);
  const uint64_t start = NowUnixMs();
  Result<ObjectKey> key = PutKey(data, PutOptions{"short/lived", uint64_t{400}, false});
  ASSERT_TRUE(key.ok());
  ObjectKey keep = *PutKey(RandomBytes(3000, 4));
  ASSERT_TRUE(container_->DrainJournal(std::chrono::seconds(10)).ok());
  ASSERT_TRUE(container_->l3()->Head(*key).ok());
  if (NowUnixMs() < start + 400) {
    EXPECT_TRUE(container_->Get(*key).ok());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (NowUnixMs() <= start + 400 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // Expired locally but not yet swept: the CDN copy must not be served.
  EXPECT_TRUE(container_->Get(*key).status().IsNotFound());
  // Swept while the CDN is down: the pending deletion still hides the CDN copy.
  nginx_->Stop();
  Result<size_t> swept = container_->ExpireNow();
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, 1u);
  EXPECT_TRUE(container_->Get(*key).status().IsNotFound());
  ASSERT_TRUE(nginx_->Restart().ok());
  ASSERT_TRUE(container_->DrainJournal(std::chrono::seconds(10)).ok());
  EXPECT_TRUE(container_->l1()->Head(*key).status().IsNotFound());
  EXPECT_TRUE(container_->l2()->Head(*key).status().IsNotFound());
  EXPECT_TRUE(container_->l3()->Head(*key).status().IsNotFound());
  EXPECT_TRUE(container_->Get(*key).status().IsNotFound());
  EXPECT_TRUE(container_->Lookup("short/lived").status().IsNotFound());
  EXPECT_TRUE(container_->Get(keep).ok());
  EXPECT_TRUE(container_->l3()->Head(keep).ok());
}

TEST_F(DataContainerTest, JournalDrainsAfterTheCdnComesBack) {
  StartNginx();
  if (IsSkipped()) return;
  OpenContainer(Options(true));
  nginx_->Stop();
  std::vector<std::string> objs;
  std::vector<ObjectKey> keys;
  for (uint32_t i = 0; i < 20; ++i) {
    objs.push_back(RandomBytes(1000 + i * 3000, 100 + i));
    Result<ObjectKey> k = PutKey(objs.back());
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    keys.push_back(*k);
  }
  Status early = container_->DrainJournal(std::chrono::milliseconds(300));
  EXPECT_TRUE(early.IsTimeout()) << early.ToString();
  EXPECT_NE(early.message().find("unreachable"), std::string_view::npos) << early.ToString();
  EXPECT_EQ(*container_->JournalBacklog(), 20u);
  ASSERT_TRUE(nginx_->Restart().ok());
  Status drained = container_->DrainJournal(std::chrono::seconds(20));
  ASSERT_TRUE(drained.ok()) << drained.ToString();
  for (size_t i = 0; i < keys.size(); ++i) {
    Result<Blob> b = container_->l3()->Get(keys[i]);  // verifies the checksum
    ASSERT_TRUE(b.ok()) << i << ": " << b.status().ToString();
    EXPECT_TRUE(b->view() == objs[i]);
  }
}

TEST_F(DataContainerTest, JournalSurvivesReopen) {
  StartNginx();
  if (IsSkipped()) return;
  StorageOptions o = Options(true);
  nginx_->Stop();
  OpenContainer(o);
  const std::string data = RandomBytes(7777, 9);
  ObjectKey k = *PutKey(data);
  container_.reset();  // the process "goes away" with the push still pending
  ASSERT_TRUE(nginx_->Restart().ok());
  OpenContainer(o);
  ASSERT_TRUE(container_->DrainJournal(std::chrono::seconds(10)).ok());
  EXPECT_TRUE(container_->l3()->Get(k).ok());
}

// A bit flipped in L2's files on disk (an SST data block, or a blob file for
// the larger object): L2 reports Corruption, the container serves L3's copy and
// writes it back to L2.
TEST_F(DataContainerTest, FlippedByteInL2IsServedFromL3AndRepaired) {
  StartNginx();
  if (IsSkipped()) return;
  const StorageOptions o = Options(true);
  for (size_t n : {size_t{20000}, size_t{256 << 10}}) {
    OpenContainer(o);
    const std::string data = RandomBytes(n, 11);
    ObjectKey k = *PutKey(data);
    ASSERT_TRUE(container_->DrainJournal(std::chrono::seconds(10)).ok());
    ASSERT_TRUE(container_->Evict(k).ok());
    ASSERT_TRUE(container_->l2()->Flush().ok());
    container_.reset();  // closes L2; reopening starts with a cold block cache
    Result<std::string> file =
        testing::FlipByteInStoreFiles(o.disk, std::string_view(data).substr(n / 2, 64));
    ASSERT_TRUE(file.ok()) << n << ": " << file.status().ToString();
    EXPECT_TRUE(file->ends_with(n < (64 << 10) ? ".sst" : ".blob")) << n << ": " << *file;
    OpenContainer(o);
    Result<Blob> bad = container_->l2()->Get(k);
    ASSERT_TRUE(bad.status().IsCorruption())
        << n << " in " << *file << ": " << bad.status().ToString();
    Result<Blob> b = container_->Get(k);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_TRUE(b->view() == data);
    Result<Blob> repaired = container_->l2()->Get(k);
    ASSERT_TRUE(repaired.ok()) << repaired.status().ToString();
    EXPECT_TRUE(repaired->view() == data);
    container_.reset();
  }
}

TEST_F(DataContainerTest, FlippedByteInL3IsDetectedAndL2Serves) {
  StartNginx();
  if (IsSkipped()) return;
  OpenContainer(Options(true));
  const std::string data = RandomBytes(20000, 12);
  ObjectKey k = *PutKey(data);
  ASSERT_TRUE(container_->DrainJournal(std::chrono::seconds(10)).ok());
  {
    std::fstream f(nginx_->object_dir() + "/" + k.ToHex(),
                   std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekg(777);
    char c = static_cast<char>(f.get());
    f.seekp(777);
    f.put(static_cast<char>(c ^ 0x40));
  }
  EXPECT_TRUE(container_->l3()->Get(k).status().IsCorruption());
  ASSERT_TRUE(container_->Evict(k).ok());
  Result<Blob> b = container_->Get(k);  // L2 holds the good copy
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->view() == data);
  // With the local copies gone, the corrupt CDN copy is refused, not served.
  ASSERT_TRUE(container_->Evict(k).ok());
  ASSERT_TRUE(container_->l2()->Erase(k).ok());
  EXPECT_TRUE(container_->Get(k).status().IsCorruption());
}

TEST_F(DataContainerTest, LocalMissWithCdnDownIsUnavailable) {
  StartNginx();
  if (IsSkipped()) return;
  OpenContainer(Options(true));
  nginx_->Stop();
  Result<Blob> b = container_->Get(ObjectKey::Of("never stored"));
  EXPECT_TRUE(b.status().IsUnavailable()) << b.status().ToString();
}

}  // namespace
}  // namespace overlay::storage
