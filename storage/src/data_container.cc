// SPDX-License-Identifier: Apache-2.0
#include "overlay/storage/data_container.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "overlay/storage/cdn_tier.h"
#include "overlay/storage/rocks_tier.h"

namespace overlay::storage {
namespace {

// How long a put waits for L1 room while every object there is in use and no
// disk tier can take it; beyond that the put fails (a pipeline wider than its
// memory budget, e.g. disk = none with a tiny STORAGE.memory).
constexpr auto kRoomWait = std::chrono::seconds(120);

// Creates `dir` and its missing parents with mode 0700.
Status MakePrivateDirs(const std::string& dir) {
  for (size_t pos = 1; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::FromErrno("cannot create the disk tier's directory '" + part + "'", errno);
  }
  return Status::OK();
}

// A heap copy of bytes whose key is known.
Blob KeyedCopy(std::string_view bytes, const ObjectKey& key) {
  auto owned = std::make_shared<const std::string>(bytes);
  std::string_view view(*owned);
  return Blob(std::move(owned), view, key);
}

}  // namespace

class DataContainerImpl final : public DataContainer {
 public:
  explicit DataContainerImpl(const StorageOptions& o, bool create_segment = true)
      : opt_(o), create_segment_(create_segment) {}

  ~DataContainerImpl() override {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    if (l1_) l1_->SetEvictListener(nullptr);
  }

  Status Init() {
    if (opt_.write == WriteMode::kThrough && opt_.disk == kNoDisk)
      return Status::InvalidArgument("STORAGE.write = through needs a disk tier, not disk = none");
    if (opt_.write == WriteMode::kBack && (opt_.disk == kNoDisk || opt_.cdn.empty()))
      return Status::InvalidArgument("STORAGE.write = back needs a disk tier and STORAGE.cdn");
    const std::string disk = DiskDir(opt_);
    if (opt_.segment.empty() && disk.empty())
      return Status::InvalidArgument("no local tier: set STORAGE.segment or STORAGE.disk");
    if (!opt_.segment.empty()) {
      ShmCacheOptions so;
      so.segment = opt_.segment;
      so.memory = opt_.memory;
      so.max_objects = opt_.max_objects;
      so.policy = opt_.policy;
      so.create = create_segment_;
      Result<std::shared_ptr<ShmCache>> l1 = ShmCache::Open(so);
      if (!l1.ok()) return l1.status();
      l1_ = std::move(*l1);
    }
    if (!disk.empty()) {
      OVERLAY_RETURN_IF_ERROR(MakePrivateDirs(disk));
      Result<std::unique_ptr<RocksTier>> l2 = NewRocksTier({disk, opt_.chunk});
      if (l2.ok()) {
        l2_ = std::move(*l2);
        disk_dir_ = disk;
      } else if (l2.status().IsBusy() && opt_.disk.empty() && l1_ &&
                 opt_.write == WriteMode::kMemory) {
        // The default disk tier belongs to another process on this segment
        // (e.g. a run beside its node's endpoint); L1 is still shared.
        notice_ = "the disk tier " + disk +
                  " is in use by another process; this one keeps objects in L1 only";
      } else {
        return l2.status();
      }
    }
    if (!opt_.cdn.empty()) {
      CdnTierOptions co;
      co.base_url = opt_.cdn;
      co.timeout_ms = opt_.cdn_timeout_ms;
      co.connect_timeout_ms = std::min<uint64_t>(opt_.cdn_timeout_ms, 2000);
      Result<std::unique_ptr<CdnTier>> l3 = NewCdnTier(co);
      if (!l3.ok()) return l3.status();
      l3_ = std::move(*l3);
    }
    if (l1_ && l2_) {
      // Demotion: an object leaving L1 lands in L2 unless it is there already.
      l1_->SetEvictListener(
          [this](const ObjectKey& k, std::string_view bytes, const ObjectMeta& m) {
            return l2_->Head(k).ok() || l2_->Put(k, bytes, m).ok();
          });
    }
    if (Pushing() || opt_.ttl_ms > 0) worker_ = std::thread([this] { WorkerLoop(); });
    return Status::OK();
  }

  Result<Blob> Put(std::string_view bytes, const PutOptions& put) override {
    return PutKeyed(ObjectKey::Of(bytes), bytes, put);
  }

  Result<Blob> PutVerified(const ObjectKey& key, std::string_view bytes,
                           const PutOptions& put) override {
    return PutKeyed(key, bytes, put);
  }

  Result<PutLoan> Loan(size_t size) override {
    PutLoan loan;
    if (FitsL1(size)) {
      Result<WriteLoan> l = LoanL1(size);
      if (l.ok()) {
        loan.l1_ = std::move(*l);
        loan.in_l1_ = true;
        return loan;
      }
      if (!l2_) return l.status();
    }
    if (!l2_) return TooLarge(size);
    loan.heap_.resize(size);
    return loan;
  }

  Result<Blob> Commit(PutLoan&& loan, const PutOptions& put) override {
    return CommitKeyed(std::move(loan), nullptr, put);
  }

  Result<Blob> CommitVerified(PutLoan&& loan, const ObjectKey& key,
                              const PutOptions& put) override {
    return CommitKeyed(std::move(loan), &key, put);
  }

  Status Name(const std::string& name, const ObjectKey& key, uint64_t size) override {
    PutOptions put;
    put.name = name;
    return Finish(key, ObjectMeta{size, NowUnixMs(), ExpiryFor(put)}, put);
  }

  Result<Blob> Get(const ObjectKey& key) override {
    if (l1_) {
      Result<Blob> b = l1_->Get(key);
      if (b.ok()) return b;
    }
    Status worst = Status::NotFound("object " + key.ToHex() + " is in no tier");
    bool l2_bad = false;
    if (l2_) {
      Result<Blob> b = l2_->Get(key);
      if (b.ok()) {
        Promote(key, b->view(), l2_->Head(key));
        return b->WithKey(key);
      }
      if (b.status().IsCorruption()) {
        l2_bad = true;
        worst = b.status();
      } else if (!b.status().IsNotFound()) {
        worst = b.status();
      }
    }
    if (l3_) {
      // An object that expired here must not come back from the CDN.
      OVERLAY_RETURN_IF_ERROR(CheckNotExpired(key));
      Result<Blob> b = l3_->Get(key);
      if (b.ok()) {
        const ObjectMeta meta{b->size(), NowUnixMs(), 0};
        if (l2_) {
          if (l2_bad) (void)l2_->Erase(key);  // replace the corrupt copy
          (void)l2_->Put(key, b->view(), meta);
        }
        Promote(key, b->view(), meta);
        return b->WithKey(key);
      }
      if (b.status().IsCorruption() || (worst.IsNotFound() && !b.status().IsNotFound()))
        worst = b.status();
    }
    return worst;
  }

  Result<CatalogEntry> Lookup(std::string_view name) override {
    std::optional<CatalogEntry> e;
    if (l2_) {
      Result<CatalogEntry> r = l2_->GetName(name);
      if (r.ok()) {
        e = std::move(*r);
      } else if (!r.status().IsNotFound()) {
        return r.status();
      }
    }
    // L1 records: names bound by a process without the disk tier.
    if (l1_) {
      Result<ReadHandle> h = l1_->AcquireRecord(ObjectKey::OfName(name));
      std::optional<CatalogEntry> r;
      if (h.ok()) r = CatalogEntry::Decode(h->view());
      if (r && (!e || r->ctime_ms > e->ctime_ms)) e = std::move(r);
    }
    if (!e || e->name != name)
      return Status::NotFound("no object named '" + std::string(name) + "'");
    if (e->expiry_ms != 0 && NowUnixMs() >= e->expiry_ms)
      return Status::NotFound("name '" + std::string(name) + "' has expired");
    return *e;
  }

  Result<ObjectKey> Resolve(std::string_view text) override {
    Result<CatalogEntry> e = Lookup(text);
    if (e.ok()) return e->key;
    if (std::optional<ObjectKey> k = ObjectKey::FromHex(text)) return *k;
    return Status::NotFound("'" + std::string(text) +
                            "' is neither a 32-hex-digit object key nor a known name");
  }

  Result<ObjectInfo> Stat(const ObjectKey& key) override {
    ObjectInfo info;
    info.key = key;
    bool found = false;
    const uint64_t now = NowUnixMs();
    if (l1_) {
      Result<ObjectMeta> m = l1_->Head(key);
      if (m.ok() && !Expired(*m, now)) {
        info.in_l1 = found = true;
        info.meta = *m;
        for (const ShmEntry& e : l1_->List())
          if (!e.record && e.key == key) info.pinned = e.pinned;
      }
    }
    if (l2_) {
      Result<ObjectMeta> m = l2_->Head(key);
      if (m.ok() && !Expired(*m, now)) {
        info.in_l2 = true;
        if (!found) info.meta = *m;
        found = true;
      } else if (!m.ok() && !m.status().IsNotFound()) {
        return m.status();
      }
    }
    if (l3_) {
      Result<ObjectMeta> m = l3_->Head(key);
      if (m.ok()) {
        info.in_l3 = true;
        if (!found) info.meta = *m;
        found = true;
      } else if (!m.status().IsNotFound()) {
        info.l3_error = std::string(m.status().message());
      }
    }
    if (!found && info.l3_error.empty())
      return Status::NotFound("object " + key.ToHex() + " is in no tier");
    if (!found) return Status::Unavailable(info.l3_error);
    return info;
  }

  Result<std::vector<CatalogEntry>> List() override {
    std::map<std::string, CatalogEntry> by_name;
    if (l2_) {
      Result<std::vector<CatalogEntry>> names = l2_->ListNames();
      if (!names.ok()) return names.status();
      for (CatalogEntry& e : *names) by_name[e.name] = std::move(e);
    }
    if (l1_) {
      for (const ShmEntry& se : l1_->List()) {
        if (!se.record) continue;
        Result<ReadHandle> h = l1_->AcquireRecord(se.key);
        if (!h.ok()) continue;
        std::optional<CatalogEntry> e = CatalogEntry::Decode(h->view());
        if (!e) continue;
        auto it = by_name.find(e->name);
        if (it == by_name.end() || e->ctime_ms > it->second.ctime_ms) by_name[e->name] = *e;
      }
    }
    const uint64_t now = NowUnixMs();
    std::vector<CatalogEntry> out;
    for (auto& [name, e] : by_name)
      if (e.expiry_ms == 0 || e.expiry_ms > now) out.push_back(std::move(e));
    return out;
  }

  Status Evict(const ObjectKey& key) override {
    if (!l1_) return Status::InvalidArgument("no L1 configured (STORAGE.segment)");
    if (!l2_ && l1_->Head(key).ok() && !(l3_ && l3_->Head(key).ok()))
      return Status::Failed("object " + key.ToHex() +
                            " not evicted: L1 holds its only copy (no lower tier holds it: "
                            "disk = none, and no CDN copy)");
    return l1_->Evict(key);
  }

  Status Pin(const ObjectKey& key, bool pinned) override {
    if (!l1_) return Status::InvalidArgument("no L1 configured (STORAGE.segment)");
    Status s = l1_->SetPinned(key, pinned);
    if (s.IsNotFound() && pinned) {
      Result<Blob> b = Get(key);  // promotes into L1
      if (!b.ok()) return b.status();
      if (!FitsL1(b->size()))
        return Status::InvalidArgument("object of " + std::to_string(b->size()) +
                                       " bytes is too large to pin in L1");
      (void)l1_->Put(key, b->view(), ObjectMeta{b->size(), NowUnixMs(), 0});
      s = l1_->SetPinned(key, pinned);
    }
    if (!s.ok() && !(s.IsNotFound() && !pinned)) return s;
    Result<std::vector<CatalogEntry>> names = List();
    if (!names.ok()) return names.status();
    for (CatalogEntry& e : *names) {
      if (!(e.key == key) || e.pinned == pinned) continue;
      e.pinned = pinned;
      OVERLAY_RETURN_IF_ERROR(StoreName(e));
    }
    return Status::OK();
  }

  Result<size_t> ExpireNow() override {
    const uint64_t now = NowUnixMs();
    std::unordered_set<ObjectKey> gone;
    if (l1_)
      for (const ObjectKey& k : l1_->ExpireNow(now)) gone.insert(k);
    if (l2_) {
      Result<std::vector<ObjectKey>> ks = l2_->ExpireNow(now);
      if (!ks.ok()) return ks.status();
      gone.insert(ks->begin(), ks->end());
    }
    if (Pushing())
      for (const ObjectKey& k : gone)
        OVERLAY_RETURN_IF_ERROR(l2_->JournalAdd(k, JournalOp::kDelete));
    std::vector<CatalogEntry> names;
    if (l2_) {
      Result<std::vector<CatalogEntry>> all = l2_->ListNames();
      if (all.ok()) names = std::move(*all);
    }
    if (l1_)
      for (const ShmEntry& se : l1_->List())
        if (se.record && se.meta.expiry_ms != 0 && se.meta.expiry_ms <= now)
          (void)l1_->EraseRecord(se.key);
    for (const CatalogEntry& e : names)
      if (e.expiry_ms != 0 && e.expiry_ms <= now) (void)l2_->EraseName(e.name);
    if (!gone.empty()) Kick();
    return gone.size();
  }

  Result<uint64_t> JournalBacklog() override {
    if (!l2_) return uint64_t{0};
    return l2_->JournalSize();
  }

  Status DrainJournal(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    {
      std::lock_guard<std::mutex> g(mu_);
      failures_ = 0;
    }
    Kick();
    for (;;) {
      Result<uint64_t> n = JournalBacklog();
      if (!n.ok()) return n.status();
      if (*n == 0) return Status::OK();
      if (!Pushing()) return Status::InvalidArgument("journal entries but no CDN write-back");
      if (std::chrono::steady_clock::now() >= deadline)
        return Status::Timeout(std::to_string(*n) + " CDN operations still journaled" + ": " +
                               LastPushError());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  size_t Waiting() const override { return waiting_.load(std::memory_order_relaxed); }
  const std::string& disk_dir() const override { return disk_dir_; }
  const std::string& notice() const override { return notice_; }

  ShmCache* l1() override { return l1_.get(); }
  RocksTier* l2() override { return l2_.get(); }
  CdnTier* l3() override { return l3_.get(); }

  Result<bool> Remove(std::string_view name) override {
    Result<CatalogEntry> e = Lookup(name);
    if (!e.ok()) return e.status();
    if (l1_) OVERLAY_RETURN_IF_ERROR(l1_->EraseRecord(ObjectKey::OfName(name)));
    if (l2_) OVERLAY_RETURN_IF_ERROR(l2_->EraseName(name));
    Result<std::vector<CatalogEntry>> names = List();
    if (!names.ok()) return names.status();
    for (const CatalogEntry& other : *names)
      if (other.key == e->key) return false;
    if (l1_) OVERLAY_RETURN_IF_ERROR(l1_->Erase(e->key));
    if (l2_) OVERLAY_RETURN_IF_ERROR(l2_->Erase(e->key));
    if (Pushing()) {
      OVERLAY_RETURN_IF_ERROR(l2_->JournalAdd(e->key, JournalOp::kDelete));
      Kick();
    }
    return true;
  }

 private:
  bool Pushing() const { return l2_ && l3_ && opt_.write == WriteMode::kBack; }

  Result<Blob> PutKeyed(const ObjectKey& key, std::string_view bytes, const PutOptions& put) {
    const ObjectMeta meta{bytes.size(), NowUnixMs(), ExpiryFor(put)};
    std::optional<Blob> stored;
    if (FitsL1(bytes.size())) {
      Result<Blob> have = l1_->Get(key);  // deduplication: no copy at all
      if (have.ok()) {
        stored = std::move(*have);
      } else {
        Result<WriteLoan> loan = LoanL1(bytes.size());
        if (!loan.ok() && !l2_) return loan.status();
        if (loan.ok()) {
          if (!bytes.empty()) std::memcpy(loan->data().data(), bytes.data(), bytes.size());
          Result<Blob> b = l1_->CommitBlob(std::move(*loan), meta.expiry_ms, &key, put.transient);
          if (!b.ok() && !l2_) return b.status();
          if (b.ok()) stored = std::move(*b);
        }
      }
    }
    OVERLAY_RETURN_IF_ERROR(StoreLower(key, bytes, meta, stored.has_value()));
    OVERLAY_RETURN_IF_ERROR(Finish(key, meta, put));
    if (!stored) return KeyedCopy(bytes, key);
    return std::move(*stored);
  }

  // Commits a filled loan under `*known`, or the key of its bytes when null.
  Result<Blob> CommitKeyed(PutLoan&& loan, const ObjectKey* known, const PutOptions& put) {
    const uint64_t expiry = ExpiryFor(put);
    if (!loan.in_l1_) {
      const ObjectKey key = known != nullptr ? *known : ObjectKey::Of(loan.heap_);
      const ObjectMeta meta{loan.heap_.size(), NowUnixMs(), expiry};
      OVERLAY_RETURN_IF_ERROR(StoreLower(key, loan.heap_, meta, false));
      OVERLAY_RETURN_IF_ERROR(Finish(key, meta, put));
      auto owned = std::make_shared<const std::string>(std::move(loan.heap_));
      std::string_view view(*owned);
      return Blob(std::move(owned), view, key);
    }
    const size_t size = loan.l1_.size();
    Result<Blob> blob = l1_->CommitBlob(std::move(loan.l1_), expiry, known, put.transient);
    if (!blob.ok()) return blob;
    const ObjectKey key = *blob->key();
    const ObjectMeta meta{size, NowUnixMs(), expiry};
    OVERLAY_RETURN_IF_ERROR(StoreLower(key, blob->view(), meta, true));
    OVERLAY_RETURN_IF_ERROR(Finish(key, meta, put));
    return blob;
  }

  // An L1 loan. Without a disk tier, a cache full of objects in use waits for
  // readers to let go (backpressure) instead of failing the put at once.
  Result<WriteLoan> LoanL1(size_t size) {
    Result<WriteLoan> l = l1_->Loan(size);
    if (l.ok() || l2_ || !(l.status().IsBusy() || l.status().IsTimeout())) return l;
    waiting_.fetch_add(1, std::memory_order_relaxed);
    const auto deadline = std::chrono::steady_clock::now() + kRoomWait;
    auto nap = std::chrono::milliseconds(1);
    while ((l.status().IsBusy() || l.status().IsTimeout()) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(nap);
      nap = std::min(nap * 2, std::chrono::milliseconds(50));
      l = l1_->Loan(size);
    }
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    if (!l.ok() && l.status().IsBusy())
      return Status::Busy(std::string(l.status().message()) + "; waited " +
                          std::to_string(kRoomWait.count()) +
                          " s for room (no disk tier: STORAGE.disk = none)");
    return l;
  }

  uint64_t ExpiryFor(const PutOptions& put) const {
    uint64_t ttl = put.ttl_ms.value_or(opt_.ttl_ms);
    return ttl == 0 ? 0 : NowUnixMs() + ttl;
  }

  // Objects above half the budget bypass L1 when L2 can hold them, so one huge
  // put does not flush the whole cache.
  bool FitsL1(size_t size) const {
    if (!l1_) return false;
    const uint64_t cap = l1_->Stats().capacity_bytes;
    return size + 64 <= (l2_ ? cap / 2 : cap);
  }

  Status TooLarge(size_t size) const {
    return Status::InvalidArgument("object of " + std::to_string(size) +
                                   " bytes does not fit the L1 budget and there is no disk tier (STORAGE.disk = none)");
  }

  Status StoreLower(const ObjectKey& key, std::string_view bytes, const ObjectMeta& meta,
                    bool in_l1) {
    if (!in_l1 && !l2_) return TooLarge(bytes.size());
    if (!l2_ || (in_l1 && opt_.write == WriteMode::kMemory)) return Status::OK();
    Status s = Pushing() ? l2_->PutJournaled(key, bytes, meta) : l2_->Put(key, bytes, meta);
    if (s.ok() && Pushing()) Kick();
    return s;
  }

  // NotFound when a local tier still holds the object past its expiry, or an L3
  // deletion of it (TTL) is pending in the journal.
  Status CheckNotExpired(const ObjectKey& key) {
    const uint64_t now = NowUnixMs();
    Status expired = Status::NotFound("object " + key.ToHex() + " has expired");
    if (l1_) {
      Result<ObjectMeta> m = l1_->Head(key);
      if (m.ok() && Expired(*m, now)) return expired;
    }
    if (l2_) {
      Result<ObjectMeta> m = l2_->Head(key);
      if (m.ok() && Expired(*m, now)) return expired;
      Result<std::optional<JournalOp>> op = l2_->JournalPending(key);
      if (op.ok() && *op == JournalOp::kDelete) return expired;
    }
    return Status::OK();
  }

  void Promote(const ObjectKey& key, std::string_view bytes, const Result<ObjectMeta>& meta) {
    if (!FitsL1(bytes.size())) return;
    ObjectMeta m = meta.ok() ? *meta : ObjectMeta{bytes.size(), NowUnixMs(), 0};
    (void)l1_->Put(key, bytes, m);
  }

  // Names live in L2 when there is one, so they never fill L1; without it
  // they are L1 records, and the object they name is pinned there, since its
  // L1 copy is the only one.
  Status StoreName(const CatalogEntry& e) {
    if (l1_) {
      Status kept = l1_->Keep(e.key);  // a named object is never just dropped
      if (!kept.ok() && !kept.IsNotFound()) return kept;
    }
    if (l2_) return l2_->PutName(e);
    if (!l1_) return Status::OK();
    Status pin = l1_->SetPinned(e.key, true);
    if (!pin.ok() && !pin.IsNotFound()) return pin;
    return l1_->PutRecord(ObjectKey::OfName(e.name), e.Encode(), e.expiry_ms);
  }

  Status Finish(const ObjectKey& key, const ObjectMeta& meta, const PutOptions& put) {
    if (put.pin && l1_) {
      Status s = l1_->SetPinned(key, true);
      if (!s.ok() && !s.IsNotFound()) return s;
    }
    if (put.name.empty()) return Status::OK();
    return StoreName(
        CatalogEntry{put.name, key, meta.size, meta.ctime_ms, meta.expiry_ms, put.pin});
  }

  void Kick() {
    {
      std::lock_guard<std::mutex> g(mu_);
      kick_ = true;
    }
    cv_.notify_all();
  }

  std::string LastPushError() {
    std::lock_guard<std::mutex> g(mu_);
    return last_push_error_;
  }

  // Pushes journaled operations to L3; false after the first failure.
  bool PushBatch(bool* more) {
    Result<std::vector<std::pair<ObjectKey, JournalOp>>> batch = l2_->JournalList(64);
    if (!batch.ok()) return false;
    *more = batch->size() == 64;
    for (const auto& [key, op] : *batch) {
      Status s;
      if (op == JournalOp::kDelete) {
        s = l3_->Erase(key);
      } else {
        Result<Blob> b = l2_->Get(key);
        if (!b.ok() && l1_) b = l1_->Get(key);
        if (!b.ok()) {
          // Expired or gone everywhere: nothing left to push.
          (void)l2_->JournalRemove(key);
          continue;
        }
        s = l3_->Put(key, b->view(), ObjectMeta{b->size(), 0, 0});
      }
      if (!s.ok()) {
        std::lock_guard<std::mutex> g(mu_);
        last_push_error_ = std::string(s.message());
        return false;
      }
      (void)l2_->JournalRemove(key);
    }
    return true;
  }

  void WorkerLoop() {
    using std::chrono::milliseconds;
    const uint64_t sweep_every =
        opt_.ttl_ms == 0 ? 0 : std::clamp<uint64_t>(opt_.ttl_ms / 4, 50, 1000);
    auto next_sweep = std::chrono::steady_clock::now();
    milliseconds delay(0);
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        // While the CDN fails, new puts do not cut the backoff short; only
        // DrainJournal does, by resetting failures_ before its kick.
        cv_.wait_for(lock, delay, [this] { return stop_ || (kick_ && failures_ == 0); });
        if (stop_) return;
        kick_ = false;
      }
      delay = milliseconds(1000);
      if (sweep_every != 0 && std::chrono::steady_clock::now() >= next_sweep) {
        (void)ExpireNow();
        next_sweep = std::chrono::steady_clock::now() + milliseconds(sweep_every);
      }
      if (sweep_every != 0) delay = std::min(delay, milliseconds(sweep_every));
      if (!Pushing()) continue;
      bool more = false;
      bool ok = PushBatch(&more);
      std::lock_guard<std::mutex> g(mu_);
      if (ok) {
        failures_ = 0;
        if (more) delay = milliseconds(0);
      } else {
        ++failures_;
        uint64_t backoff = opt_.retry_min_ms << std::min<uint64_t>(failures_ - 1, 20);
        delay = milliseconds(std::min(backoff, std::max(opt_.retry_min_ms, opt_.retry_max_ms)));
      }
    }
  }

  const StorageOptions opt_;
  std::string disk_dir_;
  std::string notice_;
  std::atomic<size_t> waiting_{0};
  std::shared_ptr<ShmCache> l1_;
  std::unique_ptr<RocksTier> l2_;
  std::unique_ptr<CdnTier> l3_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;            // guarded by mu_
  bool kick_ = false;            // guarded by mu_
  uint64_t failures_ = 0;        // guarded by mu_
  std::string last_push_error_;  // guarded by mu_
  std::thread worker_;
  const bool create_segment_;
};

Result<std::unique_ptr<DataContainer>> DataContainer::Open(const StorageOptions& options) {
  auto c = std::make_unique<DataContainerImpl>(options);
  OVERLAY_RETURN_IF_ERROR(c->Init());
  return std::unique_ptr<DataContainer>(std::move(c));
}

Result<std::unique_ptr<DataContainer>> DataContainer::OpenExisting(const StorageOptions& options) {
  auto c = std::make_unique<DataContainerImpl>(options, /*create_segment=*/false);
  OVERLAY_RETURN_IF_ERROR(c->Init());
  return std::unique_ptr<DataContainer>(std::move(c));
}

}  // namespace overlay::storage
