// SPDX-License-Identifier: Apache-2.0
// Request/reply channels over any transport, chosen by the address scheme:
//   tcp://host:port, ipc://path, inproc://name   ZeroMQ (DEALER client, ROUTER server)
//   fabric://host:port                          libfabric RDM, provider from options
// A message is one FlatBuffers Envelope plus an optional attachment (bulk bytes
// sent without copying where the transport allows). Every received buffer is
// checked by VerifyEnvelope and the attachment size limit before it is returned;
// servers answer a bad request with an Error message, clients report Corruption.
#ifndef OVERLAY_TRANSPORT_CHANNEL_H_
#define OVERLAY_TRANSPORT_CHANNEL_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "overlay/blob.h"
#include "overlay/status.h"
#include "overlay/transport/wire.h"

namespace overlay::transport {

// One message. Received messages are verified, so envelope() may be read directly.
// Thread-safety: a value; concurrent const access is safe. Ownership: the Blobs
// keep the received buffers alive (e.g. a ZeroMQ frame) for as long as a copy lives.
struct Message {
  Blob envelope;    // an Envelope buffer (see wire.h encoders)
  Blob attachment;  // bulk bytes; size must equal envelope()->attachment_size()

  // REQUIRES: a verified envelope (every received message; every encoder output).
  const wire::Envelope* envelope_view() const { return wire::GetEnvelope(envelope.data()); }
};

// Envelope plus attachment, with attachment_size checked against the attachment.
Message MakeMessage(Blob envelope, Blob attachment = {});

// Which libfabric provider a fabric:// channel uses.
enum class FabricProvider {
  // "tcp;ofi_rxm": reliable datagrams over TCP. Use case: between nodes.
  kTcpRxm,
  // "shm": shared memory. Use case: processes on one node. host:port only names
  // the endpoint; Listen may append the provider's suffix ("host:port:0:2"), so
  // connect to ServerChannel::address(). Known limit (libfabric 1.17): closing a
  // client endpoint while a server in the same process is progressing can crash
  // the server; keep shm clients and servers in separate processes.
  kShm,
};

struct ChannelOptions {
  // Size limits for every received envelope and attachment.
  WireLimits limits;
  // Provider for fabric:// addresses. Default: kTcpRxm.
  FabricProvider fabric_provider = FabricProvider::kTcpRxm;
  // fabric:// only: send attachments of 256 KiB or more by RMA read (the
  // receiver fi_reads them from the sender's registered buffer) where the
  // provider offers FI_RMA; otherwise as tagged messages. Default: true.
  bool fabric_rma = true;
  // libfabric only (ZeroMQ always sleeps in zmq_poll): a waiting receive polls
  // the completion queue this long, then sleeps on its wait descriptor (or
  // naps between polls when the provider has none), so a hot channel answers
  // without a wake-up and an idle one costs no CPU; a serving loop keeps
  // polling this long after each request (ServerChannel::spin). Default: 50 µs.
  std::chrono::microseconds spin{50};

  // ZeroMQ CURVE (Z85 keys of 40 characters; ignored by fabric:// channels).
  // A server given its secret key accepts only CURVE clients that know its
  // public key; a client given the server's public key encrypts the channel and
  // authenticates the server (it uses `curve_public_key`/`curve_secret_key` as
  // its own pair, or a fresh one when they are empty). Default: plain text.
  std::string curve_server_key;  // client: the server's public key
  std::string curve_public_key;  // client: its own public key (optional)
  std::string curve_secret_key;  // server: its secret key; client: its own (optional)
  // Server: the public keys of the only clients it accepts (checked through
  // ZeroMQ's ZAP); empty: any client that knows the server's public key.
  // Needs curve_secret_key.
  std::vector<std::string> curve_client_keys;
};

// A new CURVE key pair, Z85-encoded: {public, secret}.
Result<std::pair<std::string, std::string>> NewCurveKeyPair();

// What a Poller (poller.h) sleeps on for one channel: a ZeroMQ socket, or a
// file descriptor that turns readable when a message may have arrived. Neither
// (the default): the channel cannot be waited on and the Poller naps instead.
// Thread-safety: use on the channel's thread. Ownership: borrows from the
// channel; valid until the channel's next call.
struct PollHandle {
  void* socket = nullptr;  // a ZeroMQ socket
  int fd = -1;             // used when socket is null
  // fd only (may be null): called by the Poller on the channel's thread right
  // before it sleeps; false when news is already waiting (sleeping could miss
  // it), so the Poller returns at once.
  std::function<bool()> ready_to_sleep;
};

// The client side of a request/reply channel: Send requests, Receive replies in
// the order the server sends them (match them by envelope request_id).
// Thread-safety: not thread-safe; use one channel from one thread at a time.
// Ownership: owns its socket/endpoint; closing (destruction) drops unsent messages.
class ClientChannel {
 public:
  virtual ~ClientChannel() = default;

  // Queues `msg` for sending; the attachment's owner is kept alive until the
  // transport no longer needs the bytes.
  virtual Status Send(const Message& msg) = 0;
  // Waits up to `timeout` for the next reply. Errors: Timeout (nothing arrived),
  // Corruption / InvalidArgument (the reply failed verification; it is dropped).
  virtual Result<Message> Receive(std::chrono::milliseconds timeout) = 0;
  // The address this channel connected to.
  virtual const std::string& address() const = 0;
  // What a Poller waits on, taken afresh before each wait.
  virtual PollHandle poll_handle() { return {}; }
  // As ServerChannel::spin, for a loop that serves replies.
  virtual std::chrono::microseconds spin() const { return {}; }

  // Send, then Receive. A reply that is an Error envelope is returned as a message
  // like any other; see ReplyStatus.
  Result<Message> Call(const Message& msg, std::chrono::milliseconds timeout);
};

// The server side: Receive requests from any client, Reply to a given peer.
// Thread-safety: not thread-safe; use one channel from one thread at a time.
// Ownership: owns its listening socket/endpoint.
class ServerChannel {
 public:
  struct Request {
    std::string peer;  // opaque; pass to Reply
    Message message;
    // The sender's CURVE public key (Z85), checked by the handshake; empty
    // when the channel is not CURVE (or not ZeroMQ).
    std::string client_key{};
    // The sender's network address (e.g. "127.0.0.1") where the transport
    // tells it (ZeroMQ over TCP); empty otherwise.
    std::string peer_address{};
  };

  virtual ~ServerChannel() = default;

  // Waits up to `timeout` for the next request. A request that fails verification
  // is answered with an Error message and reported as Corruption/InvalidArgument.
  virtual Result<Request> Receive(std::chrono::milliseconds timeout) = 0;
  virtual Status Reply(const std::string& peer, const Message& msg) = 0;
  // An address clients can Connect to (a port of 0 or * is resolved).
  virtual const std::string& address() const = 0;
  // As ClientChannel::poll_handle.
  virtual PollHandle poll_handle() { return {}; }
  // How long a serving loop should keep polling after a request before it
  // sleeps: ChannelOptions::spin where a wake-up costs more than the spin
  // (fabric://); zero for ZeroMQ, whose own I/O thread wakes the loop anyway.
  virtual std::chrono::microseconds spin() const { return {}; }
};

// Opens a client channel to `address`. Errors: InvalidArgument (unknown scheme or
// malformed address), Unavailable (transport or provider missing), IOError.
Result<std::unique_ptr<ClientChannel>> Connect(std::string_view address,
                                               const ChannelOptions& options = {});
// Binds a server channel at `address` (tcp port 0 or * picks a free port).
Result<std::unique_ptr<ServerChannel>> Listen(std::string_view address,
                                              const ChannelOptions& options = {});

// OK, or the Status an Error envelope carries.
Status ReplyStatus(const Message& reply);

}  // namespace overlay::transport

#endif  // OVERLAY_TRANSPORT_CHANNEL_H_
