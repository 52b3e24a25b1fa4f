// SPDX-License-Identifier: Apache-2.0
// Shared-memory channels between two processes (fork): ordering, no loss, no
// copy, futex wake-up, overflow accounting.
#include "overlay/transport/shm_channel.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

#include "common/other_user.h"

namespace overlay::transport {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

std::string UniqueName(const char* what) {
  static int n = 0;
  return "/overlay-test-" + std::string(what) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(n++);
}

// Runs `body` in a child process; returns its exit code (or -signal). The child
// never returns into the test framework. Waits at most 60 s, then kills it.
class Child {
 public:
  explicit Child(const std::function<int()>& body) {
    pid_ = ::fork();
    if (pid_ == 0) ::_exit(body());
  }
  int Wait() {
    for (int i = 0; i < 6000; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    return -SIGKILL;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

uint8_t ByteAt(uint64_t message, size_t i) { return static_cast<uint8_t>(message * 7 + i); }

TEST(ShmChannelTest, SegmentIsCreatedOwnerOnly) {
  const std::string name = UniqueName("mode");
  auto ch = ShmChannel::Create(name, ShmChannelOptions{});
  ASSERT_TRUE(ch.ok()) << ch.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(("/dev/shm" + name).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(ShmChannelTest, TwoProcessesSeeEveryMessageInOrder) {
  const std::string name = UniqueName("order");
  ShmChannelOptions opt;
  opt.chunk_bytes = 4096;
  opt.chunk_count = 16;
  auto producer = ShmChannel::Create(name, opt);
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  constexpr uint64_t kMessages = 20000;

  Child consumer([&] {
    auto ch = ShmChannel::Open(name);
    if (!ch.ok()) return 10;
    for (uint64_t i = 0; i < kMessages; ++i) {
      auto s = (*ch)->Take(seconds(10));
      if (!s.ok()) return 11;
      if (s->descriptor().sequence != i) return 12;
      const size_t len = 1 + i % 4000;
      if (s->bytes().size() != len) return 13;
      for (size_t j = 0; j < len; j += 97) {
        if (static_cast<uint8_t>(s->bytes()[j]) != ByteAt(i, j)) return 14;
      }
    }
    return (*ch)->corrupt() == 0 ? 0 : 15;
  });

  for (uint64_t i = 0; i < kMessages; ++i) {
    const size_t len = 1 + i % 4000;
    auto loan = (*producer)->Loan(len, seconds(10));
    ASSERT_TRUE(loan.ok()) << loan.status().ToString();
    for (size_t j = 0; j < len; ++j) loan->bytes()[j] = std::byte{ByteAt(i, j)};
    (*producer)->Publish(std::move(loan).value());
  }
  EXPECT_EQ(consumer.Wait(), 0);
}

TEST(ShmChannelTest, ConsumerReadsTheProducersBytesInPlace) {
  const std::string name = UniqueName("nocopy");
  auto producer = ShmChannel::Create(name, ShmChannelOptions{});
  ASSERT_TRUE(producer.ok());
  int to_child[2], to_parent[2];
  ASSERT_EQ(::pipe(to_child), 0);
  ASSERT_EQ(::pipe(to_parent), 0);

  Child consumer([&] {
    auto ch = ShmChannel::Open(name);
    if (!ch.ok()) return 10;
    auto s = (*ch)->Take(seconds(10));
    if (!s.ok()) return 11;
    // Where the payload sits inside the consumer's own mapping of the segment.
    uint64_t report[3] = {s->descriptor().offset,
                          static_cast<uint64_t>(s->bytes().data() - (*ch)->segment().base()),
                          static_cast<uint64_t>(s->bytes()[0])};
    if (::write(to_parent[1], report, sizeof(report)) != sizeof(report)) return 12;
    char go;
    if (::read(to_child[0], &go, 1) != 1) return 13;
    // The producer rewrote its chunk after publishing: a copy would not see it.
    return static_cast<uint8_t>(s->bytes()[0]) == 0xBB ? 0 : 14;
  });

  auto loan = (*producer)->Loan(64);
  ASSERT_TRUE(loan.ok());
  std::byte* producer_view = loan->bytes().data();
  const uint64_t offset = loan->descriptor().offset;
  EXPECT_EQ(static_cast<uint64_t>(producer_view - (*producer)->segment().base()), offset);
  std::memset(producer_view, 0xAA, 64);
  (*producer)->Publish(std::move(loan).value());

  uint64_t report[3] = {};
  ASSERT_EQ(::read(to_parent[0], report, sizeof(report)), static_cast<ssize_t>(sizeof(report)));
  EXPECT_EQ(report[0], offset);
  EXPECT_EQ(report[1], offset);
  EXPECT_EQ(report[2], 0xAAu);
  *producer_view = std::byte{0xBB};
  ASSERT_EQ(::write(to_child[1], "g", 1), 1);
  EXPECT_EQ(consumer.Wait(), 0);
  for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) ::close(fd);
}

TEST(ShmChannelTest, SleepingConsumerIsWokenByPublish) {
  const std::string name = UniqueName("wake");
  ShmChannelOptions opt;
  opt.spin = microseconds(10);
  auto producer = ShmChannel::Create(name, opt);
  ASSERT_TRUE(producer.ok());

  Child consumer([&] {
    auto ch = ShmChannel::Open(name, opt);
    if (!ch.ok()) return 10;
    auto s = (*ch)->Take(seconds(30));
    if (!s.ok()) return 11;
    return s->bytes().size() == 5 ? 0 : 12;
  });

  // Publish only once the consumer is asleep on the futex (bounded: 10 s).
  for (int i = 0; i < 10000 && (*producer)->sleeps() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GT((*producer)->sleeps(), 0u) << "consumer never went to sleep";
  auto loan = (*producer)->Loan(5);
  ASSERT_TRUE(loan.ok());
  (*producer)->Publish(std::move(loan).value());
  EXPECT_EQ(consumer.Wait(), 0);
}

TEST(ShmChannelTest, ExhaustedPoolCountsOverflowsAndUnpublishedLoansReturn) {
  ShmChannelOptions opt;
  opt.chunk_count = 2;
  opt.chunk_bytes = 128;
  auto ch = ShmChannel::Create(UniqueName("overflow"), opt);
  ASSERT_TRUE(ch.ok());
  auto a = (*ch)->Loan(128);
  auto b = (*ch)->Loan(1);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->descriptor().offset, b->descriptor().offset);
  EXPECT_TRUE((*ch)->Loan(1).status().IsBusy());
  EXPECT_EQ((*ch)->overflows(), 1u);
  EXPECT_TRUE((*ch)->Loan(129).status().IsInvalidArgument());
  { auto dropped = std::move(a).value(); }  // never published: back to the pool
  EXPECT_TRUE((*ch)->Loan(1).ok());

  (*ch)->Publish(std::move(b).value());
  auto s = (*ch)->TryTake();
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE((*ch)->TryTake().has_value());
  s->Release();
  EXPECT_TRUE((*ch)->Loan(1).ok());
}

TEST(ShmChannelTest, OpenRejectsMissingAndForeignSegments) {
  EXPECT_TRUE(ShmChannel::Open(UniqueName("absent")).status().IsNotFound());
  const std::string name = UniqueName("foreign");
  auto seg = ShmSegment::Create(name, 4096);
  ASSERT_TRUE(seg.ok());
  EXPECT_TRUE(ShmChannel::Open(name).status().IsCorruption());
}

// Another local user creates the channel's segment first (squatting): opening
// it must fail and name that user, not exchange messages through it.
TEST(ShmChannelTest, SegmentSquattedByAnotherUserIsRefused) {
  testing_common::OtherUser other;
  if (!other.ok()) GTEST_SKIP() << other.why();
  const std::string name = UniqueName("squat");
  ASSERT_TRUE(other.Run([&] {
    int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0666);
    return fd >= 0 && ::fchmod(fd, 0666) == 0 && ::ftruncate(fd, 4096) == 0;
  }));
  auto seg = ShmSegment::Open(name);
  ::shm_unlink(name.c_str());
  ASSERT_FALSE(seg.ok()) << "a segment another user created was used";
  EXPECT_TRUE(seg.status().IsInvalidArgument()) << seg.status().ToString();
  EXPECT_NE(seg.status().message().find(other.name()), std::string::npos)
      << seg.status().ToString();
  EXPECT_NE(seg.status().message().find("mode 0666"), std::string::npos)
      << seg.status().ToString();
}

}  // namespace
}  // namespace overlay::transport
