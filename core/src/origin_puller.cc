// SPDX-License-Identifier: Apache-2.0
#include "origin_puller.h"

#include <utility>

#include "overlay/object_key.h"
#include "overlay/transport/bulk.h"
#include "overlay/transport/wire.h"

namespace overlay::endpoint {
namespace {

// Idle origins remembered as down are swept once this many origins are known.
constexpr size_t kSweepAt = 1024;
// Connections a puller thread keeps open at most.
constexpr size_t kMaxConnections = 64;

}  // namespace

OriginPuller::OriginPuller(storage::DataContainer* container, OriginPullerOptions options)
    : container_(container), options_(std::move(options)) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { Loop(); });
}

OriginPuller::~OriginPuller() {
  std::vector<Request> dropped;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    for (auto& [name, o] : origins_)
      for (Request& r : o.queue) dropped.push_back(std::move(r));
    origins_.clear();
  }
  cv_.notify_all();
  for (Request& r : dropped) r.done(Status::Unavailable("endpoint stopping: input not pulled"));
  for (auto& t : threads_) t.join();
}

void OriginPuller::Pull(const std::string& origin, const std::string& origin_key,
                        std::vector<std::string> keys, Done done) {
  const std::string name = origin + '\n' + origin_key;
  Status refused;
  {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    if (origins_.size() >= kSweepAt) {
      for (auto it = origins_.begin(); it != origins_.end();) {
        const Origin& o = it->second;
        it = o.queue.empty() && o.active == 0 && o.down_until <= now ? origins_.erase(it)
                                                                     : std::next(it);
      }
    }
    Origin& o = origins_[name];
    o.address = origin;
    o.key = origin_key;
    if (closed_) {
      refused = Status::Unavailable("endpoint stopping: input not pulled");
    } else if (o.down_until > now) {
      refused = o.down_reason;
    } else {
      o.queue.push_back(Request{std::move(keys), std::move(done)});
      ++pending_;
    }
  }
  if (!refused.ok()) return done(refused);
  cv_.notify_one();
}

size_t OriginPuller::pending() const {
  std::lock_guard lock(mu_);
  return pending_;
}

std::map<std::string, OriginPuller::Origin>::iterator OriginPuller::Ready() {
  auto ready = [&](const Origin& o) { return !o.queue.empty() && o.active < options_.per_origin; };
  for (auto it = origins_.upper_bound(last_); it != origins_.end(); ++it)
    if (ready(it->second)) return it;
  for (auto it = origins_.begin(); it != origins_.end() && it->first <= last_; ++it)
    if (ready(it->second)) return it;
  return origins_.end();
}

void OriginPuller::Loop() {
  Connections conns;  // this thread's, by origin name
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return closed_ || Ready() != origins_.end(); });
    if (closed_) return;
    auto it = Ready();
    const std::string name = it->first;
    Origin copy;  // address and key, read without the lock
    copy.address = it->second.address;
    copy.key = it->second.key;
    Request r = std::move(it->second.queue.front());
    it->second.queue.pop_front();
    ++it->second.active;
    last_ = name;
    lock.unlock();

    bool unreachable = false;
    Result<std::vector<Blob>> got = PullAll(conns, name, copy, r.keys, &unreachable);
    if (conns.size() > kMaxConnections) conns.clear();

    std::vector<Request> failed;
    lock.lock();
    Origin& o = origins_[name];
    --o.active;
    --pending_;
    if (unreachable) {
      o.down_until = Clock::now() + options_.down_for;
      o.down_reason = got.status();
      for (Request& q : o.queue) failed.push_back(std::move(q));
      o.queue.clear();
      pending_ -= failed.size();
    }
    lock.unlock();
    cv_.notify_all();  // a slot of this origin is free
    for (Request& q : failed) q.done(got.status());
    r.done(std::move(got));
    lock.lock();
  }
}

Result<std::vector<Blob>> OriginPuller::PullAll(Connections& conns, const std::string& name,
                                                const Origin& origin,
                                                const std::vector<std::string>& keys,
                                                bool* unreachable) {
  std::vector<Blob> out;
  out.reserve(keys.size());
  for (const std::string& hex : keys) {
    auto bytes = PullOne(conns, name, origin, hex, unreachable);
    if (!bytes.ok()) return bytes.status();
    out.push_back(std::move(*bytes));
  }
  return out;
}

Result<Blob> OriginPuller::PullOne(Connections& conns, const std::string& name,
                                   const Origin& origin, const std::string& hex,
                                   bool* unreachable) {
  auto key = ObjectKey::FromHex(hex);
  if (!key) return Status::InvalidArgument("malformed input key '" + hex + "'");
  // Another task may have pulled it meanwhile.
  if (auto local = container_->Get(*key); local.ok()) return local;
  auto& ch = conns[name];
  if (!ch) {
    transport::ChannelOptions channel = options_.channel;
    channel.curve_server_key = origin.key;
    auto c = transport::Connect(origin.address, channel);
    if (!c.ok()) {
      conns.erase(name);
      *unreachable = !c.status().IsInvalidArgument();
      return Status::Unavailable("origin " + origin.address + ": " +
                                 std::string(c.status().message()));
    }
    // Any reply proves the origin is there (a data server answers a
    // Heartbeat with an Error); a CURVE origin with another key never answers.
    transport::Heartbeat hb{"endpoint", 1, 0, 0};
    auto probe = (*c)->Call(transport::MakeMessage(transport::EncodeHeartbeat(0, hb)),
                            options_.connect_timeout);
    if (!probe.ok()) {
      conns.erase(name);
      *unreachable = true;
      return Status::Unavailable("origin " + origin.address + " did not answer within " +
                                 std::to_string(options_.connect_timeout.count()) + " ms");
    }
    ch = std::move(*c);
  }
  transport::BulkOptions bulk;
  bulk.timeout = options_.fetch_timeout;
  auto bytes = transport::FetchObject(*ch, hex, bulk);
  if (!bytes.ok()) {
    conns.erase(name);  // replies may still be pending on it
    if (bytes.status().IsNotFound()) return bytes.status();
    *unreachable = true;
    return Status::Unavailable("fetching input " + hex + " from " + origin.address + ": " +
                               std::string(bytes.status().message()));
  }
  // The one hash of these bytes on this node; the container trusts it.
  if (!(ObjectKey::Of(bytes->view()) == *key))
    return Status::Corruption("input " + hex + " from " + origin.address +
                              " does not match its key");
  return container_->PutVerified(*key, bytes->view());
}

}  // namespace overlay::endpoint
