// SPDX-License-Identifier: Apache-2.0
// A Poller sleeping on a channel wakes when a message arrives: the wait and
// the nap are far longer than the test may take, so only a wake-up on the
// channel (not a timeout) lets the test finish; a watchdog ends a hang.
#include "overlay/transport/poller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <type_traits>

#include "overlay/transport/channel.h"

namespace overlay::transport {
namespace {

using std::chrono::milliseconds;

// Longer than the watchdog: a Wait that ends by timeout fails the test.
constexpr auto kLongWait = std::chrono::microseconds(std::chrono::minutes(5));
constexpr auto kWatchdog = std::chrono::seconds(60);

struct Transport {
  std::string name;
  std::string address;
};

std::string PrintName(const testing::TestParamInfo<Transport>& info) { return info.param.name; }
void PrintTo(const Transport& t, std::ostream* os) { *os << t.name << " " << t.address; }

// Notifies `poller` if not disarmed within kWatchdog, so a missed wake-up
// fails the test instead of hanging it.
class Watchdog {
 public:
  explicit Watchdog(Poller& poller)
      : thread_([this, &poller] {
          std::unique_lock lock(mu_);
          if (!cv_.wait_for(lock, kWatchdog, [this] { return disarmed_; })) {
            fired_ = true;
            poller.Notify();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      disarmed_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  bool fired() const { return fired_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  std::atomic<bool> fired_{false};
  std::thread thread_;
};

// Calls `receive` until it succeeds. Between tries it sleeps in `poller` on
// `channel` alone (with no timeout or nap the test could outlast) when the
// channel can be waited on, else (its sends are in flight) for 1 ms. Sets
// `waiting` before each Wait. Returns how many Waits ran, or -1 if nothing came.
template <typename Channel>
int ReceiveByWaiting(Poller& poller, Channel* channel, const Watchdog& watchdog,
                     std::atomic<bool>& waiting, const std::function<bool()>& receive) {
  int waits = 0;
  // Bounded: a pass ends on news, on the watchdog or after 1 ms.
  for (int pass = 0; pass < 20000 && !watchdog.fired(); ++pass) {
    if (receive()) return waits;
    PollHandle h = channel->poll_handle();
    if (h.socket == nullptr && h.fd < 0) {
      std::this_thread::sleep_for(milliseconds(1));
      continue;
    }
    waiting = true;
    Channel* one[] = {channel};
    if constexpr (std::is_same_v<Channel, ClientChannel>) {
      poller.Wait(one, {}, kLongWait, kLongWait);
    } else {
      poller.Wait({}, one, kLongWait, kLongWait);
    }
    ++waits;
  }
  return -1;
}

class PollerTest : public testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    auto poller = Poller::Create();
    ASSERT_TRUE(poller.ok()) << poller.status().ToString();
    poller_ = std::move(poller).value();
    auto server = Listen(GetParam().address);
    if (server.status().IsUnavailable()) {
      GTEST_SKIP() << "transport unavailable here: " << server.status().ToString();
    }
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  std::unique_ptr<Poller> poller_;
  std::unique_ptr<ServerChannel> server_;
};

// The endpoint daemon's case: its loop sleeps until a client connects and calls.
TEST_P(PollerTest, SleepingServerWakesForConnectionAndRequest) {
  std::atomic<bool> waiting{false};
  Status client_status = Status::Timeout("client did not finish");
  std::atomic<bool> client_done{false};
  std::thread client([&] {
    // Bounded: the main thread sets `waiting` at once unless it failed.
    for (int i = 0; i < 10000 && !waiting; ++i) std::this_thread::sleep_for(milliseconds(1));
    auto c = Connect(server_->address());
    client_status =
        c.ok()
            ? (*c)->Call(MakeMessage(EncodeHeartbeat(5, {"c", 1, 0})), milliseconds(30000)).status()
            : c.status();
    client_done = true;
  });
  Result<ServerChannel::Request> req = Status::Timeout("nothing received");
  int waits = 0;
  {
    Watchdog watchdog(*poller_);
    waits = ReceiveByWaiting(*poller_, server_.get(), watchdog, waiting, [&] {
      req = server_->Receive(milliseconds(0));
      return req.ok();
    });
  }
  if (req.ok()) {
    EXPECT_EQ(req->message.envelope_view()->request_id(), 5u);
    EXPECT_TRUE(server_->Reply(req->peer, req->message).ok());
  }
  // Bounded: the client's Call gives up after 30 s. The server keeps reading
  // its queue meanwhile, so the reply's send progresses.
  for (int i = 0; i < 40000 && !client_done; ++i) (void)server_->Receive(milliseconds(1));
  client.join();
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_GE(waits, 1);
  EXPECT_TRUE(client_status.ok()) << client_status.ToString();
}

// The function manager's case: its loop sleeps until a reply arrives.
TEST_P(PollerTest, SleepingClientWakesForReply) {
  std::atomic<bool> waiting{false};
  std::atomic<bool> stop{false};
  std::thread server([&] {
    // Bounded by the main thread, which sets `stop` before joining.
    while (!stop) {
      auto req = server_->Receive(milliseconds(1));
      if (!req.ok()) continue;
      // Answers only once the client sleeps, so the reply must wake it.
      while (!waiting && !stop) std::this_thread::sleep_for(milliseconds(1));
      (void)server_->Reply(req->peer, req->message);
    }
  });
  auto client = Connect(server_->address());
  Result<Message> reply = Status::Timeout("nothing received");
  int waits = 0;
  if (client.ok() && (*client)->Send(MakeMessage(EncodeHeartbeat(6, {"c", 1, 0}))).ok()) {
    Watchdog watchdog(*poller_);
    waits = ReceiveByWaiting(*poller_, client->get(), watchdog, waiting, [&] {
      reply = (*client)->Receive(milliseconds(0));
      return reply.ok();
    });
  }
  stop = true;
  server.join();
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_GE(waits, 1);
  EXPECT_EQ(reply->envelope_view()->request_id(), 6u);
}

INSTANTIATE_TEST_SUITE_P(Transports, PollerTest,
                         testing::Values(Transport{"zmq_tcp", "tcp://127.0.0.1:0"},
                                         Transport{"fabric_tcp", "fabric://127.0.0.1:0"}),
                         PrintName);

}  // namespace
}  // namespace overlay::transport
