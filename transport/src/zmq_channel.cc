// SPDX-License-Identifier: Apache-2.0
#include "zmq_channel.h"

#include <unistd.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "overlay/transport/traffic.h"
#include "received.h"

namespace overlay::transport::detail {
namespace {

// All ZeroMQ channels of a process share one context, so inproc:// works between
// them. Never destroyed: zmq_ctx_term at exit would wait for sockets still open.
zmq::context_t& Context() {
  static auto* ctx = new zmq::context_t(1);
  return *ctx;
}

// A Z85 CURVE key: 40 characters that decode to 32 bytes.
bool IsCurveKey(const std::string& key) {
  uint8_t raw[32];
  return key.size() == 40 && zmq_z85_decode(raw, key.c_str()) != nullptr;
}

Status ConfigureCurve(zmq::socket_t& s, const ChannelOptions& o, bool server) {
  for (const std::string* key : {&o.curve_server_key, &o.curve_public_key, &o.curve_secret_key})
    if (!key->empty() && !IsCurveKey(*key))
      return Status::InvalidArgument("CURVE key '" + key->substr(0, 8) +
                                     "…' is not a 40-character Z85 key");
  for (const std::string& key : o.curve_client_keys)
    if (!IsCurveKey(key))
      return Status::InvalidArgument("allowed client key '" + key.substr(0, 8) +
                                     "…' is not a 40-character Z85 key");
  if (server) {
    if (o.curve_secret_key.empty() && !o.curve_client_keys.empty())
      return Status::InvalidArgument(
          "allowed client keys need CURVE: the server has no secret key");
    if (o.curve_secret_key.empty()) return Status::OK();
    s.set(zmq::sockopt::curve_server, true);
    s.set(zmq::sockopt::curve_secretkey, o.curve_secret_key);
    return Status::OK();
  }
  if (o.curve_server_key.empty()) return Status::OK();
  std::string pub = o.curve_public_key, sec = o.curve_secret_key;
  if (pub.empty() || sec.empty()) {
    auto pair = NewCurveKeyPair();
    if (!pair.ok()) return pair.status();
    std::tie(pub, sec) = *pair;
  }
  s.set(zmq::sockopt::curve_serverkey, o.curve_server_key);
  s.set(zmq::sockopt::curve_publickey, pub);
  s.set(zmq::sockopt::curve_secretkey, sec);
  return Status::OK();
}

// ZAP (ZeroMQ RFC 27): libzmq asks whoever is bound to inproc://zeromq.zap.01
// in the socket's context whether to accept each CURVE client. One handler
// thread per process serves every server; a server with an allow-list names its
// own ZAP domain, and any other CURVE server is answered "accept". The user id
// of an accepted CURVE client is its Z85 public key, so each message it sends
// names it ("User-Id"). Thread-safe.
class ZapHandler {
 public:
  static ZapHandler& Get() {
    static auto* handler = new ZapHandler();  // never destroyed, like Context()
    return *handler;
  }

  // The ZAP domain of a server that accepts only `keys` (Z85 public keys).
  std::string Register(const std::vector<std::string>& keys) {
    std::lock_guard lock(mu_);
    std::string domain = "overlay-" + std::to_string(next_++);
    allowed_[domain] = std::set<std::string>(keys.begin(), keys.end());
    return domain;
  }
  void Unregister(const std::string& domain) {
    std::lock_guard lock(mu_);
    allowed_.erase(domain);
  }

 private:
  // Binds before returning, so no handshake can come before the handler.
  ZapHandler() : socket_(Context(), zmq::socket_type::rep) {
    socket_.bind("inproc://zeromq.zap.01");
    std::thread([this] { Serve(); }).detach();
  }

  void Serve() {
    for (;;) {
      std::vector<zmq::message_t> frames;
      try {
        do {
          zmq::message_t m;
          if (!socket_.recv(m)) break;
          frames.push_back(std::move(m));
        } while (frames.back().more());
        if (frames.size() < 6) continue;  // not a ZAP request; REP drops it
        const std::string key = ClientKey(frames);
        const bool ok = Allowed(frames[2].to_string(), key);
        // version, request id, status code, status text, user id, metadata
        socket_.send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
        socket_.send(frames[1], zmq::send_flags::sndmore);
        socket_.send(ok ? zmq::str_buffer("200") : zmq::str_buffer("400"),
                     zmq::send_flags::sndmore);
        socket_.send(ok ? zmq::str_buffer("OK") : zmq::str_buffer("client key not allowed"),
                     zmq::send_flags::sndmore);
        socket_.send(zmq::buffer(ok ? key : std::string()), zmq::send_flags::sndmore);
        socket_.send(zmq::str_buffer(""), zmq::send_flags::none);
      } catch (const zmq::error_t&) {
        return;  // the context is going away
      }
    }
  }

  // Frames: version, request id, domain, address, routing id, mechanism,
  // credentials (CURVE: the client's 32-byte public key). The Z85 key; empty
  // when the client is not a CURVE client.
  static std::string ClientKey(const std::vector<zmq::message_t>& f) {
    if (f[5].to_string() != "CURVE" || f.size() < 7 || f[6].size() != 32) return {};
    char z85[41];
    if (zmq_z85_encode(z85, f[6].data<uint8_t>(), 32) == nullptr) return {};
    return z85;
  }

  bool Allowed(const std::string& domain, const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = allowed_.find(domain);
    if (it == allowed_.end()) return true;
    return !key.empty() && it->second.contains(key);
  }

  zmq::socket_t socket_;  // used by the handler thread only, after the constructor
  std::mutex mu_;
  uint64_t next_ = 0;
  std::map<std::string, std::set<std::string>> allowed_;  // domain -> Z85 public keys
};

Status FromZmq(std::string_view what, const zmq::error_t& e) {
  return Status::IOError(std::string(what) + ": " + e.what());
}

// A frame that references `blob`'s bytes and keeps its owner alive until ZeroMQ
// has sent them: no copy of bulk data (zmq_msg_init_data).
zmq::message_t Frame(const Blob& blob) {
  auto* hold = new Blob(blob);
  return zmq::message_t(
      const_cast<char*>(hold->data()), hold->size(),
      [](void*, void* hint) { delete static_cast<Blob*>(hint); }, hold);
}

Blob ToBlob(zmq::message_t&& msg) {
  auto owned = std::make_shared<zmq::message_t>(std::move(msg));
  std::string_view view(owned->data<char>(), owned->size());
  return Blob(std::move(owned), view);
}

// Sends `msg` as one or two frames after the frames already queued with
// sndmore. Never blocks: false when the socket has no peer to queue for (a
// DEALER between connections, e.g. after a refused CURVE handshake); once the
// first frame is taken, ZeroMQ takes the rest of the message.
bool SendFrames(zmq::socket_t& socket, const Message& msg) {
  bool more = !msg.attachment.empty();
  if (!socket.send(Frame(msg.envelope),
                   (more ? zmq::send_flags::sndmore : zmq::send_flags::none) |
                       zmq::send_flags::dontwait))
    return false;
  if (more) socket.send(Frame(msg.attachment), zmq::send_flags::dontwait);
  CountSent(TransportKind::kZeroMq, msg.envelope.size() + msg.attachment.size());
  return true;
}

// Waits up to `timeout` for `socket` to become readable; false on timeout.
bool WaitReadable(zmq::socket_t& socket, std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  return zmq::poll(&item, 1, timeout) > 0;
}

// Reads every frame of one multipart message (bounded by the socket's limits).
std::vector<zmq::message_t> RecvAll(zmq::socket_t& socket) {
  std::vector<zmq::message_t> frames;
  do {
    zmq::message_t m;
    if (!socket.recv(m, zmq::recv_flags::dontwait)) break;
    frames.push_back(std::move(m));
  } while (frames.back().more());
  return frames;
}

void Configure(zmq::socket_t& s, const ChannelOptions& options) {
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::maxmsgsize,
        static_cast<int64_t>(
            std::max(options.limits.max_envelope_bytes, options.limits.max_attachment_bytes)));
  s.set(zmq::sockopt::sndhwm, 0);
  s.set(zmq::sockopt::rcvhwm, 0);
}

class ZmqClient final : public ClientChannel {
 public:
  ZmqClient(zmq::socket_t socket, std::string address, ChannelOptions options)
      : socket_(std::move(socket)), address_(std::move(address)), options_(options) {}

  Status Send(const Message& msg) override {
    try {
      if (!SendFrames(socket_, msg))
        return Status::Unavailable("zmq send to " + address_ + ": no connection to queue for");
      return Status::OK();
    } catch (const zmq::error_t& e) {
      return FromZmq("zmq send to " + address_, e);
    }
  }

  Result<Message> Receive(std::chrono::milliseconds timeout) override {
    try {
      if (!WaitReadable(socket_, timeout)) {
        return Status::Timeout("no reply from " + address_ + " within " +
                               std::to_string(timeout.count()) + " ms");
      }
      std::vector<zmq::message_t> frames = RecvAll(socket_);
      if (frames.empty() || frames.size() > 2) {
        return Status::Corruption("reply with " + std::to_string(frames.size()) + " frames");
      }
      Blob attachment = frames.size() == 2 ? ToBlob(std::move(frames[1])) : Blob();
      CountReceived(TransportKind::kZeroMq, frames[0].size() + attachment.size());
      return CheckReceived(ToBlob(std::move(frames[0])), std::move(attachment), options_.limits);
    } catch (const zmq::error_t& e) {
      return FromZmq("zmq receive from " + address_, e);
    }
  }

  const std::string& address() const override { return address_; }
  PollHandle poll_handle() override { return {socket_.handle(), -1, nullptr}; }

 private:
  zmq::socket_t socket_;
  const std::string address_;
  const ChannelOptions options_;
};

class ZmqServer final : public ServerChannel {
 public:
  ZmqServer(zmq::socket_t socket, std::string address, ChannelOptions options,
            std::string zap_domain)
      : socket_(std::move(socket)),
        address_(std::move(address)),
        options_(options),
        zap_domain_(std::move(zap_domain)) {}
  ~ZmqServer() override {
    socket_.close();
    if (!zap_domain_.empty()) ZapHandler::Get().Unregister(zap_domain_);
    // ZeroMQ closes sockets asynchronously and may leave the ipc file behind.
    if (address_.starts_with("ipc://")) ::unlink(address_.c_str() + 6);
  }

  Result<Request> Receive(std::chrono::milliseconds timeout) override {
    try {
      if (!WaitReadable(socket_, timeout)) return Status::Timeout("no request on " + address_);
      std::vector<zmq::message_t> frames = RecvAll(socket_);
      if (frames.empty()) return Status::Timeout("no request on " + address_);
      std::string peer = frames[0].to_string();
      std::string client_key, peer_address;
      if (frames.size() > 1) {
        // Properties of the connection the message came on (zmq_msg_gets).
        if (const char* v = zmq_msg_gets(frames[1].handle(), "User-Id")) client_key = v;
        if (const char* v = zmq_msg_gets(frames[1].handle(), "Peer-Address")) peer_address = v;
      }
      Result<Message> msg =
          Status::Corruption("request with " + std::to_string(frames.size() - 1) + " frames");
      if (frames.size() == 2 || frames.size() == 3) {
        Blob attachment = frames.size() == 3 ? ToBlob(std::move(frames[2])) : Blob();
        CountReceived(TransportKind::kZeroMq, frames[1].size() + attachment.size());
        msg = CheckReceived(ToBlob(std::move(frames[1])), std::move(attachment), options_.limits);
      }
      if (!msg.ok()) {
        // Never trust a bad request; tell the sender why it was dropped.
        OVERLAY_RETURN_IF_ERROR(Reply(peer, MakeMessage(EncodeError(0, msg.status()))));
        return msg.status();
      }
      return Request{std::move(peer), std::move(msg).value(), std::move(client_key),
                     std::move(peer_address)};
    } catch (const zmq::error_t& e) {
      return FromZmq("zmq receive on " + address_, e);
    }
  }

  Status Reply(const std::string& peer, const Message& msg) override {
    try {
      // A ROUTER drops messages to unknown peers instead of blocking.
      socket_.send(zmq::buffer(peer), zmq::send_flags::sndmore);
      (void)SendFrames(socket_, msg);
      return Status::OK();
    } catch (const zmq::error_t& e) {
      return FromZmq("zmq reply on " + address_, e);
    }
  }

  const std::string& address() const override { return address_; }
  PollHandle poll_handle() override { return {socket_.handle(), -1, nullptr}; }

 private:
  zmq::socket_t socket_;
  const std::string address_;
  const ChannelOptions options_;
  const std::string zap_domain_;  // empty: no allow-list
};

}  // namespace

Result<std::unique_ptr<ClientChannel>> ConnectZmq(std::string_view address,
                                                  const ChannelOptions& options) {
  try {
    zmq::socket_t s(Context(), zmq::socket_type::dealer);
    Configure(s, options);
    OVERLAY_RETURN_IF_ERROR(ConfigureCurve(s, options, /*server=*/false));
    s.connect(std::string(address));
    return std::unique_ptr<ClientChannel>(
        std::make_unique<ZmqClient>(std::move(s), std::string(address), options));
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("zmq connect to '" + std::string(address) + "': " + e.what());
  }
}

Result<std::unique_ptr<ServerChannel>> ListenZmq(std::string_view address,
                                                 const ChannelOptions& options) {
  try {
    zmq::socket_t s(Context(), zmq::socket_type::router);
    Configure(s, options);
    OVERLAY_RETURN_IF_ERROR(ConfigureCurve(s, options, /*server=*/true));
    // Replies to a peer that went away are dropped, not errors.
    s.set(zmq::sockopt::router_mandatory, false);
    // The domain is set before bind (its listener copies the options) and
    // registered before any client can connect.
    std::string domain;
    if (!options.curve_client_keys.empty()) {
      domain = ZapHandler::Get().Register(options.curve_client_keys);
      s.set(zmq::sockopt::zap_domain, domain);
    } else if (!options.curve_secret_key.empty()) {
      (void)ZapHandler::Get();  // it names each CURVE client by its key
    }
    try {
      s.bind(WildcardPort(address));
    } catch (const zmq::error_t&) {
      if (!domain.empty()) ZapHandler::Get().Unregister(domain);
      throw;
    }
    std::string bound = s.get(zmq::sockopt::last_endpoint);
    return std::unique_ptr<ServerChannel>(
        std::make_unique<ZmqServer>(std::move(s), std::move(bound), options, std::move(domain)));
  } catch (const zmq::error_t& e) {
    return Status::IOError("zmq bind '" + std::string(address) + "': " + e.what());
  }
}

}  // namespace overlay::transport::detail

namespace overlay::transport {

Result<std::pair<std::string, std::string>> NewCurveKeyPair() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0)
    return Status::Unavailable(std::string("CURVE keys: ") + zmq_strerror(zmq_errno()) +
                               " (libzmq built without CURVE?)");
  return std::make_pair(std::string(pub), std::string(sec));
}

}  // namespace overlay::transport
