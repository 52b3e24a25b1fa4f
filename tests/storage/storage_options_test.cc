// SPDX-License-Identifier: Apache-2.0
#include "overlay/storage_options.h"

#include <gtest/gtest.h>

namespace overlay {
namespace {

TEST(StorageOptionsTest, ParsesEveryKey) {
  StorageOptions o;
  ASSERT_TRUE(SetStorageOption(&o, "memory", "64MiB").ok());
  EXPECT_EQ(o.memory, 64ull << 20);
  ASSERT_TRUE(SetStorageOption(&o, "STORAGE.policy", "SIEVE").ok());
  EXPECT_EQ(o.policy, EvictionPolicy::kSieve);
  ASSERT_TRUE(SetStorageOption(&o, "ttl", "10m").ok());
  EXPECT_EQ(o.ttl_ms, 600000u);
  ASSERT_TRUE(SetStorageOption(&o, "ttl", "30").ok());
  EXPECT_EQ(o.ttl_ms, 30000u);
  ASSERT_TRUE(SetStorageOption(&o, "disk", " /var/lib/overlay ").ok());
  EXPECT_EQ(o.disk, "/var/lib/overlay");
  ASSERT_TRUE(SetStorageOption(&o, "cdn", "http://127.0.0.1:8080/objects/").ok());
  EXPECT_EQ(o.cdn, "http://127.0.0.1:8080/objects");
  ASSERT_TRUE(SetStorageOption(&o, "write", "back").ok());
  EXPECT_EQ(o.write, WriteMode::kBack);
  ASSERT_TRUE(SetStorageOption(&o, "segment", "node-1").ok());
  EXPECT_EQ(o.segment, "node-1");
  ASSERT_TRUE(SetStorageOption(&o, "objects", "1024").ok());
  EXPECT_EQ(o.max_objects, 1024u);
  ASSERT_TRUE(SetStorageOption(&o, "chunk", "8M").ok());
  EXPECT_EQ(o.chunk, 8ull << 20);
  ASSERT_TRUE(SetStorageOption(&o, "cdn_timeout", "500ms").ok());
  EXPECT_EQ(o.cdn_timeout_ms, 500u);
  ASSERT_TRUE(SetStorageOption(&o, "retry_min", "20ms").ok());
  ASSERT_TRUE(SetStorageOption(&o, "retry_max", "2s").ok());
  EXPECT_EQ(o.retry_max_ms, 2000u);
  EXPECT_EQ(StorageOptionKeys().size(), 12u);
}

TEST(StorageOptionsTest, RejectsBadValuesAndKeepsOptions) {
  StorageOptions o;
  Status s = SetStorageOption(&o, "policy", "lfru");
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("did you mean"), std::string_view::npos) << s.ToString();
  EXPECT_EQ(o.policy, EvictionPolicy::kLru);
  EXPECT_TRUE(SetStorageOption(&o, "memory", "12 parsecs").IsInvalidArgument());
  EXPECT_TRUE(SetStorageOption(&o, "memory", "1KiB").IsInvalidArgument());
  EXPECT_EQ(o.memory, 256ull << 20);
  EXPECT_TRUE(SetStorageOption(&o, "cdn", "ftp://x").IsInvalidArgument());
  EXPECT_TRUE(SetStorageOption(&o, "segment", "a/b").IsInvalidArgument());
  EXPECT_TRUE(SetStorageOption(&o, "ttl", "-1").IsInvalidArgument());
  Status unknown = SetStorageOption(&o, "memroy", "1GiB");
  EXPECT_TRUE(unknown.IsInvalidArgument());
  EXPECT_NE(unknown.message().find("memory"), std::string_view::npos) << unknown.ToString();
}

TEST(StorageOptionsTest, ByteAndDurationParsers) {
  EXPECT_EQ(*ParseByteSize("1048576"), 1048576u);
  EXPECT_EQ(*ParseByteSize("2GiB"), 2ull << 30);
  EXPECT_FALSE(ParseByteSize("99999999999999999999").ok());
  EXPECT_FALSE(ParseByteSize("20000000000T").ok());
  EXPECT_EQ(*ParseDurationMs("0"), 0u);
  EXPECT_EQ(*ParseDurationMs("2h"), 7200000u);
  EXPECT_FALSE(ParseDurationMs("5 fortnights").ok());
}

}  // namespace
}  // namespace overlay
