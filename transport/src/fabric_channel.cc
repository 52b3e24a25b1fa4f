// SPDX-License-Identifier: Apache-2.0
// libfabric channels. Wire format: every message is a tagged Header message
// (FrameHeader, then the envelope when it fits a receive slot), then optionally a
// Body message (a large envelope) and an Attachment message, each sent straight
// from the caller's buffers. Tags carry the kind in the top bits and the client's
// peer id in the low bits, so a server can post exact-tag receives per peer.
// A client announces its address with a Hello; the server answers Welcome with
// the client's peer id.
// Bulk by RMA: where the provider offers FI_RMA reads, an attachment of at least
// kRmaThreshold bytes is not sent; the sender registers it (FI_REMOTE_READ) and
// puts its address and key in the frame header, the receiver fi_reads it straight
// into its buffer and answers with an RmaDone frame, which releases the region.
#include "fabric_channel.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>
#include <rdma/fi_tagged.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <functional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "overlay/transport/fabric.h"
#include "overlay/transport/traffic.h"
#include "received.h"

namespace overlay::transport::detail {
namespace {

using Clock = std::chrono::steady_clock;

enum class Kind : uint64_t { kHello = 1, kWelcome = 2, kHeader = 3, kBody = 4, kAttachment = 5 };
constexpr uint64_t kPeerMask = (uint64_t{1} << 32) - 1;
uint64_t Tag(Kind kind, uint32_t peer) { return (static_cast<uint64_t>(kind) << 56) | peer; }

constexpr size_t kSlotBytes = 64 << 10;
constexpr int kHeaderSlots = 8;
constexpr int kHelloSlots = 4;
constexpr size_t kHelloBytes = 512;
// How long the rest of a message may take once its header arrived.
constexpr auto kPartGrace = std::chrono::seconds(30);
// How long a send or receive may be refused (FI_EAGAIN) before giving up.
constexpr auto kPostTimeout = std::chrono::seconds(10);

struct FrameHeader {
  static constexpr uint64_t kMagic = 0x4f564c5946524d31;         // "OVLYFRM1"
  static constexpr uint64_t kRmaDoneMagic = 0x4f564c59524d4144;  // "OVLYRMAD"
  uint64_t magic;
  uint64_t envelope_size;
  uint64_t attachment_size;
  uint64_t rma_id;    // 0: the attachment follows as a message; else its region id
  uint64_t rma_addr;  // remote address (or offset) of the attachment
  uint64_t rma_key;
};
constexpr size_t kRmaThreshold = 256 << 10;
constexpr size_t kInlineEnvelope = kSlotBytes - sizeof(FrameHeader);

// One allocation, control block included, aligned for FlatBuffers (8) and
// not zeroed.
std::shared_ptr<std::byte> Allocate(size_t n) {
  auto words = std::make_shared_for_overwrite<uint64_t[]>(std::max<size_t>(1, (n + 7) / 8));
  return std::shared_ptr<std::byte>(words, reinterpret_cast<std::byte*>(words.get()));
}

// One posted operation; its context is what completions point back to.
struct Op {
  fi_context2 ctx{};  // first member: op_context == this
  enum class Type { kSend, kHeaderSlot, kHelloSlot, kPart } type;
  bool done = false;
  int error = 0;
  size_t len = 0;
  uint64_t tag = 0;
  Blob hold;                       // kSend: keeps the bytes alive
  std::vector<std::byte> frame;    // kSend: a frame header, reused by the next send
  std::shared_ptr<std::byte> buf;  // receives
  size_t cap = 0;
};

// The endpoint plus the bookkeeping of posted operations.
class Engine {
 public:
  Engine(FabricEndpoint ep, const ChannelOptions& options)
      : options_(options), ep_(std::move(ep)) {}

  FabricEndpoint& ep() { return ep_; }
  const ChannelOptions& options() const { return options_; }

  // A receive with a buffer of `cap` bytes.
  Op* NewOp(Op::Type type, size_t cap) {
    auto op = std::make_unique<Op>();
    op->type = type;
    op->buf = Allocate(cap);
    op->cap = cap;
    Op* raw = op.get();
    ops_.emplace(raw, std::move(op));
    return raw;
  }
  void Drop(Op* op) { ops_.erase(op); }

  Status PostRecv(Op* op, uint64_t tag, uint64_t ignore) {
    op->done = false;
    op->error = 0;
    const auto deadline = Clock::now() + kPostTimeout;
    while (Clock::now() < deadline) {
      ssize_t rc = fi_trecv(ep_.ep(), op->buf.get(), op->cap, nullptr, FI_ADDR_UNSPEC, tag, ignore,
                            &op->ctx);
      if (rc == 0) return Status::OK();
      if (rc != -FI_EAGAIN) return Status::IOError(std::string("fi_trecv: ") + fi_strerror(-rc));
      Poll();
    }
    return Status::Unavailable("fabric receive queue stayed full");
  }

  // Sends `bytes`, kept alive until the send completes.
  Status PostSend(fi_addr_t dest, uint64_t tag, Blob bytes) {
    OVERLAY_RETURN_IF_ERROR(send_error_);
    Op* op = NewSendOp();
    op->hold = std::move(bytes);
    return Post(op, dest, tag, op->hold.data(), op->hold.size());
  }

  // Sends `op`'s own bytes at [data, data + len), which live in op->frame or op->hold.
  Status Post(Op* op, fi_addr_t dest, uint64_t tag, const void* data, size_t len) {
    ++sends_in_flight_;
    const auto deadline = Clock::now() + kPostTimeout;
    while (Clock::now() < deadline) {
      ssize_t rc = fi_tsend(ep_.ep(), data, len, nullptr, dest, tag, &op->ctx);
      if (rc == 0) return Status::OK();
      if (rc != -FI_EAGAIN) {
        --sends_in_flight_;
        Recycle(op);
        return Status::IOError(std::string("fi_tsend: ") + fi_strerror(-rc));
      }
      Poll();
    }
    --sends_in_flight_;
    Recycle(op);
    return Status::Unavailable("fabric peer is not accepting messages");
  }

  // Reads completions once without blocking; true if any arrived.
  bool Poll() {
    fi_cq_tagged_entry entries[16];
    ssize_t n = fi_cq_read(ep_.cq(), entries, 16);
    if (n > 0) {
      Dispatch(entries, n);
      return true;
    }
    if (n == -FI_EAVAIL) ReadError();
    return n == -FI_EAVAIL;
  }

  // Progresses until pred() or the deadline: spins first (a hot channel's
  // reply comes without a wake-up), then sleeps on the CQ's wait descriptor.
  // While bytes are moving (`receiving` a message's parts, or our own sends
  // or exposed regions in flight) it keeps spinning, up to 100 ms: with manual
  // progress, the provider moves them only while someone polls, and a sleep
  // would let the socket fill and stall the sender (1 MiB transfers ran at
  // 0.6x the speed). Without a descriptor, or after that, it polls between
  // naps of 50 µs, doubling up to 1 ms after 10 ms of idleness.
  bool WaitFor(const std::function<bool()>& pred, Clock::time_point deadline,
               bool receiving = false) {
    const auto start = Clock::now();
    const auto spin_until = std::min(deadline, start + options_.spin);
    const auto busy_until = start + std::chrono::milliseconds(100);
    auto nap = std::chrono::microseconds(50);
    while (!pred()) {
      // Poll before the deadline check, so a zero timeout still progresses.
      const bool progressed = Poll();
      if (pred()) return true;
      const auto now = Clock::now();
      if (now >= deadline) return false;
      if (progressed || now < spin_until) continue;
      const bool moving = receiving || sends_in_flight_ > 0 || !regions_.empty();
      if (moving && now < busy_until) continue;
      if (!moving && ep_.wait_fd() >= 0) {
        if (!ep_.ReadyToSleep()) continue;  // completions are waiting
        pollfd p{ep_.wait_fd(), POLLIN, 0};
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
        (void)::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
        continue;
      }
      std::this_thread::sleep_for(std::min<Clock::duration>(nap, deadline - now));
      if (now - start > std::chrono::milliseconds(10)) {
        nap = std::min(nap * 2, std::chrono::microseconds(1000));
      }
    }
    return true;
  }

  std::deque<Op*>& headers() { return headers_; }
  std::deque<Op*>& hellos() { return hellos_; }

  // The CQ's wait descriptor, checked by fi_trywait before a Poller sleeps.
  // None while our sends or exposed regions are in flight: with manual
  // progress their bytes move only while someone reads the queue, so the
  // Poller naps and the caller keeps polling.
  PollHandle poll_handle() {
    if (ep_.wait_fd() < 0 || sends_in_flight_ > 0 || !regions_.empty()) return {};
    return {nullptr, ep_.wait_fd(),
            [this] { return headers_.empty() && hellos_.empty() && ep_.ReadyToSleep(); }};
  }

  // Turns the completed header `slot` from `peer` into a Message: reads the
  // inline envelope or receives the body, then receives the attachment.
  Result<Message> Assemble(Op* slot, uint32_t peer, fi_addr_t from, Clock::time_point deadline) {
    FrameHeader h{};
    if (slot->error != 0) {
      return Status::Corruption(std::string("message failed to arrive: ") +
                                fi_strerror(slot->error));
    }
    if (slot->len < sizeof(h)) return Status::Corruption("message shorter than its frame header");
    std::memcpy(&h, slot->buf.get(), sizeof(h));
    const WireLimits& limits = options_.limits;
    if (h.magic != FrameHeader::kMagic) return Status::Corruption("bad frame magic");
    if (h.envelope_size > limits.max_envelope_bytes ||
        h.attachment_size > limits.max_attachment_bytes) {
      return Status::InvalidArgument("message exceeds the size limits");
    }
    const bool inline_envelope = h.envelope_size <= kInlineEnvelope;
    if (inline_envelope && slot->len != sizeof(h) + h.envelope_size) {
      return Status::Corruption("frame length does not match its header");
    }
    Blob envelope;
    Op* body = nullptr;
    if (inline_envelope) {
      auto copy = Allocate(h.envelope_size);
      std::memcpy(copy.get(), slot->buf.get() + sizeof(h), h.envelope_size);
      std::string_view view(reinterpret_cast<const char*>(copy.get()), h.envelope_size);
      envelope = Blob(std::move(copy), view);
    } else {
      body = NewOp(Op::Type::kPart, h.envelope_size);
      OVERLAY_RETURN_IF_ERROR(PostRecv(body, Tag(Kind::kBody, peer), 0));
    }
    Op* attachment = nullptr;
    if (h.attachment_size > 0) {
      attachment = NewOp(Op::Type::kPart, h.attachment_size);
      if (h.rma_id != 0) {
        OVERLAY_RETURN_IF_ERROR(PostRead(attachment, from, h.rma_addr, h.rma_key));
      } else {
        OVERLAY_RETURN_IF_ERROR(PostRecv(attachment, Tag(Kind::kAttachment, peer), 0));
      }
    }
    auto parts_done = [&] {
      return (body == nullptr || body->done) && (attachment == nullptr || attachment->done);
    };
    if (!WaitFor(parts_done, std::max(deadline, Clock::now()) + kPartGrace, /*receiving=*/true)) {
      // The posted buffers stay owned by ops_ until the endpoint closes.
      return Status::Timeout("message parts did not arrive");
    }
    Blob att;
    for (Op* part : {body, attachment}) {
      if (part == nullptr) continue;
      // RMA read completions report no length; a failed read reports an error.
      const bool rma = part == attachment && h.rma_id != 0;
      if (part->error != 0 || (!rma && part->len != part->cap)) {
        Drop(part);
        return Status::Corruption("message part truncated or failed");
      }
      std::string_view view(reinterpret_cast<const char*>(part->buf.get()), part->cap);
      (part == body ? envelope : att) = Blob(part->buf, view);
      Drop(part);
    }
    if (h.rma_id != 0) OVERLAY_RETURN_IF_ERROR(SendRmaDone(from, peer, h.rma_id));
    CountReceived(TransportKind::kFabric, envelope.size() + att.size());
    return CheckReceived(std::move(envelope), std::move(att), limits);
  }

  // If `slot` is an RmaDone frame, releases the region it names and returns true.
  bool HandleRmaDone(const Op& slot) {
    FrameHeader h{};
    if (slot.error != 0 || slot.len != sizeof(h)) return false;
    std::memcpy(&h, slot.buf.get(), sizeof(h));
    if (h.magic != FrameHeader::kRmaDoneMagic) return false;
    regions_.erase(h.rma_id);
    return true;
  }

  Status SendMessage(fi_addr_t dest, uint32_t peer, const Message& msg) {
    OVERLAY_RETURN_IF_ERROR(send_error_);
    CountSent(TransportKind::kFabric, msg.envelope.size() + msg.attachment.size());
    const bool inline_envelope = msg.envelope.size() <= kInlineEnvelope;
    const size_t frame_size = sizeof(FrameHeader) + (inline_envelope ? msg.envelope.size() : 0);
    FrameHeader h{FrameHeader::kMagic, msg.envelope.size(), msg.attachment.size(), 0, 0, 0};
    const bool rma = rma_ && msg.attachment.size() >= kRmaThreshold;
    if (rma) {
      auto region = Expose(msg.attachment);
      if (!region.ok()) return region.status();
      h.rma_id = *region;
      h.rma_addr = uses_virtual_addresses_ ? reinterpret_cast<uint64_t>(msg.attachment.data()) : 0;
      h.rma_key = fi_mr_key(regions_[h.rma_id].mr.get());
    }
    Op* op = NewSendOp();
    op->frame.resize(frame_size);
    std::memcpy(op->frame.data(), &h, sizeof(h));
    if (inline_envelope) {
      std::memcpy(op->frame.data() + sizeof(h), msg.envelope.data(), msg.envelope.size());
    }
    OVERLAY_RETURN_IF_ERROR(Post(op, dest, Tag(Kind::kHeader, peer), op->frame.data(), frame_size));
    if (!inline_envelope)
      OVERLAY_RETURN_IF_ERROR(PostSend(dest, Tag(Kind::kBody, peer), msg.envelope));
    if (!msg.attachment.empty() && !rma) {
      OVERLAY_RETURN_IF_ERROR(PostSend(dest, Tag(Kind::kAttachment, peer), msg.attachment));
    }
    return Status::OK();
  }

 private:
  // An attachment exposed for remote reads until the reader's RmaDone.
  struct Region {
    FabricMemoryRegion mr;
    Blob hold;
  };

  Result<uint64_t> Expose(const Blob& bytes) {
    const uint64_t id = next_region_++;
    auto mr = RegisterMemory(ep_.domain_handle(), bytes.data(), bytes.size(), FI_REMOTE_READ, id);
    if (!mr.ok()) return mr.status();
    regions_.emplace(id, Region{std::move(mr).value(), bytes});
    return id;
  }

  Status PostRead(Op* op, fi_addr_t from, uint64_t addr, uint64_t key) {
    const auto deadline = Clock::now() + kPostTimeout;
    while (Clock::now() < deadline) {
      ssize_t rc = fi_read(ep_.ep(), op->buf.get(), op->cap, nullptr, from, addr, key, &op->ctx);
      if (rc == 0) return Status::OK();
      if (rc != -FI_EAGAIN) return Status::IOError(std::string("fi_read: ") + fi_strerror(-rc));
      Poll();
    }
    return Status::Unavailable("fabric read queue stayed full");
  }

  Status SendRmaDone(fi_addr_t to, uint32_t peer, uint64_t id) {
    OVERLAY_RETURN_IF_ERROR(send_error_);
    const FrameHeader h{FrameHeader::kRmaDoneMagic, 0, 0, id, 0, 0};
    Op* op = NewSendOp();
    op->frame.resize(sizeof(h));
    std::memcpy(op->frame.data(), &h, sizeof(h));
    return Post(op, to, Tag(Kind::kHeader, peer), op->frame.data(), sizeof(h));
  }

  // Send operations are reused: a small message then allocates nothing.
  Op* NewSendOp() {
    if (!free_sends_.empty()) {
      Op* op = free_sends_.back();
      free_sends_.pop_back();
      return op;
    }
    auto op = std::make_unique<Op>();
    op->type = Op::Type::kSend;
    send_ops_.push_back(std::move(op));
    return send_ops_.back().get();
  }
  void Recycle(Op* op) {
    op->hold = Blob();
    free_sends_.push_back(op);
  }

  void Complete(Op* op, int error, size_t len, uint64_t tag) {
    op->done = true;
    op->error = error;
    op->len = len;
    op->tag = tag;
    switch (op->type) {
      case Op::Type::kSend:
        --sends_in_flight_;
        if (error != 0) {
          send_error_ =
              Status::Unavailable(std::string("fabric send failed: ") + fi_strerror(error));
        }
        Recycle(op);
        break;
      case Op::Type::kHeaderSlot:
        headers_.push_back(op);
        break;
      case Op::Type::kHelloSlot:
        hellos_.push_back(op);
        break;
      case Op::Type::kPart:
        break;
    }
  }

  void Dispatch(const fi_cq_tagged_entry* entries, ssize_t n) {
    for (ssize_t i = 0; i < n; ++i) {
      Complete(static_cast<Op*>(entries[i].op_context), 0, entries[i].len, entries[i].tag);
    }
  }

  void ReadError() {
    fi_cq_err_entry err{};
    if (fi_cq_readerr(ep_.cq(), &err, 0) != 1 || err.op_context == nullptr) return;
    Complete(static_cast<Op*>(err.op_context), err.err == 0 ? FI_EOTHER : err.err, err.len,
             err.tag);
  }

  const ChannelOptions options_;
  Status send_error_;
  int sends_in_flight_ = 0;
  std::deque<Op*> headers_;
  std::deque<Op*> hellos_;
  std::unordered_map<Op*, std::unique_ptr<Op>> ops_;  // receives
  std::vector<std::unique_ptr<Op>> send_ops_;         // every send op, in flight or free
  std::vector<Op*> free_sends_;
  FabricEndpoint ep_;  // declared after the ops: closed first, before their buffers
  const bool rma_ = ep_.supports_rma_read() && options_.fabric_rma;
  const bool uses_virtual_addresses_ = (ep_.info().domain_attr->mr_mode & FI_MR_VIRT_ADDR) != 0;
  uint64_t next_region_ = 1;
  std::unordered_map<uint64_t, Region> regions_;  // closed before ep_
};

struct FabricAddress {
  std::string host;
  std::string port;
};

// shm ports may carry the provider's endpoint suffix ("5000:0:2"), so for shm the
// host ends at the first colon.
Result<FabricAddress> ParseAddress(std::string_view address, bool shm) {
  std::string_view rest = address.substr(std::string_view("fabric://").size());
  size_t colon = shm ? rest.find(':') : rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) {
    return Status::InvalidArgument("expected fabric://host:port, got '" + std::string(address) +
                                   "'");
  }
  return FabricAddress{std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1))};
}

// The shm provider names endpoints by strings; host:port becomes such a name.
// It registers an endpoint bound to `name` as "name:<i>:<j>" (libfabric 1.17),
// so Listen reports that suffix in its address; a port without one means ":0:0",
// the first endpoint of a process.
std::string ShmName(const FabricAddress& a) { return "overlay-" + a.host + "-" + a.port; }
std::string ShmPeerName(const FabricAddress& a) {
  return ShmName(a) + (a.port.find(':') == std::string::npos ? ":0:0" : "");
}

Status PostSlots(Engine& engine, Op::Type type, int count, size_t bytes, uint64_t tag,
                 uint64_t ignore) {
  for (int i = 0; i < count; ++i) {
    OVERLAY_RETURN_IF_ERROR(engine.PostRecv(engine.NewOp(type, bytes), tag, ignore));
  }
  return Status::OK();
}

class FabricClient final : public ClientChannel {
 public:
  FabricClient(std::unique_ptr<Engine> engine, fi_addr_t server, uint32_t id, std::string address)
      : engine_(std::move(engine)), server_(server), id_(id), address_(std::move(address)) {}

  Status Send(const Message& msg) override { return engine_->SendMessage(server_, id_, msg); }

  Result<Message> Receive(std::chrono::milliseconds timeout) override {
    auto& headers = engine_->headers();
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (!engine_->WaitFor([&] { return !headers.empty(); }, deadline)) {
        return Status::Timeout("no reply from " + address_ + " within " +
                               std::to_string(timeout.count()) + " ms");
      }
      Op* slot = headers.front();
      headers.pop_front();
      if (engine_->HandleRmaDone(*slot)) {
        OVERLAY_RETURN_IF_ERROR(engine_->PostRecv(slot, Tag(Kind::kHeader, 0), kPeerMask));
        continue;
      }
      auto msg = engine_->Assemble(slot, id_, server_, deadline);
      OVERLAY_RETURN_IF_ERROR(engine_->PostRecv(slot, Tag(Kind::kHeader, 0), kPeerMask));
      return msg;
    }
  }

  const std::string& address() const override { return address_; }
  PollHandle poll_handle() override { return engine_->poll_handle(); }
  std::chrono::microseconds spin() const override { return engine_->options().spin; }

 private:
  std::unique_ptr<Engine> engine_;
  const fi_addr_t server_;
  const uint32_t id_;
  const std::string address_;
};

class FabricServer final : public ServerChannel {
 public:
  FabricServer(std::unique_ptr<Engine> engine, std::string address)
      : engine_(std::move(engine)), address_(std::move(address)) {}

  Result<Request> Receive(std::chrono::milliseconds timeout) override {
    auto& headers = engine_->headers();
    auto& hellos = engine_->hellos();
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (!engine_->WaitFor([&] { return !headers.empty() || !hellos.empty(); }, deadline)) {
        return Status::Timeout("no request on " + address_);
      }
      while (!hellos.empty()) {
        Op* hello = hellos.front();
        hellos.pop_front();
        Welcome(*hello);
        OVERLAY_RETURN_IF_ERROR(engine_->PostRecv(hello, Tag(Kind::kHello, 0), kPeerMask));
      }
      if (headers.empty()) continue;
      Op* slot = headers.front();
      headers.pop_front();
      const auto peer = static_cast<uint32_t>(slot->tag & kPeerMask);
      if (engine_->HandleRmaDone(*slot)) {
        OVERLAY_RETURN_IF_ERROR(engine_->PostRecv(slot, Tag(Kind::kHeader, 0), kPeerMask));
        continue;
      }
      std::string peer_id(reinterpret_cast<const char*>(&peer), sizeof(peer));
      if (peer >= peers_.size()) {
        // Nobody to answer: the sender never said Hello.
        OVERLAY_RETURN_IF_ERROR(engine_->PostRecv(slot, Tag(Kind::kHeader, 0), kPeerMask));
        return Status::Corruption("request from an unknown fabric peer");
      }
      auto msg = engine_->Assemble(slot, peer, peers_[peer], deadline);
      OVERLAY_RETURN_IF_ERROR(engine_->PostRecv(slot, Tag(Kind::kHeader, 0), kPeerMask));
      if (!msg.ok()) {
        OVERLAY_RETURN_IF_ERROR(Reply(peer_id, MakeMessage(EncodeError(0, msg.status()))));
        return msg.status();
      }
      return Request{std::move(peer_id), std::move(msg).value()};
    }
  }

  Status Reply(const std::string& peer, const Message& msg) override {
    uint32_t id = 0;
    if (peer.size() != sizeof(id)) return Status::InvalidArgument("not a fabric peer id");
    std::memcpy(&id, peer.data(), sizeof(id));
    if (id >= peers_.size()) return Status::NotFound("unknown fabric peer");
    return engine_->SendMessage(peers_[id], id, msg);
  }

  const std::string& address() const override { return address_; }
  PollHandle poll_handle() override { return engine_->poll_handle(); }
  std::chrono::microseconds spin() const override { return engine_->options().spin; }

 private:
  void Welcome(const Op& hello) {
    if (hello.error != 0 || hello.len == 0) return;
    auto addr = engine_->ep().Insert(
        std::string_view(reinterpret_cast<const char*>(hello.buf.get()), hello.len));
    if (!addr.ok()) return;
    const auto id = static_cast<uint32_t>(peers_.size());
    peers_.push_back(*addr);
    auto payload = std::make_shared<uint32_t>(id);
    std::string_view view(reinterpret_cast<const char*>(payload.get()), sizeof(id));
    (void)engine_->PostSend(*addr, Tag(Kind::kWelcome, id), Blob(std::move(payload), view));
  }

  std::unique_ptr<Engine> engine_;
  const std::string address_;
  std::vector<fi_addr_t> peers_;  // index: peer id
};

std::atomic<uint32_t> shm_endpoints{0};

}  // namespace

Result<std::unique_ptr<ClientChannel>> ConnectFabric(std::string_view address,
                                                     const ChannelOptions& options) {
  const bool shm = options.fabric_provider == FabricProvider::kShm;
  auto a = ParseAddress(address, shm);
  if (!a.ok()) return a.status();
  // A shm client binds a name of its own: the provider's default names are
  // reused within a process, and a peer still mapping the old one then crashes.
  auto ep = shm ? FabricEndpoint::Open(FabricProvider::kShm,
                                       "overlay-client-" + std::to_string(::getpid()) + "-" +
                                           std::to_string(shm_endpoints++),
                                       "", true)
                : FabricEndpoint::Open(FabricProvider::kTcpRxm, a->host, a->port, false);
  if (!ep.ok()) return ep.status();
  auto engine = std::make_unique<Engine>(std::move(ep).value(), options);
  // FI_ADDR_STR addresses are inserted as C strings.
  const std::string server_name =
      shm ? "fi_shm://" + ShmPeerName(*a) + std::string(1, '\0') : engine->ep().peer_address();
  auto server = engine->ep().Insert(server_name);
  if (!server.ok()) return server.status();
  auto self = engine->ep().name();
  if (!self.ok()) return self.status();

  Op* welcome = engine->NewOp(Op::Type::kPart, sizeof(uint32_t));
  OVERLAY_RETURN_IF_ERROR(engine->PostRecv(welcome, Tag(Kind::kWelcome, 0), kPeerMask));
  auto name = std::make_shared<std::string>(std::move(self).value());
  OVERLAY_RETURN_IF_ERROR(
      engine->PostSend(*server, Tag(Kind::kHello, 0), Blob(name, std::string_view(*name))));
  if (!engine->WaitFor([&] { return welcome->done; }, Clock::now() + std::chrono::seconds(10)) ||
      welcome->error != 0 || welcome->len != sizeof(uint32_t)) {
    return Status::Unavailable("no fabric server answered at " + std::string(address));
  }
  uint32_t id = 0;
  std::memcpy(&id, welcome->buf.get(), sizeof(id));
  engine->Drop(welcome);
  OVERLAY_RETURN_IF_ERROR(PostSlots(*engine, Op::Type::kHeaderSlot, kHeaderSlots, kSlotBytes,
                                    Tag(Kind::kHeader, 0), kPeerMask));
  return std::unique_ptr<ClientChannel>(
      std::make_unique<FabricClient>(std::move(engine), *server, id, std::string(address)));
}

Result<std::unique_ptr<ServerChannel>> ListenFabric(std::string_view address,
                                                    const ChannelOptions& options) {
  const bool shm = options.fabric_provider == FabricProvider::kShm;
  auto a = ParseAddress(address, shm);
  if (!a.ok()) return a.status();
  if (shm && a->port.find(':') != std::string::npos) {
    return Status::InvalidArgument("a shm listen address takes no endpoint suffix: " +
                                   std::string(address));
  }
  if (shm && a->port == "0") {
    // Pick a name no other listener uses, in the place of a free port.
    a->port = "p" + std::to_string(::getpid()) + "n" + std::to_string(shm_endpoints++);
  }
  auto ep = shm ? FabricEndpoint::Open(FabricProvider::kShm, ShmName(*a), "", true)
                : FabricEndpoint::Open(FabricProvider::kTcpRxm, a->host, a->port, true);
  if (!ep.ok()) return ep.status();
  std::string bound = "fabric://" + a->host + ":" + a->port;
  if (shm) {
    auto name = ep->name();
    if (!name.ok()) return name.status();
    // Publish the provider's full endpoint name: "fi_shm://<ShmName>:<i>:<j>".
    std::string_view full = std::string_view(*name).substr(0, name->find('\0'));
    const std::string prefix = "fi_shm://" + ShmName(*a);
    if (!full.starts_with(prefix)) {
      return Status::Unavailable("the shm provider named its endpoint '" + std::string(full) +
                                 "', expected a name starting " + prefix);
    }
    bound += full.substr(prefix.size());
  } else {
    auto name = ep->name();
    if (!name.ok()) return name.status();
    if (name->size() >= sizeof(sockaddr_in)) {
      sockaddr_in sin{};
      std::memcpy(&sin, name->data(), sizeof(sin));
      if (sin.sin_family == AF_INET) {
        bound = "fabric://" + a->host + ":" + std::to_string(ntohs(sin.sin_port));
      }
    }
  }
  auto engine = std::make_unique<Engine>(std::move(ep).value(), options);
  OVERLAY_RETURN_IF_ERROR(PostSlots(*engine, Op::Type::kHelloSlot, kHelloSlots, kHelloBytes,
                                    Tag(Kind::kHello, 0), kPeerMask));
  OVERLAY_RETURN_IF_ERROR(PostSlots(*engine, Op::Type::kHeaderSlot, kHeaderSlots, kSlotBytes,
                                    Tag(Kind::kHeader, 0), kPeerMask));
  return std::unique_ptr<ServerChannel>(
      std::make_unique<FabricServer>(std::move(engine), std::move(bound)));
}

}  // namespace overlay::transport::detail
