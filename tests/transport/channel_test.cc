// SPDX-License-Identifier: Apache-2.0
// Request/reply and bulk transfer over every channel kind, on loopback.
#include "overlay/transport/channel.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>
#include <zmq.hpp>

#include "overlay/transport/bulk.h"

namespace overlay::transport {
namespace {

using std::chrono::milliseconds;

struct Transport {
  std::string name;
  std::string address;
  FabricProvider provider = FabricProvider::kTcpRxm;
  bool rma = true;  // fabric: large attachments by RMA read, else as messages
};

std::string PrintName(const testing::TestParamInfo<Transport>& info) { return info.param.name; }

// Keeps test listings (and ctest's log) to the transport's name, not a byte dump.
void PrintTo(const Transport& t, std::ostream* os) { *os << t.name << " " << t.address; }

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
  return s;
}

// An echo server on its own thread: Fetch is served from `objects`, Heartbeat is
// deliberately ignored, anything else is echoed back with its attachment.
class EchoServer {
 public:
  explicit EchoServer(std::unique_ptr<ServerChannel> server) : server_(std::move(server)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~EchoServer() {
    stop_ = true;
    thread_.join();
  }
  void Add(const std::string& key, std::string bytes) {
    objects_[key] = Blob::FromString(std::move(bytes));
  }
  int bad_requests() const { return bad_requests_; }

 private:
  void Run() {
    // Bounded by the owner: it sets stop_ before joining.
    while (!stop_) {
      auto req = server_->Receive(milliseconds(20));
      if (!req.ok()) {
        if (!req.status().IsTimeout()) ++bad_requests_;
        continue;
      }
      const wire::Envelope* env = req->message.envelope_view();
      if (env->message_type() == wire::Message::Heartbeat) continue;
      if (env->message_type() == wire::Message::Fetch) {
        auto fetch = DecodeFetch(*env);
        auto it = objects_.find(fetch->key);
        Result<Blob> object = it == objects_.end() ? Result<Blob>(Status::NotFound(fetch->key))
                                                   : Result<Blob>(it->second);
        ASSERT_TRUE(ServeFetch(*server_, *req, object).ok());
        continue;
      }
      ASSERT_TRUE(server_->Reply(req->peer, req->message).ok());
    }
  }

  std::unique_ptr<ServerChannel> server_;
  std::map<std::string, Blob> objects_;  // filled before requests arrive
  std::atomic<bool> stop_{false};
  std::atomic<int> bad_requests_{0};
  std::thread thread_;
};

class ChannelTest : public testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    ChannelOptions options;
    options.fabric_provider = GetParam().provider;
    options.fabric_rma = GetParam().rma;
    options_ = options;
    auto server = Listen(GetParam().address, options);
    if (server.status().IsUnavailable()) {
      GTEST_SKIP() << "transport unavailable here: " << server.status().ToString();
    }
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    address_ = (*server)->address();
    server_ = std::make_unique<EchoServer>(std::move(server).value());
    server_->Add("one", "x");
    server_->Add("mib", Pattern(1 << 20));
    server_->Add("big", Pattern(64 << 20));
    auto client = Connect(address_, options);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
  }

  // Server first: with libfabric 1.17's shm provider, closing a client endpoint
  // while a server in the same process keeps progressing can crash the server.
  void TearDown() override { server_.reset(); }

  ChannelOptions options_;
  std::string address_;
  std::unique_ptr<EchoServer> server_;
  std::unique_ptr<ClientChannel> client_;
};

TEST_P(ChannelTest, InvokeIsEchoed) {
  Invoke inv{77, "stage1", "noop", {"k1"}, {}};
  auto reply = client_->Call(MakeMessage(EncodeInvoke(11, inv)), milliseconds(5000));
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->envelope_view()->request_id(), 11u);
  auto back = DecodeInvoke(*reply->envelope_view());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->task_id, 77u);
  EXPECT_EQ(back->inputs, std::vector<std::string>{"k1"});
}

TEST_P(ChannelTest, ManyRequestsArriveInOrder) {
  for (uint64_t i = 0; i < 200; ++i) {
    ASSERT_TRUE(client_->Send(MakeMessage(EncodeHeartbeat(i, {"c", i, 0}))).ok());
    ASSERT_TRUE(client_->Send(MakeMessage(EncodeFetch(i, {"one", 0, 0}))).ok());
  }
  for (uint64_t i = 0; i < 200; ++i) {
    auto reply = client_->Receive(milliseconds(5000));
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    EXPECT_EQ(reply->envelope_view()->request_id(), i);
  }
}

TEST_P(ChannelTest, AttachmentIsEchoedIntact) {
  std::string bytes = Pattern(1 << 20);
  Blob att = Blob::FromString(bytes);
  auto env = EncodeData(3, DataHeader{"k", 0, att.size()}, {}, att.size());
  auto reply = client_->Call(MakeMessage(env, att), milliseconds(10000));
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->attachment.view(), bytes);
}

TEST_P(ChannelTest, BulkFetchOneByteOneMibAnd64Mib) {
  for (const auto& [key, size] : std::vector<std::pair<std::string, size_t>>{
           {"one", 1}, {"mib", 1 << 20}, {"big", 64 << 20}}) {
    auto got = FetchObject(*client_, key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status().ToString();
    ASSERT_EQ(got->size(), size) << key;
    EXPECT_TRUE(got->view() == (size == 1 ? std::string("x") : Pattern(size))) << key;
  }
}

TEST_P(ChannelTest, FetchOfMissingKeyReturnsServerError) {
  auto got = FetchObject(*client_, "absent");
  EXPECT_TRUE(got.status().IsNotFound()) << got.status().ToString();
}

TEST_P(ChannelTest, ReceiveTimesOutWhenNoReplyComes) {
  ASSERT_TRUE(client_->Send(MakeMessage(EncodeHeartbeat(1, {"c", 1, 0}))).ok());
  EXPECT_TRUE(client_->Receive(milliseconds(50)).status().IsTimeout());
}

TEST_P(ChannelTest, SecondClientIsServedToo) {
  auto other = Connect(address_, options_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto a = (*other)->Call(MakeMessage(EncodeFetch(1, {"one", 0, 0})), milliseconds(5000));
  auto b = client_->Call(MakeMessage(EncodeFetch(2, {"one", 0, 0})), milliseconds(5000));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->envelope_view()->request_id(), 1u);
  EXPECT_EQ(b->envelope_view()->request_id(), 2u);
}

INSTANTIATE_TEST_SUITE_P(
    Transports, ChannelTest,
    testing::Values(Transport{"zmq_tcp", "tcp://127.0.0.1:0"},
                    Transport{"zmq_ipc", "ipc:///tmp/overlay-transport-test-" +
                                             std::to_string(::getpid()) + ".sock"},
                    Transport{"fabric_tcp", "fabric://127.0.0.1:0", FabricProvider::kTcpRxm},
                    Transport{"fabric_tcp_no_rma", "fabric://127.0.0.1:0", FabricProvider::kTcpRxm,
                              false},
                    Transport{"fabric_shm", "fabric://local:0", FabricProvider::kShm}),
    PrintName);

// CURVE: only clients that know the server's public key get an answer.
TEST(CurveTest, OnlyClientsWithTheServerKeyAreServed) {
  auto server_keys = NewCurveKeyPair();
  auto other_keys = NewCurveKeyPair();
  ASSERT_TRUE(server_keys.ok() && other_keys.ok()) << server_keys.status().ToString();
  ChannelOptions server_opt;
  server_opt.curve_secret_key = server_keys->second;
  auto server = Listen("tcp://127.0.0.1:0", server_opt);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string address = (*server)->address();
  EchoServer echo(std::move(server).value());

  auto call = [&](const ChannelOptions& opt) {
    auto client = Connect(address, opt);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    Invoke inv;
    inv.function = "f";
    return (*client)->Call(MakeMessage(EncodeInvoke(1, inv)), milliseconds(1500)).status();
  };
  ChannelOptions right;
  right.curve_server_key = server_keys->first;
  EXPECT_TRUE(call(right).ok());
  ChannelOptions wrong;
  wrong.curve_server_key = other_keys->first;
  EXPECT_TRUE(call(wrong).IsTimeout());
  EXPECT_TRUE(call(ChannelOptions{}).IsTimeout()) << "a plain-text client was served";
}

// With an allow-list, knowing the server's public key (it sits in the config)
// is not enough: a client is served only with a key pair on the list.
TEST(CurveTest, OnlyAllowedClientKeysAreServed) {
  auto server_keys = NewCurveKeyPair();
  auto allowed_keys = NewCurveKeyPair();
  auto other_keys = NewCurveKeyPair();
  ASSERT_TRUE(server_keys.ok() && allowed_keys.ok() && other_keys.ok());
  ChannelOptions server_opt;
  server_opt.curve_secret_key = server_keys->second;
  server_opt.curve_client_keys = {allowed_keys->first};
  auto server = Listen("tcp://127.0.0.1:0", server_opt);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string address = (*server)->address();
  EchoServer echo(std::move(server).value());

  auto call = [&](const std::pair<std::string, std::string>& pair) {
    ChannelOptions opt;
    opt.curve_server_key = server_keys->first;
    opt.curve_public_key = pair.first;
    opt.curve_secret_key = pair.second;
    auto client = Connect(address, opt);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    Invoke inv;
    inv.function = "f";
    return (*client)->Call(MakeMessage(EncodeInvoke(1, inv)), milliseconds(1500)).status();
  };
  Status allowed = call(*allowed_keys);
  EXPECT_TRUE(allowed.ok()) << allowed.ToString();
  EXPECT_TRUE(call(*other_keys).IsTimeout()) << "a client with another key pair was served";
  // A CURVE server without a list still serves any client that knows its key.
  ChannelOptions open_opt;
  open_opt.curve_secret_key = server_keys->second;
  auto open_server = Listen("tcp://127.0.0.1:0", open_opt);
  ASSERT_TRUE(open_server.ok());
  const std::string open_address = (*open_server)->address();
  EchoServer open_echo(std::move(open_server).value());
  ChannelOptions any;
  any.curve_server_key = server_keys->first;
  auto client = Connect(open_address, any);
  ASSERT_TRUE(client.ok());
  Invoke inv;
  inv.function = "f";
  EXPECT_TRUE((*client)->Call(MakeMessage(EncodeInvoke(1, inv)), milliseconds(5000)).ok());
}

// A CURVE server learns each request's client key from the handshake (and
// over TCP the peer's address); a plain server learns no key.
TEST(CurveTest, RequestsNameTheClientKey) {
  auto server_keys = NewCurveKeyPair();
  auto client_keys = NewCurveKeyPair();
  ASSERT_TRUE(server_keys.ok() && client_keys.ok());
  ChannelOptions server_opt;
  server_opt.curve_secret_key = server_keys->second;
  for (bool curve : {true, false}) {
    auto server = Listen("tcp://127.0.0.1:0", curve ? server_opt : ChannelOptions{});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    ChannelOptions opt;
    if (curve) {
      opt.curve_server_key = server_keys->first;
      opt.curve_public_key = client_keys->first;
      opt.curve_secret_key = client_keys->second;
    }
    auto client = Connect((*server)->address(), opt);
    ASSERT_TRUE(client.ok());
    Invoke inv;
    inv.function = "f";
    ASSERT_TRUE((*client)->Send(MakeMessage(EncodeInvoke(1, inv))).ok());
    auto req = (*server)->Receive(milliseconds(5000));
    ASSERT_TRUE(req.ok()) << req.status().ToString();
    EXPECT_EQ(req->client_key, curve ? client_keys->first : "");
    EXPECT_EQ(req->peer_address, "127.0.0.1");
  }
}

TEST(CurveTest, AllowListNeedsCurveAndValidKeys) {
  ChannelOptions no_curve;
  no_curve.curve_client_keys = {std::string(40, 'a')};
  EXPECT_TRUE(Listen("tcp://127.0.0.1:0", no_curve).status().IsInvalidArgument());
  auto keys = NewCurveKeyPair();
  ASSERT_TRUE(keys.ok());
  ChannelOptions bad_key;
  bad_key.curve_secret_key = keys->second;
  bad_key.curve_client_keys = {"short"};
  EXPECT_TRUE(Listen("tcp://127.0.0.1:0", bad_key).status().IsInvalidArgument());
}

TEST(CurveTest, MalformedKeyIsInvalidArgument) {
  ChannelOptions opt;
  opt.curve_secret_key = "not-a-key";
  EXPECT_TRUE(Listen("tcp://127.0.0.1:0", opt).status().IsInvalidArgument());
}

TEST(ChannelErrors, UnknownSchemeIsInvalidArgument) {
  EXPECT_TRUE(Connect("http://x").status().IsInvalidArgument());
  EXPECT_TRUE(Listen("udp://x").status().IsInvalidArgument());
  EXPECT_TRUE(Listen("fabric://noport").status().IsInvalidArgument());
}

// A peer that sends garbage gets an Error reply and the server reports it.
TEST(ChannelErrors, ZmqServerAnswersBadRequestWithError) {
  auto server = Listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  zmq::context_t ctx;
  zmq::socket_t raw(ctx, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect((*server)->address());
  raw.send(zmq::str_buffer("definitely not a flatbuffer"), zmq::send_flags::none);
  auto req = (*server)->Receive(milliseconds(5000));
  EXPECT_TRUE(req.status().IsCorruption()) << req.status().ToString();
  zmq::message_t reply;
  raw.set(zmq::sockopt::rcvtimeo, 5000);
  ASSERT_TRUE(raw.recv(reply));
  std::vector<uint64_t> aligned(reply.size() / 8 + 1);
  std::memcpy(aligned.data(), reply.data(), reply.size());
  auto env = VerifyEnvelope({reinterpret_cast<const std::byte*>(aligned.data()), reply.size()},
                            WireLimits{});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_TRUE(DecodeError(**env).IsCorruption());
}

TEST(ChannelErrors, ZmqClientReportsCorruptReply) {
  zmq::context_t ctx;
  zmq::socket_t raw(ctx, zmq::socket_type::router);
  raw.set(zmq::sockopt::linger, 0);
  raw.bind("tcp://127.0.0.1:*");
  auto client = Connect(raw.get(zmq::sockopt::last_endpoint));
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Send(MakeMessage(EncodeHeartbeat(1, {"c", 1, 0}))).ok());
  zmq::message_t id, body;
  raw.set(zmq::sockopt::rcvtimeo, 5000);
  ASSERT_TRUE(raw.recv(id));
  ASSERT_TRUE(raw.recv(body));
  // A truncated copy of a valid envelope.
  raw.send(id, zmq::send_flags::sndmore);
  raw.send(zmq::buffer(body.data(), body.size() / 2), zmq::send_flags::none);
  auto reply = (*client)->Receive(milliseconds(5000));
  EXPECT_TRUE(reply.status().IsCorruption()) << reply.status().ToString();
}

// The attachment size announced in the envelope must match what arrives.
TEST(ChannelErrors, AttachmentSizeMismatchIsCorruption) {
  auto server = Listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  auto client = Connect((*server)->address());
  ASSERT_TRUE(client.ok());
  Blob env = EncodeData(1, DataHeader{"k", 0, 10}, {}, 10);
  ASSERT_TRUE((*client)->Send(MakeMessage(env, Blob::FromString("short"))).ok());
  auto req = (*server)->Receive(milliseconds(5000));
  EXPECT_TRUE(req.status().IsCorruption()) << req.status().ToString();
  auto reply = (*client)->Receive(milliseconds(5000));
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_TRUE(ReplyStatus(*reply).IsCorruption());
}

// A server that answers every chunk request with the first chunk again: the
// object would have holes, so FetchObject reports Corruption instead.
TEST(ChannelErrors, FetchOfRepeatedChunkIsCorruption) {
  auto server = Listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(server.ok());
  auto client = Connect((*server)->address());
  ASSERT_TRUE(client.ok());
  BulkOptions bulk;
  bulk.chunk_bytes = 4;
  bulk.window = 1;
  bulk.timeout = milliseconds(5000);
  std::atomic<bool> done{false};
  std::thread liar([&] {
    // Answers each of the three chunk requests (offsets 0, 4, 8) with offset 0,
    // until the fetch gives up; bounded at 100 waits of 50 ms.
    for (int turn = 0, served = 0; turn < 100 && served < 3 && !done; ++turn) {
      auto req = (*server)->Receive(milliseconds(50));
      if (!req.ok()) continue;
      Blob chunk = Blob::FromString("abcd");
      Blob env = EncodeData(req->message.envelope_view()->request_id(), DataHeader{"k", 0, 12},
                            {}, chunk.size());
      if (!(*server)->Reply(req->peer, MakeMessage(env, chunk)).ok()) return;
      ++served;
    }
  });
  auto got = FetchObject(**client, "k", bulk);
  done = true;
  liar.join();
  EXPECT_TRUE(got.status().IsCorruption()) << got.status().ToString();
}

}  // namespace
}  // namespace overlay::transport
