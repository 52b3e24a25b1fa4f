// SPDX-License-Identifier: Apache-2.0
#include "overlay/storage/cdn_tier.h"

#include <gtest/gtest.h>

#include <fstream>

#include "storage/nginx_server.h"

namespace overlay::storage {
namespace {

using testing::NginxServer;

class CdnTierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (NginxServer::Binary().empty())
      GTEST_SKIP() << "nginx is not installed (apt install nginx-light)";
    Result<std::unique_ptr<NginxServer>> s = NginxServer::Start(dir_.path());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    nginx_ = std::move(*s);
    Result<std::unique_ptr<CdnTier>> t = NewCdnTier({nginx_->base_url(), 5000, 1000});
    ASSERT_TRUE(t.ok());
    tier_ = std::move(*t);
  }
  testing::TempDir dir_;
  std::unique_ptr<NginxServer> nginx_;
  std::unique_ptr<CdnTier> tier_;
};

TEST_F(CdnTierTest, PutGetHeadDelete) {
  for (size_t n : {size_t{0}, size_t{1024}, size_t{3 << 20}}) {
    std::string data(n, 'q');
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>(i * 17);
    ObjectKey k = ObjectKey::Of(data);
    EXPECT_TRUE(tier_->Head(k).status().IsNotFound());
    ASSERT_TRUE(tier_->Put(k, data, ObjectMeta{n, 0, 0}).ok()) << n;
    Result<ObjectMeta> m = tier_->Head(k);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->size, n);
    Result<Blob> b = tier_->Get(k);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->view(), data);
    ASSERT_TRUE(tier_->Erase(k).ok());
    EXPECT_TRUE(tier_->Get(k).status().IsNotFound());
    EXPECT_TRUE(tier_->Erase(k).ok());
  }
}

TEST_F(CdnTierTest, FlippedByteOnTheOriginIsDetected) {
  std::string data(5000, 'f');
  ObjectKey k = ObjectKey::Of(data);
  ASSERT_TRUE(tier_->Put(k, data, ObjectMeta{data.size(), 0, 0}).ok());
  {
    std::fstream f(nginx_->object_dir() + "/" + k.ToHex(),
                   std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekp(1234);
    f.put('g');
  }
  EXPECT_TRUE(tier_->Get(k).status().IsCorruption());
}

TEST_F(CdnTierTest, UnreachableOriginIsUnavailable) {
  nginx_->Stop();
  ObjectKey k = ObjectKey::Of("x");
  Status put = tier_->Put(k, "x", ObjectMeta{1, 0, 0});
  EXPECT_TRUE(put.IsUnavailable()) << put.ToString();
  EXPECT_NE(put.message().find("unreachable"), std::string_view::npos);
  EXPECT_TRUE(tier_->Get(k).status().IsUnavailable());
  EXPECT_FALSE(NewCdnTier({"ftp://nope"}).ok());
}

}  // namespace
}  // namespace overlay::storage
