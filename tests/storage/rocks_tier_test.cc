// SPDX-License-Identifier: Apache-2.0
#include "overlay/storage/rocks_tier.h"

#include <gtest/gtest.h>

#include "storage/nginx_server.h"

namespace overlay::storage {
namespace {

std::string Bytes(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 13 + (i >> 10));
  return s;
}

class RocksTierTest : public ::testing::Test {
 protected:
  void SetUp() override {
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

TEST_F(RocksTierTest, FlippedByteIsDetected) {
  for (size_t n : {size_t{1000}, size_t{300 << 10}}) {
    std::string data = Bytes(n, 'z');
    ObjectKey k = ObjectKey::Of(data);
    ASSERT_TRUE(tier_->Put(k, data, ObjectMeta{n, 0, 0}).ok());
    ASSERT_TRUE(tier_->TEST_CorruptObject(k).ok());
    Result<Blob> b = tier_->Get(k);
    EXPECT_TRUE(b.status().IsCorruption()) << n << ": " << b.status().ToString();
    ASSERT_TRUE(tier_->Erase(k).ok());
    EXPECT_TRUE(tier_->Head(k).status().IsNotFound());
  }
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

}  // namespace
}  // namespace overlay::storage
