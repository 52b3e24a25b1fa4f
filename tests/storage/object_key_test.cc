// SPDX-License-Identifier: Apache-2.0
#include "overlay/object_key.h"

#include <gtest/gtest.h>

#include "overlay/storage/catalog.h"

namespace overlay::storage {
namespace {

TEST(ObjectKeyTest, HexRoundTrip) {
  ObjectKey k = ObjectKey::Of("hello");
  std::string hex = k.ToHex();
  ASSERT_EQ(hex.size(), 32u);
  std::optional<ObjectKey> back = ObjectKey::FromHex(hex);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, k);
  EXPECT_FALSE(ObjectKey::FromHex("xyz"));
  EXPECT_FALSE(ObjectKey::FromHex(std::string(32, 'g')));
  EXPECT_EQ(ObjectKey::FromHex("000000000000000A000000000000000b")->lo, 11u);
}

TEST(ObjectKeyTest, ContentAddressing) {
  EXPECT_EQ(ObjectKey::Of("abc"), ObjectKey::Of("abc"));
  EXPECT_NE(ObjectKey::Of("abc"), ObjectKey::Of("abd"));
  EXPECT_NE(ObjectKey::Of("abc"), ObjectKey::OfName("abc"));
  EXPECT_NE(ObjectKey::Of(""), ObjectKey{});
}

TEST(ObjectKeyTest, IncrementalHashMatchesOneShot) {
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  KeyHasher h;
  for (size_t off = 0; off < data.size(); off += 4093)
    h.Update(std::string_view(data).substr(off, 4093));
  EXPECT_EQ(h.Finish(), ObjectKey::Of(data));
}

TEST(CatalogEntryTest, EncodeDecode) {
  CatalogEntry e{"patient42/0007.txt", ObjectKey::Of("x"), 1234, 99, 1000, true};
  std::optional<CatalogEntry> d = CatalogEntry::Decode(e.Encode());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->name, e.name);
  EXPECT_EQ(d->key, e.key);
  EXPECT_EQ(d->size, 1234u);
  EXPECT_EQ(d->ctime_ms, 99u);
  EXPECT_EQ(d->expiry_ms, 1000u);
  EXPECT_TRUE(d->pinned);
  EXPECT_FALSE(CatalogEntry::Decode("garbage"));
}

}  // namespace
}  // namespace overlay::storage
