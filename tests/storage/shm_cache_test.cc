// SPDX-License-Identifier: Apache-2.0
#include "overlay/storage/shm_cache.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/other_user.h"
#include "storage/nginx_server.h"

namespace overlay::storage {
namespace {

using testing::UniqueSegment;

std::string Bytes(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 31 + (i >> 8));
  return s;
}

// Waits (bounded) for a child to exit and returns its exit code, or -1.
int WaitChild(pid_t pid, std::chrono::seconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int st = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  return -1;
}

// Reads one byte from `fd` within 10 s; false on timeout or EOF.
bool ReadSignal(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 10000) != 1) return false;
  char c = 0;
  return read(fd, &c, 1) == 1;
}

// Forks a child that opens `segment` and runs `body`; the child stops at
// the hook point `stop_at`, or after `body` when that is empty. The parent
// waits until it has stopped there, then kills it (kill -9) and returns its
// exit as WaitChild gives it (128 + SIGKILL when killed where intended).
int KillChildStoppedIn(const std::string& segment, std::string_view stop_at,
                       const std::function<void(ShmCache&)>& body) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    auto stop = [&] {
      if (write(fds[1], "r", 1) != 1) _exit(4);
      for (;;) pause();
    };
    ShmCacheOptions o;
    o.segment = segment;
    o.TEST_hook = [&](std::string_view point) {
      if (!stop_at.empty() && point == stop_at) stop();
    };
    Result<std::shared_ptr<ShmCache>> c = ShmCache::Open(o);
    if (!c.ok()) _exit(2);
    body(**c);
    if (!stop_at.empty()) _exit(3);  // never reached the hook point
    stop();
  }
  close(fds[1]);
  const bool stopped = ReadSignal(fds[0]);
  close(fds[0]);
  kill(pid, SIGKILL);
  const int exit = WaitChild(pid);
  return stopped ? exit : -1;
}

// Test-name suffix of a parameterized eviction case.
std::string PolicyName(EvictionPolicy policy) {
  switch (policy) {
    case EvictionPolicy::kLru:
      return "lru";
    case EvictionPolicy::kLfu:
      return "lfu";
    case EvictionPolicy::kSieve:
      return "sieve";
  }
  return "unknown";
}

class ShmCacheTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const auto& s : segments_) (void)ShmCache::Remove(s);
  }

  std::shared_ptr<ShmCache> Open(EvictionPolicy policy = EvictionPolicy::kLru,
                                 uint64_t memory = 1 << 20, std::string segment = "") {
    if (segment.empty()) segment = UniqueSegment("l1");
    segments_.push_back(segment);
    ShmCacheOptions o;
    o.segment = segment;
    o.memory = memory;
    o.max_objects = 256;
    o.policy = policy;
    Result<std::shared_ptr<ShmCache>> c = ShmCache::Open(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : nullptr;
  }

  ObjectKey MustPut(ShmCache& c, const std::string& bytes, uint64_t expiry = 0) {
    ObjectKey k = ObjectKey::Of(bytes);
    Status s = c.Put(k, bytes, ObjectMeta{bytes.size(), 0, expiry});
    EXPECT_TRUE(s.ok()) << s.ToString();
    return k;
  }

  std::vector<std::string> segments_;
};

TEST_F(ShmCacheTest, LoanFillCommitAcquireIsZeroCopy) {
  auto c = Open();
  ASSERT_TRUE(c);
  const std::string data = Bytes(1000, 'a');
  Result<WriteLoan> loan = c->Loan(data.size());
  ASSERT_TRUE(loan.ok()) << loan.status().ToString();
  std::memcpy(loan->data().data(), data.data(), data.size());
  const char* where = loan->data().data();
  Result<ObjectKey> key = c->Commit(std::move(*loan));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, ObjectKey::Of(data));
  Result<ReadHandle> h = c->Acquire(*key);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->view(), data);
  EXPECT_EQ(h->view().data(), where);  // the reader sees the writer's bytes in place
  EXPECT_EQ(c->Stats().live_objects, 1u);
}

TEST_F(ShmCacheTest, EmptyObjectAndDeduplication) {
  auto c = Open();
  ASSERT_TRUE(c);
  ObjectKey empty = MustPut(*c, "");
  Result<ReadHandle> h = c->Acquire(empty);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->view().size(), 0u);
  const std::string data = Bytes(5000, 'x');
  MustPut(*c, data);
  MustPut(*c, data);
  EXPECT_EQ(c->Stats().live_objects, 2u);
  EXPECT_EQ(c->Stats().live_bytes, 5000u);
}

TEST_F(ShmCacheTest, MissAndWrongKeyPut) {
  auto c = Open();
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->Acquire(ObjectKey::Of("absent")).status().IsNotFound());
  Status s = c->Put(ObjectKey::Of("one"), "two", ObjectMeta{3, 0, 0});
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_TRUE(c->Acquire(ObjectKey::Of("two")).status().IsNotFound());
  EXPECT_TRUE(c->Loan(2 << 20).status().IsInvalidArgument());
}

// Four 250 KiB objects fill the 1 MiB budget; the fifth forces one eviction.
struct EvictionCase {
  EvictionPolicy policy;
  std::vector<int> reads;    // indexes of A..D read before the fifth put, in order
  std::vector<int> victims;  // expected evictions by the fifth and sixth puts
};

class ShmEvictionTest : public ShmCacheTest, public ::testing::WithParamInterface<EvictionCase> {};

TEST_P(ShmEvictionTest, EvictsThePolicysVictimThroughTheListener) {
  const EvictionCase& tc = GetParam();
  auto c = Open(tc.policy);
  ASSERT_TRUE(c);
  std::vector<ObjectKey> demoted;
  std::vector<std::string> demoted_bytes;
  c->SetEvictListener([&](const ObjectKey& k, std::string_view b, const ObjectMeta&) {
    demoted.push_back(k);
    demoted_bytes.emplace_back(b);
    return true;
  });
  std::vector<std::string> objs;
  std::vector<ObjectKey> keys;
  for (int i = 0; i < 6; ++i) objs.push_back(Bytes(250 << 10, static_cast<char>('A' + i)));
  for (int i = 0; i < 4; ++i) keys.push_back(MustPut(*c, objs[i]));
  EXPECT_TRUE(demoted.empty());
  for (int r : tc.reads) ASSERT_TRUE(c->Acquire(keys[r]).ok());
  keys.push_back(MustPut(*c, objs[4]));
  keys.push_back(MustPut(*c, objs[5]));
  ASSERT_EQ(demoted.size(), tc.victims.size());
  for (size_t i = 0; i < tc.victims.size(); ++i) {
    EXPECT_EQ(demoted[i], keys[tc.victims[i]]) << "eviction " << i;
    EXPECT_EQ(demoted_bytes[i], objs[tc.victims[i]]);
    EXPECT_TRUE(c->Acquire(keys[tc.victims[i]]).status().IsNotFound());
  }
  for (int i = 0; i < 6; ++i) {
    if (std::find(tc.victims.begin(), tc.victims.end(), i) == tc.victims.end()) {
      EXPECT_TRUE(c->Acquire(keys[i]).ok()) << "object " << i;
    }
  }
  EXPECT_EQ(c->Stats().evictions, tc.victims.size());
}

INSTANTIATE_TEST_SUITE_P(
    Policies, ShmEvictionTest,
    ::testing::Values(
        // LRU: A is read, so B then C are the least recent.
        EvictionCase{EvictionPolicy::kLru, {0}, {1, 2}},
        // LFU: hits A=3 B=2 C=0 D=1: C goes first, then E, which has no hits yet.
        EvictionCase{EvictionPolicy::kLfu, {0, 0, 0, 1, 1, 3}, {2, 4}},
        // SIEVE: A and B visited; the hand clears them and evicts C, then D.
        EvictionCase{EvictionPolicy::kSieve, {0, 1}, {2, 3}}),
    [](const auto& info) { return PolicyName(info.param.policy); });

// One eviction batch frees 1/16 of the budget, several objects at once; they
// must still leave in the policy's order. 127 objects of 8 KiB fill the 1 MiB
// budget, so the 128th put evicts a batch of about 8.
struct BatchCase {
  EvictionPolicy policy;
  std::vector<int> reads;  // object indices read, in order, before the last put
  int first_victim;        // victims are this object and the ones after it
};

class ShmBatchEvictionTest : public ShmCacheTest,
                             public ::testing::WithParamInterface<BatchCase> {};

TEST_P(ShmBatchEvictionTest, BatchLeavesInPolicyOrder) {
  const BatchCase& tc = GetParam();
  auto c = Open(tc.policy);
  ASSERT_TRUE(c);
  std::vector<ObjectKey> demoted;
  c->SetEvictListener(
      [&](const ObjectKey& k, std::string_view, const ObjectMeta&) {
        demoted.push_back(k);
        return true;
      });
  std::vector<ObjectKey> keys;
  for (int i = 0; i < 128; ++i) keys.push_back(ObjectKey::Of(Bytes(8 << 10, static_cast<char>(i))));
  for (int i = 0; i < 127; ++i) MustPut(*c, Bytes(8 << 10, static_cast<char>(i)));
  ASSERT_TRUE(demoted.empty()) << "the budget should hold 127 objects";
  for (int r : tc.reads) ASSERT_TRUE(c->Acquire(keys[r]).ok()) << r;
  MustPut(*c, Bytes(8 << 10, static_cast<char>(127)));
  ASSERT_GE(demoted.size(), 2u);
  ASSERT_LE(demoted.size(), 16u);
  for (size_t i = 0; i < demoted.size(); ++i)
    EXPECT_EQ(demoted[i], keys[tc.first_victim + i]) << "eviction " << i;
  EXPECT_TRUE(c->Acquire(keys[tc.first_victim - 1]).ok());
  EXPECT_TRUE(c->Acquire(keys[tc.first_victim + demoted.size()]).ok());
}

std::vector<int> Range(int from, int to) {
  std::vector<int> v;
  for (int i = from; i < to; ++i) v.push_back(i);
  return v;
}

std::vector<int> Concat(std::vector<int> a, const std::vector<int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

INSTANTIATE_TEST_SUITE_P(
    Policies, ShmBatchEvictionTest,
    ::testing::Values(
        // LRU: every object read, 60.. before 0..59, so 60.. are the least recent.
        BatchCase{EvictionPolicy::kLru, Concat(Range(60, 127), Range(0, 60)), 60},
        // LFU: every object read once except 100..115, which go first.
        BatchCase{EvictionPolicy::kLfu, Concat(Range(0, 100), Range(116, 127)), 100},
        // SIEVE: the hand clears 0..59 (visited) and evicts from 60 on; the walk
        // passes more objects than a first ordering guess covers.
        BatchCase{EvictionPolicy::kSieve, Range(0, 60), 60}),
    [](const auto& info) { return PolicyName(info.param.policy); });

// With thousands of candidates a batch is chosen from a sampled bound, not
// by ordering them all; it must still take the least recent, oldest first.
// 8192 objects of 64 B (128 B with their header) fill the 1 MiB budget.
TEST_F(ShmCacheTest, LargeBatchLeavesInLruOrder) {
  const std::string segment = UniqueSegment("l1-big");
  segments_.push_back(segment);
  ShmCacheOptions o;
  o.segment = segment;
  o.memory = 1 << 20;
  o.max_objects = 16384;
  Result<std::shared_ptr<ShmCache>> c = ShmCache::Open(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::vector<ObjectKey> demoted;
  (*c)->SetEvictListener([&](const ObjectKey& k, std::string_view, const ObjectMeta&) {
    demoted.push_back(k);
    return true;
  });
  std::vector<ObjectKey> keys;
  for (int i = 0;; ++i) {
    std::string bytes = Bytes(64, 0);
    std::memcpy(bytes.data(), &i, sizeof i);
    ASSERT_LT(i, 20000) << "the budget never filled";
    keys.push_back(MustPut(**c, bytes));
    if (!demoted.empty()) break;
  }
  // Read every object, the second half first (the first batch evicted the
  // oldest of the first half), then fill the budget again with new ones.
  const size_t n = keys.size();
  ASSERT_GT(n, 4096u) << "too few candidates to sample";
  for (size_t i = n / 2; i < n; ++i) ASSERT_TRUE((*c)->Acquire(keys[i]).ok()) << i;
  for (size_t i = 0; i < n / 2; ++i) (void)(*c)->Acquire(keys[i]);
  demoted.clear();
  for (int i = 0; demoted.empty(); ++i) {
    ASSERT_LT(i, 20000) << "the budget never filled again";
    std::string bytes = Bytes(64, 1);
    std::memcpy(bytes.data(), &i, sizeof i);
    MustPut(**c, bytes);
  }
  // The least recent are the second half, in the order read.
  ASSERT_GE(demoted.size(), 16u);
  ASSERT_LT(demoted.size(), n / 2);
  for (size_t i = 0; i < demoted.size(); ++i)
    EXPECT_EQ(demoted[i], keys[n / 2 + i]) << "eviction " << i;
}

// Removals used to leave only tombstones in the index; now they empty slots
// again. Churn through a small index (512 slots) and check that every object the
// cache lists stays reachable and every removed one is gone.
TEST_F(ShmCacheTest, IndexStaysConsistentUnderChurn) {
  auto c = Open(EvictionPolicy::kLru, 1 << 20);
  ASSERT_TRUE(c);
  std::vector<ObjectKey> erased;
  for (int i = 0; i < 3000; ++i) {
    std::string bytes = Bytes(64 + (i * 37) % 3000, static_cast<char>(i));
    std::memcpy(bytes.data(), &i, sizeof(i));
    ObjectKey k = MustPut(*c, bytes);
    ASSERT_TRUE(c->Acquire(k).ok()) << "put " << i;
    if (i % 3 == 0) {
      ASSERT_TRUE(c->Erase(k).ok());
      erased.push_back(k);
    }
    if (i % 250 != 249) continue;
    std::vector<ShmEntry> live = c->List();
    EXPECT_EQ(live.size(), c->Stats().live_objects);
    for (const ShmEntry& e : live) EXPECT_TRUE(c->Acquire(e.key).ok()) << "put " << i;
    for (const ObjectKey& k2 : erased) EXPECT_TRUE(c->Acquire(k2).status().IsNotFound());
    erased.clear();
  }
  EXPECT_GT(c->Stats().evictions, 0u);
}

// Two writers that evict at the same time must not both pick the same victim:
// each evicted object is demoted once and counted once.
TEST_F(ShmCacheTest, ConcurrentEvictionsDemoteEachObjectOnce) {
  auto c = Open(EvictionPolicy::kLru, 1 << 20);
  ASSERT_TRUE(c);
  std::mutex mu;
  std::map<std::string, int> demoted;
  c->SetEvictListener([&](const ObjectKey& k, std::string_view, const ObjectMeta&) {
    std::this_thread::yield();  // widen the window in which the other writer picks
    std::lock_guard lock(mu);
    ++demoted[k.ToHex()];
    return true;
  });
  auto writer = [&](int id) {
    for (int i = 0; i < 4000; ++i) {
      std::string bytes = Bytes(2048, static_cast<char>(id));
      std::memcpy(bytes.data(), &i, sizeof(i));
      ObjectKey k = ObjectKey::Of(bytes);
      ASSERT_TRUE(c->Put(k, bytes, ObjectMeta{bytes.size(), 0, 0}).ok());
    }
  };
  std::thread a(writer, 1), b(writer, 2);
  a.join();
  b.join();
  uint64_t total = 0;
  for (const auto& [key, n] : demoted) {
    EXPECT_EQ(n, 1) << key << " demoted " << n << " times";
    total += n;
  }
  EXPECT_GT(total, 0u);
  EXPECT_EQ(c->Stats().evictions, total);
}

TEST_F(ShmCacheTest, PinnedObjectsAreNotEvicted) {
  auto c = Open();
  ASSERT_TRUE(c);
  std::vector<ObjectKey> keys;
  for (int i = 0; i < 4; ++i) keys.push_back(MustPut(*c, Bytes(250 << 10, static_cast<char>(i))));
  for (const ObjectKey& k : keys) ASSERT_TRUE(c->SetPinned(k, true).ok());
  Result<WriteLoan> loan = c->Loan(250 << 10);
  EXPECT_TRUE(loan.status().IsBusy()) << loan.status().ToString();
  EXPECT_TRUE(c->Evict(keys[0]).IsBusy());
  ASSERT_TRUE(c->SetPinned(keys[2], false).ok());
  EXPECT_TRUE(c->Loan(250 << 10).ok());
  EXPECT_TRUE(c->Acquire(keys[2]).status().IsNotFound());
  EXPECT_TRUE(c->Acquire(keys[0]).ok());
}

TEST_F(ShmCacheTest, ReadObjectWithNowhereToGoIsNotEvicted) {
  auto c = Open();
  ASSERT_TRUE(c);
  const std::string a = Bytes(300 << 10, 'a');
  ObjectKey ka = MustPut(*c, a);
  Result<ReadHandle> h = c->Acquire(ka);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(c->Evict(ka).IsBusy());
  // Memory pressure passes it over too: its L1 copy is the only one.
  for (int i = 0; i < 8; ++i) MustPut(*c, Bytes(200 << 10, static_cast<char>('k' + i)));
  EXPECT_TRUE(c->Acquire(ka).ok());
  h->Release();
  EXPECT_TRUE(c->Evict(ka).ok());
  EXPECT_TRUE(c->Acquire(ka).status().IsNotFound());
}

TEST_F(ShmCacheTest, HandleKeepsBytesAcrossEvictionAndReuse) {
  auto c = Open();
  ASSERT_TRUE(c);
  c->SetEvictListener([](const ObjectKey&, std::string_view, const ObjectMeta&) { return true; });
  const std::string a = Bytes(300 << 10, 'a');
  ObjectKey ka = MustPut(*c, a);
  Result<ReadHandle> h = c->Acquire(ka);
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(c->Evict(ka).ok());
  EXPECT_TRUE(c->Acquire(ka).status().IsNotFound());
  // Fill the rest of the budget with other objects; the pinned bytes must not be reused.
  for (int i = 0; i < 8; ++i) {
    Status s = c->Put(ObjectKey::Of(Bytes(200 << 10, static_cast<char>('k' + i))),
                      Bytes(200 << 10, static_cast<char>('k' + i)), ObjectMeta{200 << 10, 0, 0});
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_EQ(h->view(), a);
  h->Release();
  // Now the 300 KiB hole is reusable: a put that needs it succeeds.
  for (int i = 0; i < 4; ++i) MustPut(*c, Bytes(240 << 10, static_cast<char>('q' + i)));
}

TEST_F(ShmCacheTest, BlobFromGetOutlivesTheCache) {
  const std::string data = Bytes(4096, 'b');
  Blob blob;
  {
    auto c = Open();
    ASSERT_TRUE(c);
    ObjectKey k = MustPut(*c, data);
    Result<Blob> b = c->Get(k);
    ASSERT_TRUE(b.ok());
    blob = *b;
  }
  EXPECT_EQ(blob.view(), data);
}

TEST_F(ShmCacheTest, TtlExpiry) {
  auto c = Open();
  ASSERT_TRUE(c);
  const std::string data = Bytes(100, 't');
  const uint64_t expiry = NowUnixMs() + 150;
  ObjectKey k = MustPut(*c, data, expiry);
  ObjectKey keep = MustPut(*c, Bytes(100, 'u'));
  EXPECT_TRUE(c->Acquire(k).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (NowUnixMs() <= expiry && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(c->Acquire(k).status().IsNotFound());
  std::vector<ObjectKey> gone = c->ExpireNow(NowUnixMs());
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0], k);
  EXPECT_EQ(c->Stats().live_objects, 1u);
  EXPECT_TRUE(c->Acquire(keep).ok());
}

TEST_F(ShmCacheTest, RecordsAreReplacedAndSeparateFromObjects) {
  auto c = Open();
  ASSERT_TRUE(c);
  ObjectKey k = ObjectKey::OfName("patient42/0007.txt");
  ASSERT_TRUE(c->PutRecord(k, "first", 0).ok());
  ASSERT_TRUE(c->PutRecord(k, "second", 0).ok());
  Result<ReadHandle> h = c->AcquireRecord(k);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->view(), "second");
  EXPECT_TRUE(c->Acquire(k).status().IsNotFound());
  int records = 0;
  for (const ShmEntry& e : c->List()) records += e.record;
  EXPECT_EQ(records, 1);
  h->Release();
  ASSERT_TRUE(c->EraseRecord(k).ok());
  EXPECT_TRUE(c->AcquireRecord(k).status().IsNotFound());
}

TEST_F(ShmCacheTest, SecondProcessSeesAndAddsObjects) {
  const std::string segment = UniqueSegment("shared");
  auto c = Open(EvictionPolicy::kLru, 1 << 20, segment);
  ASSERT_TRUE(c);
  const std::string mine = Bytes(70000, 'p');
  const std::string theirs = Bytes(50000, 'c');
  ObjectKey km = MustPut(*c, mine);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ShmCacheOptions o;
    o.segment = segment;
    Result<std::shared_ptr<ShmCache>> other = ShmCache::Open(o);
    if (!other.ok()) _exit(2);
    Result<ReadHandle> h = (*other)->Acquire(km);
    if (!h.ok() || h->view() != mine) _exit(3);
    h->Release();
    if (!(*other)->Put(ObjectKey::Of(theirs), theirs, ObjectMeta{theirs.size(), 0, 0}).ok())
      _exit(4);
    _exit(0);
  }
  ASSERT_EQ(WaitChild(pid), 0);
  Result<ReadHandle> h = c->Acquire(ObjectKey::Of(theirs));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->view(), theirs);
  EXPECT_EQ(c->Stats().live_objects, 2u);
}

TEST_F(ShmCacheTest, WriterKilledBetweenLoanAndCommitLeavesNothing) {
  const std::string segment = UniqueSegment("kill-loan");
  auto c = Open(EvictionPolicy::kLru, 1 << 20, segment);
  ASSERT_TRUE(c);
  const std::string half = Bytes(600 << 10, 'h');
  WriteLoan kept;  // (the child's copy) open while the child is stopped
  EXPECT_EQ(KillChildStoppedIn(segment, "",
                               [&](ShmCache& other) {
                                 Result<WriteLoan> loan = other.Loan(half.size());
                                 if (!loan.ok()) _exit(3);
                                 // Half-written, then the child stops.
                                 std::memcpy(loan->data().data(), half.data(), half.size() / 2);
                                 kept = std::move(*loan);
                               }),
            128 + SIGKILL);
  EXPECT_EQ(c->Stats().live_objects, 0u);
  EXPECT_TRUE(c->List().empty());
  // The dead loan's 600 KiB must come back: this loan only fits if it does.
  const std::string full = Bytes(900 << 10, 'f');
  ObjectKey k = MustPut(*c, full);
  Result<ReadHandle> h = c->Acquire(k);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->view(), full);
}

TEST_F(ShmCacheTest, WriterKilledHoldingTheLockLeavesNoLockAndNoTornEntry) {
  const std::string segment = UniqueSegment("kill-lock");
  auto c = Open(EvictionPolicy::kLru, 1 << 20, segment);
  ASSERT_TRUE(c);
  const std::string data = Bytes(100 << 10, 'w');
  const ObjectKey key = ObjectKey::Of(data);
  // The child is killed holding the writer mutex mid-commit.
  EXPECT_EQ(KillChildStoppedIn(segment, "commit_locked",
                               [&](ShmCache& other) {
                                 (void)other.Put(key, data, ObjectMeta{data.size(), 0, 0});
                               }),
            128 + SIGKILL);
  // Readers never block and never see the half-published entry.
  EXPECT_TRUE(c->Acquire(key).status().IsNotFound());
  // The next writer takes over the dead owner's mutex and recovers.
  const std::string other = Bytes(800 << 10, 'o');
  ObjectKey ko = MustPut(*c, other);
  EXPECT_EQ(c->Stats().recoveries, 1u);
  EXPECT_TRUE(c->Acquire(ko).ok());
  // The same bytes can be stored again and read back whole.
  ASSERT_TRUE(c->Evict(ko).ok());
  MustPut(*c, data);
  Result<ReadHandle> h = c->Acquire(key);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->view(), data);
  EXPECT_EQ(c->Stats().live_objects, 1u);
}

// A writer killed while it demotes its victims (pinned and marked as being
// evicted) must not leave them unevictable: the next eviction scan finds the
// evictor dead and takes them back.
TEST_F(ShmCacheTest, WriterKilledWhileEvictingLeavesItsVictimsEvictable) {
  const std::string segment = UniqueSegment("kill-evict");
  auto c = Open(EvictionPolicy::kLru, 1 << 20, segment);
  ASSERT_TRUE(c);
  std::vector<ObjectKey> old;
  for (char ch = 'a'; ch < 'a' + 8; ++ch) old.push_back(MustPut(*c, Bytes(100 << 10, ch)));
  // The child has pinned and marked its victims when it is killed.
  const std::string big = Bytes(500 << 10, 'z');
  EXPECT_EQ(KillChildStoppedIn(segment, "evict_demoting",
                               [&](ShmCache& other) {
                                 (void)other.Put(ObjectKey::Of(big), big,
                                                 ObjectMeta{big.size(), 0, 0});
                               }),
            128 + SIGKILL);
  // Ten new objects fill the whole budget, so they must push out every old
  // one, including those the dead writer had chosen.
  for (char ch = 'A'; ch < 'A' + 10; ++ch) MustPut(*c, Bytes(100 << 10, ch));
  for (size_t i = 0; i < old.size(); ++i)
    EXPECT_TRUE(c->Acquire(old[i]).status().IsNotFound()) << "old object " << i << " stuck";
  EXPECT_EQ(c->Stats().live_objects, 10u);
}

// A reader killed while it holds handles leaks no memory: the next process to
// open the segment (a restarted daemon) drops its pins, so the evicted
// objects' blocks come back.
TEST_F(ShmCacheTest, ReaderKilledHoldingHandlesLeavesNoPins) {
  const std::string segment = UniqueSegment("kill-reader");
  auto c = Open(EvictionPolicy::kLru, 1 << 20, segment);
  ASSERT_TRUE(c);
  // As with a disk tier: read objects may leave L1 once demoted.
  c->SetEvictListener([](const ObjectKey&, std::string_view, const ObjectMeta&) { return true; });
  std::vector<ObjectKey> held;
  for (char ch = 'a'; ch < 'a' + 3; ++ch) held.push_back(MustPut(*c, Bytes(300 << 10, ch)));
  // The child is killed holding a handle on each object.
  std::vector<ReadHandle> handles;  // (the child's copy)
  EXPECT_EQ(KillChildStoppedIn(segment, "",
                               [&](ShmCache& other) {
                                 for (const ObjectKey& k : held) {
                                   Result<ReadHandle> h = other.Acquire(k);
                                   if (!h.ok()) _exit(3);
                                   handles.push_back(std::move(*h));
                                 }
                               }),
            128 + SIGKILL);
  for (const ObjectKey& k : held) ASSERT_TRUE(c->Evict(k).ok());
  ShmCacheOptions o;
  o.segment = segment;
  Result<std::shared_ptr<ShmCache>> restarted = ShmCache::Open(o);
  ASSERT_TRUE(restarted.ok()) << restarted.status().ToString();
  EXPECT_EQ((*restarted)->Stats().reclaimed_pins, 3u);
  // Fits only in the space the dead reader's pins held.
  const std::string big = Bytes(900 << 10, 'B');
  ObjectKey kb = MustPut(**restarted, big);
  Result<ReadHandle> h = c->Acquire(kb);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->view(), big);
}

// Small puts are carved from per-thread reservations without the writer
// mutex. Two writers churning through a cache many times its size must never
// hand out overlapping space: every object left reads back as its own bytes.
TEST_F(ShmCacheTest, ConcurrentSmallPutsNeverOverlap) {
  auto c = Open(EvictionPolicy::kLru, 8 << 20);
  ASSERT_TRUE(c);
  auto writer = [&](int id) {
    for (int i = 0; i < 20000; ++i) {
      std::string bytes = Bytes(200 + (i * 131) % 1800, static_cast<char>(id));
      std::memcpy(bytes.data(), &i, sizeof(i));
      bytes[sizeof(i)] = static_cast<char>(id);
      ObjectKey k = ObjectKey::Of(bytes);
      ASSERT_TRUE(c->Put(k, bytes, ObjectMeta{bytes.size(), 0, 0}).ok());
    }
  };
  std::thread a(writer, 1), b(writer, 2);
  a.join();
  b.join();
  EXPECT_GT(c->Stats().evictions, 0u);
  std::vector<ShmEntry> live = c->List();
  EXPECT_FALSE(live.empty());
  for (const ShmEntry& e : live) {
    Result<ReadHandle> h = c->Acquire(e.key);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(ObjectKey::Of(h->view()), e.key);
  }
}

// A writer killed while it holds a reservation (small puts done, more to
// come) leaks nothing: its reservation is a dead writer's loan.
TEST_F(ShmCacheTest, WriterKilledHoldingAReservationLeavesNothing) {
  const std::string segment = UniqueSegment("kill-res");
  auto c = Open(EvictionPolicy::kLru, 4 << 20, segment);
  ASSERT_TRUE(c);
  EXPECT_EQ(KillChildStoppedIn(segment, "",
                               [&](ShmCache& other) {
                                 for (int i = 0; i < 50; ++i) {
                                   std::string bytes = Bytes(500, 'r');
                                   std::memcpy(bytes.data(), &i, sizeof(i));
                                   if (!other.Put(ObjectKey::Of(bytes), bytes,
                                                  ObjectMeta{bytes.size(), 0, 0})
                                            .ok())
                                     _exit(3);
                                 }
                               }),
            128 + SIGKILL);
  EXPECT_EQ(c->Stats().live_objects, 50u);
  // Fits only once the child's objects are evicted and its reservation freed.
  const std::string big = Bytes((4 << 20) - (20 << 10), 'B');
  ObjectKey kb = MustPut(*c, big);
  Result<ReadHandle> h = c->Acquire(kb);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->view(), big);
  EXPECT_EQ(c->Stats().live_objects, 1u);
}

TEST_F(ShmCacheTest, ConcurrentReadersAndWriter) {
  auto c = Open(EvictionPolicy::kSieve, 2 << 20);
  ASSERT_TRUE(c);
  std::vector<std::string> objs;
  std::vector<ObjectKey> keys;
  for (int i = 0; i < 64; ++i) {
    objs.push_back(Bytes(64 << 10, static_cast<char>(i)));
    keys.push_back(ObjectKey::Of(objs.back()));
  }
  std::atomic<bool> bad{false};
  std::atomic<bool> done{false};
  std::thread reader([&] {
    for (int round = 0; round < 20000 && !done; ++round) {
      int i = round % 64;
      Result<ReadHandle> h = c->Acquire(keys[i]);
      if (h.ok() && h->view() != objs[i]) bad = true;
    }
  });
  for (int round = 0; round < 4; ++round)
    for (int i = 0; i < 64; ++i)
      ASSERT_TRUE(c->Put(keys[i], objs[i], ObjectMeta{objs[i].size(), 0, 0}).ok());
  done = true;
  reader.join();
  EXPECT_FALSE(bad);
}

// The segment this process creates is its user's alone.
TEST_F(ShmCacheTest, CreatedSegmentIsPrivate) {
  const std::string segment = UniqueSegment("mode");
  ASSERT_TRUE(Open(EvictionPolicy::kLru, 1 << 20, segment));
  struct stat st {};
  ASSERT_EQ(stat(("/dev/shm/" + segment).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, geteuid());
}

// A segment someone left readable by others is refused, not used.
TEST_F(ShmCacheTest, SegmentWithLooseModeIsRefused) {
  const std::string segment = UniqueSegment("loose");
  segments_.push_back(segment);
  int fd = shm_open(("/" + segment).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fchmod(fd, 0644), 0);
  close(fd);
  ShmCacheOptions o;
  o.segment = segment;
  auto c = ShmCache::Open(o);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsInvalidArgument()) << c.status().ToString();
  EXPECT_NE(c.status().message().find("mode 0644"), std::string::npos) << c.status().ToString();
}

// Another local user creates the segment first (squatting); opening it must
// fail and name that user, rather than store objects the squatter can rewrite.
TEST_F(ShmCacheTest, SegmentSquattedByAnotherUserIsRefused) {
  testing_common::OtherUser other;
  if (!other.ok()) GTEST_SKIP() << other.why();
  const std::string segment = UniqueSegment("squat");
  segments_.push_back(segment);
  ASSERT_TRUE(other.Run([&] {
    int fd = shm_open(("/" + segment).c_str(), O_CREAT | O_EXCL | O_RDWR, 0666);
    return fd >= 0 && fchmod(fd, 0666) == 0 && ftruncate(fd, 1 << 20) == 0;
  }));
  ShmCacheOptions o;
  o.segment = segment;
  auto c = ShmCache::Open(o);
  ASSERT_FALSE(c.ok()) << "a segment another user created was used";
  EXPECT_TRUE(c.status().IsInvalidArgument()) << c.status().ToString();
  EXPECT_NE(c.status().message().find(other.name()), std::string::npos) << c.status().ToString();
  EXPECT_NE(c.status().message().find("mode 0666"), std::string::npos) << c.status().ToString();
}

}  // namespace
}  // namespace overlay::storage
