// SPDX-License-Identifier: Apache-2.0
// L1 space reuse: a transient object leaves L1 with its last reader, and the
// allocator hands its block out again before untouched space.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>
#include <string>

#include "overlay/storage/shm_cache.h"
#include "storage/nginx_server.h"

namespace overlay::storage {
namespace {

using testing::UniqueSegment;

class ShmReuseTest : public ::testing::Test {
 protected:
  void TearDown() override { (void)ShmCache::Remove(segment_); }

  std::shared_ptr<ShmCache> Open(uint64_t memory) {
    ShmCacheOptions o;
    o.segment = segment_;
    o.memory = memory;
    o.max_objects = 1024;
    Result<std::shared_ptr<ShmCache>> c = ShmCache::Open(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : nullptr;
  }

  // Stores `size` bytes (distinct per `seed`) through a loan, as a pipeline does.
  Result<Blob> PutBlob(ShmCache& c, size_t size, uint64_t seed, bool transient) {
    Result<WriteLoan> loan = c.Loan(size);
    if (!loan.ok()) return loan.status();
    std::memset(loan->data().data(), 0, size);
    std::memcpy(loan->data().data(), &seed, std::min(size, sizeof seed));
    return c.CommitBlob(std::move(*loan), 0, nullptr, transient);
  }

  std::string segment_ = UniqueSegment("reuse");
};

TEST_F(ShmReuseTest, TransientObjectLeavesWithItsLastReaderAndItsBlockIsReused) {
  auto c = Open(8 << 20);
  ASSERT_TRUE(c);
  constexpr size_t kSize = 512 << 10;  // beyond a reservation: the heap path
  std::optional<Blob> first(*PutBlob(*c, kSize, 1, true));
  const ObjectKey key = *first->key();
  const char* where = first->view().data();
  Result<ReadHandle> reader = c->Acquire(key);
  ASSERT_TRUE(reader.ok());
  first.reset();  // the writer lets go; a reader still holds it
  EXPECT_TRUE(c->Acquire(key).ok());
  EXPECT_EQ(c->Stats().live_objects, 1u);
  reader->Release();  // the last reader
  EXPECT_FALSE(c->Acquire(key).ok());
  EXPECT_EQ(c->Stats().live_objects, 0u);
  EXPECT_EQ(c->Stats().evictions, 0u);

  Result<Blob> next = PutBlob(*c, kSize, 2, true);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->view().data(), where);  // the freed block, not untouched space
}

TEST_F(ShmReuseTest, KeptAndNonTransientObjectsStayAfterTheirLastReader) {
  auto c = Open(8 << 20);
  ASSERT_TRUE(c);
  ObjectKey kept, plain;
  {
    Result<Blob> a = PutBlob(*c, 1000, 1, true);
    Result<Blob> b = PutBlob(*c, 1000, 2, false);
    ASSERT_TRUE(a.ok() && b.ok());
    kept = *a->key();
    plain = *b->key();
    ASSERT_TRUE(c->Keep(kept).ok());  // as naming does
  }
  EXPECT_TRUE(c->Acquire(kept).ok());
  EXPECT_TRUE(c->Acquire(plain).ok());
  EXPECT_EQ(c->Stats().live_objects, 2u);
}

// With the old next-fit allocator every put went past the previous one, so
// 20x the budget put through with few objects alive touched the whole arena.
TEST_F(ShmReuseTest, PutReleaseCyclesStayInASmallPartOfTheArena) {
  constexpr uint64_t kBudget = 16 << 20;
  auto c = Open(kBudget);
  ASSERT_TRUE(c);
  std::deque<Blob> alive;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  uint64_t put = 0;
  for (uint64_t i = 0; put < 20 * kBudget; ++i) {
    // Mixed sizes: small ones come from reservations, big ones from the heap.
    const size_t size = i % 3 == 0 ? (300 << 10) + i % 7 * 4096 : 2000 + i % 11 * 500;
    Result<Blob> b = PutBlob(*c, size, i, true);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    const auto p = reinterpret_cast<uintptr_t>(b->view().data());
    lo = std::min(lo, p);
    hi = std::max(hi, p + size);
    put += size;
    alive.push_back(std::move(*b));
    if (alive.size() > 8) alive.pop_front();
  }
  alive.clear();
  EXPECT_EQ(c->Stats().live_objects, 0u);
  EXPECT_EQ(c->Stats().evictions, 0u);  // nothing needed evicting
  EXPECT_LT(hi - lo, kBudget / 4) << "put " << put << " bytes";
}

}  // namespace
}  // namespace overlay::storage
