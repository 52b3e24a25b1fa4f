// SPDX-License-Identifier: Apache-2.0
// A reader of an L2 store that another process owns: a read-only RocksDB
// snapshot, reopened when a lookup misses so that what the owner stored since
// is found. RocksDB 7.8's secondary instances would catch up more cheaply but
// crash reading blob files, which hold every object above 64 KiB here.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "rocks_tier_internal.h"

namespace overlay::storage {
namespace {

using Clock = std::chrono::steady_clock;

// Opening races the owner's flushes and compactions (a file named in the
// MANIFEST may be gone by the time it is opened): a few retries, the naps
// doubling from 1 ms (about 0.1 s in all).
constexpr int kOpenAttempts = 8;

void NapBefore(int attempt) {
  if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1 << (attempt - 1)));
}
// The journal's listings, or a Head that misses, are answered from a
// snapshot at most this old (a Head per evicted object must not reopen the
// store each time).
constexpr auto kListFreshness = std::chrono::seconds(1);
constexpr auto kHeadFreshness = std::chrono::milliseconds(100);

// Whether a lookup's answer may be out of date: a miss, or a file the owner
// has since compacted away.
bool MayBeStale(const Status& s) {
  return s.IsNotFound() ||
         (s.IsIOError() && s.message().find("No such file") != std::string_view::npos);
}

class RefreshingReader final : public RocksTier {
 public:
  RefreshingReader(RocksTierOptions options, std::unique_ptr<RocksTier> first)
      : options_(std::move(options)), snap_(std::move(first)), opened_(Clock::now()) {}

  Status Put(const ObjectKey& key, std::string_view bytes, const ObjectMeta& meta) override {
    return Current()->Put(key, bytes, meta);
  }
  Status PutJournaled(const ObjectKey& key, std::string_view bytes,
                      const ObjectMeta& meta) override {
    return Current()->PutJournaled(key, bytes, meta);
  }
  Status Erase(const ObjectKey& key) override { return Current()->Erase(key); }
  Status JournalAdd(const ObjectKey& key, JournalOp op) override {
    return Current()->JournalAdd(key, op);
  }
  Status JournalRemove(const ObjectKey& key) override { return Current()->JournalRemove(key); }
  Status PutName(const CatalogEntry& entry) override { return Current()->PutName(entry); }
  Status EraseName(std::string_view name) override { return Current()->EraseName(name); }
  Result<std::vector<ObjectKey>> ExpireNow(uint64_t now_ms) override {
    return Current()->ExpireNow(now_ms);
  }
  Status Flush() override { return Current()->Flush(); }
  uint64_t ApproximateBytes() override { return Current()->ApproximateBytes(); }

  Result<Blob> Get(const ObjectKey& key) override {
    const Clock::time_point start = Clock::now();
    std::shared_ptr<RocksTier> snap = Current();
    Result<Blob> b = snap->Get(key);
    if (!b.ok() && MayBeStale(b.status())) {
      snap = Refresh(start);
      b = snap->Get(key);
    }
    if (!b.ok()) return b;
    // The bytes may pin the snapshot's block cache: keep the snapshot alive
    // as long as they are, across later reopens.
    struct Held {
      std::shared_ptr<RocksTier> snap;
      Blob blob;  // destroyed before `snap`
    };
    std::string_view view = b->view();
    return Blob(std::make_shared<Held>(Held{std::move(snap), std::move(*b)}), view);
  }

  Result<ObjectMeta> Head(const ObjectKey& key) override {
    Result<ObjectMeta> m = Current()->Head(key);
    if (m.ok() || !MayBeStale(m.status())) return m;
    return Refresh(Clock::now() - kHeadFreshness)->Head(key);
  }
  Result<CatalogEntry> GetName(std::string_view name) override {
    return Fresh<CatalogEntry>([&](RocksTier& t) { return t.GetName(name); });
  }
  Result<std::optional<JournalOp>> JournalPending(const ObjectKey& key) override {
    return Current()->JournalPending(key);
  }
  Result<std::vector<std::pair<ObjectKey, JournalOp>>> JournalList(size_t max) override {
    return Recent()->JournalList(max);
  }
  Result<uint64_t> JournalSize() override { return Recent()->JournalSize(); }
  // Always from a new snapshot: a name the owner has just moved from an L1
  // record into L2 must not be missed (DataContainer lists L1 records first).
  Result<std::vector<CatalogEntry>> ListNames() override {
    return Refresh(Clock::now())->ListNames();
  }

 private:
  std::shared_ptr<RocksTier> Current() {
    std::lock_guard<std::mutex> g(mu_);
    return snap_;
  }

  std::shared_ptr<RocksTier> Recent() { return Refresh(Clock::now() - kListFreshness); }

  // A snapshot opened after `since`: the current one if it is, else a new one
  // (the current one when reopening fails: a stale answer beats none).
  std::shared_ptr<RocksTier> Refresh(Clock::time_point since) {
    std::lock_guard<std::mutex> reopening(reopen_mu_);
    {
      std::lock_guard<std::mutex> g(mu_);
      if (opened_ > since) return snap_;
    }
    const Clock::time_point now = Clock::now();
    for (int attempt = 0; attempt < kOpenAttempts; ++attempt) {
      NapBefore(attempt);
      Result<std::unique_ptr<RocksTier>> t = OpenRocksSnapshot(options_);
      if (!t.ok()) continue;
      std::lock_guard<std::mutex> g(mu_);
      snap_ = std::move(*t);
      opened_ = now;
      return snap_;
    }
    return Current();
  }

  template <typename T, typename Lookup>
  Result<T> Fresh(Lookup lookup) {
    const Clock::time_point start = Clock::now();
    Result<T> r = lookup(*Current());
    if (r.ok() || !MayBeStale(r.status())) return r;
    return lookup(*Refresh(start));
  }

  const RocksTierOptions options_;
  std::mutex reopen_mu_;  // one reopen at a time; taken before mu_
  std::mutex mu_;
  std::shared_ptr<RocksTier> snap_;  // guarded by mu_
  Clock::time_point opened_;         // guarded by mu_: when snap_ was opened
};

}  // namespace

Result<std::unique_ptr<RocksTier>> NewRocksTierReader(const RocksTierOptions& options) {
  Result<std::unique_ptr<RocksTier>> first = OpenRocksSnapshot(options);
  for (int attempt = 1; !first.ok() && attempt < kOpenAttempts; ++attempt) {
    NapBefore(attempt);
    first = OpenRocksSnapshot(options);
  }
  if (!first.ok()) return first.status();
  return std::unique_ptr<RocksTier>(new RefreshingReader(options, std::move(*first)));
}

int RocksTierOwnerPid(const std::string& path) {
  // From /proc/locks rather than fcntl(F_GETLK): closing a descriptor of the
  // LOCK file would drop the lock if this very process held it.
  struct stat st {};
  if (::stat((path + "/LOCK").c_str(), &st) != 0) return 0;
  std::ostringstream want;
  want << std::hex;
  want.width(2);
  want.fill('0');
  want << major(st.st_dev) << ':';
  want.width(2);
  want << minor(st.st_dev) << ':' << std::dec << st.st_ino;
  std::ifstream locks("/proc/locks");
  std::string line;
  // "1: POSIX  ADVISORY  WRITE 4242 00:2e:1234 0 EOF"; waiters carry "->".
  for (int n = 0; n < 100000 && std::getline(locks, line); ++n) {
    std::istringstream in(line);
    std::string id, kind, mode, access, pid, file;
    if (!(in >> id >> kind >> mode >> access >> pid >> file) || kind == "->") continue;
    if (file == want.str()) return std::atoi(pid.c_str());
  }
  return 0;
}

}  // namespace overlay::storage
