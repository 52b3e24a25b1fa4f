// SPDX-License-Identifier: Apache-2.0
// L2 and L3 get benchmarks beside their raw baselines: RocksTier::Get (point
// lookup + header + verification) vs a raw RocksDB Get on an identically
// configured store, from the memtable (l2_get) and from files (l2_get_disk);
// CdnTier::Get (GET + XXH3 verification) vs a raw libcurl GET of the same URL
// from the same nginx, both reusing one connection.
#include <benchmark/benchmark.h>
#include <curl/curl.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "overlay/storage/cdn_tier.h"
#include "overlay/storage/rocks_tier.h"
#include "storage/nginx_server.h"

namespace overlay::bench {
namespace {

using storage::ObjectMeta;
using storage::testing::RandomBytes;

constexpr uint64_t kWorkingSet = 16ull << 20;  // fits the 64 MiB block cache: warm gets
constexpr uint64_t kColdCache = 1ull << 20;    // 1/16 of the working set: most gets read a file

constexpr size_t kSizes[] = {1024, 64 << 10, 1 << 20};

size_t Pick(uint64_t i, size_t n) { return static_cast<size_t>((i * 2654435761u) % n); }

// kMemtable: values written and read back from the memtable (warm, in RAM).
// kDisk: both stores flushed to SST and blob files, read through a small block
// cache, so most gets read (and checksum) a block from the OS page cache.
enum class L2Mode { kMemtable, kDisk };

struct L2State {
  storage::testing::TempDir dir;
  std::unique_ptr<storage::RocksTier> tier;
  std::unique_ptr<rocksdb::DB> raw;
  std::map<size_t, std::vector<ObjectKey>> keys;
};

std::unique_ptr<L2State> OpenL2(L2Mode mode) {
  auto st = std::make_unique<L2State>();
  const uint64_t cache = mode == L2Mode::kDisk ? kColdCache : 64ull << 20;
  storage::RocksTierOptions to;
  to.path = st->dir.path() + "/tier";
  to.block_cache = cache;
  Result<std::unique_ptr<storage::RocksTier>> t = storage::NewRocksTier(to);
  if (t.ok()) st->tier = std::move(*t);
  // The same table, cache and blob settings NewRocksTier uses.
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(cache);
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  o.enable_blob_files = true;
  o.min_blob_size = 64 << 10;
  rocksdb::DB* db = nullptr;
  if (rocksdb::DB::Open(o, st->dir.path() + "/raw", &db).ok()) st->raw.reset(db);
  return st;
}

// Each store is a static built by OpenL2, so it is destroyed before the RocksDB
// statics its opening created.
L2State& L2(L2Mode mode) {
  if (mode == L2Mode::kDisk) {
    static std::unique_ptr<L2State> disk = OpenL2(L2Mode::kDisk);
    return *disk;
  }
  static std::unique_ptr<L2State> memtable = OpenL2(L2Mode::kMemtable);
  return *memtable;
}

// Fills both stores with every size at once (and flushes them once, for
// kDisk), so whichever benchmark runs first sees the same files as the rest.
const std::vector<ObjectKey>& L2Keys(L2Mode mode, size_t size) {
  static std::mutex mu;
  std::lock_guard<std::mutex> g(mu);
  L2State& s = L2(mode);
  if (s.keys.empty() && s.tier && s.raw) {
    bool ok = true;
    for (size_t sz : kSizes) {
      const size_t n = std::clamp<size_t>(kWorkingSet / sz, 8, 4096);
      for (size_t i = 0; i < n && ok; ++i) {
        std::string data = RandomBytes(sz, sz * 7919 + i);
        ObjectKey k = ObjectKey::Of(data);
        ok = s.tier->Put(k, data, ObjectMeta{data.size(), 0, 0}).ok() &&
             s.raw
                 ->Put(rocksdb::WriteOptions(),
                       rocksdb::Slice(reinterpret_cast<const char*>(&k), 16), data)
                 .ok();
        s.keys[sz].push_back(k);
      }
    }
    if (ok && mode == L2Mode::kDisk)
      ok = s.tier->Flush().ok() && s.raw->Flush(rocksdb::FlushOptions()).ok();
    if (!ok) s.keys.clear();
  }
  return s.keys[size];
}

void L2GetOverlay(benchmark::State& state, L2Mode mode) {
  const std::vector<ObjectKey>& keys = L2Keys(mode, static_cast<size_t>(state.range(0)));
  if (keys.empty()) {
    state.SkipWithError("RocksDB did not open or flush");
    return;
  }
  storage::RocksTier* tier = L2(mode).tier.get();
  uint64_t i = 0;
  for (auto _ : state) {
    Result<Blob> b = tier->Get(keys[Pick(i++, keys.size())]);
    if (!b.ok()) {
      state.SkipWithError(std::string(b.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(b->data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * state.range(0)));
}

void L2GetRaw(benchmark::State& state, L2Mode mode) {
  const std::vector<ObjectKey>& keys = L2Keys(mode, static_cast<size_t>(state.range(0)));
  if (keys.empty()) {
    state.SkipWithError("RocksDB did not open or flush");
    return;
  }
  rocksdb::DB* raw = L2(mode).raw.get();
  rocksdb::PinnableSlice value;
  uint64_t i = 0;
  for (auto _ : state) {
    const ObjectKey& k = keys[Pick(i++, keys.size())];
    value.Reset();
    rocksdb::Status s = raw->Get(rocksdb::ReadOptions(), raw->DefaultColumnFamily(),
                                 rocksdb::Slice(reinterpret_cast<const char*>(&k), 16), &value);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(value.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * state.range(0)));
}

struct L3State {
  storage::testing::TempDir dir;
  std::unique_ptr<storage::testing::NginxServer> nginx;
  std::unique_ptr<storage::CdnTier> tier;
  std::map<size_t, std::vector<ObjectKey>> keys;
};

L3State* L3() {
  static std::unique_ptr<L3State> s = [] {
    auto st = std::make_unique<L3State>();
    Result<std::unique_ptr<storage::testing::NginxServer>> n =
        storage::testing::NginxServer::Start(st->dir.path());
    if (!n.ok()) return st;
    st->nginx = std::move(*n);
    Result<std::unique_ptr<storage::CdnTier>> t = storage::NewCdnTier({st->nginx->base_url()});
    if (t.ok()) st->tier = std::move(*t);
    return st;
  }();
  return s->tier ? s.get() : nullptr;
}

const std::vector<ObjectKey>* L3Keys(size_t size) {
  static std::mutex mu;
  std::lock_guard<std::mutex> g(mu);
  L3State* s = L3();
  if (s == nullptr) return nullptr;
  auto& keys = s->keys[size];
  if (!keys.empty()) return &keys;
  const size_t n = std::clamp<size_t>(kWorkingSet / size, 8, 256);
  for (size_t i = 0; i < n; ++i) {
    std::string data = RandomBytes(size, size * 104729 + i);
    ObjectKey k = ObjectKey::Of(data);
    if (!s->tier->Put(k, data, ObjectMeta{data.size(), 0, 0}).ok()) return nullptr;
    keys.push_back(k);
  }
  return &keys;
}

void L3GetOverlay(benchmark::State& state) {
  const std::vector<ObjectKey>* keys = L3Keys(static_cast<size_t>(state.range(0)));
  if (keys == nullptr) {
    state.SkipWithError("nginx is not installed or did not start");
    return;
  }
  uint64_t i = 0;
  for (auto _ : state) {
    Result<Blob> b = L3()->tier->Get((*keys)[Pick(i++, keys->size())]);
    if (!b.ok()) {
      state.SkipWithError(std::string(b.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(b->data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * state.range(0)));
}

size_t AppendCb(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

void L3GetRawCurl(benchmark::State& state) {
  const std::vector<ObjectKey>* keys = L3Keys(static_cast<size_t>(state.range(0)));
  if (keys == nullptr) {
    state.SkipWithError("nginx is not installed or did not start");
    return;
  }
  std::vector<std::string> urls;
  for (const ObjectKey& k : *keys) urls.push_back(L3()->tier->UrlOf(k));
  CURL* curl = curl_easy_init();
  std::string body;
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendCb);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  uint64_t i = 0;
  for (auto _ : state) {
    body.clear();
    curl_easy_setopt(curl, CURLOPT_URL, urls[Pick(i++, urls.size())].c_str());
    long code = 0;
    if (curl_easy_perform(curl) != CURLE_OK ||
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200) {
      state.SkipWithError("raw GET failed");
      break;
    }
    benchmark::DoNotOptimize(body.data());
  }
  curl_easy_cleanup(curl);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * state.range(0)));
}

// Single runs swing by ±30 % here: five repetitions each, compared by median.
void Sizes(benchmark::internal::Benchmark* b) {
  for (size_t s : kSizes) b->Arg(static_cast<int64_t>(s));
  b->Repetitions(5)->DisplayAggregatesOnly();
}

BENCHMARK_CAPTURE(L2GetOverlay, memtable, L2Mode::kMemtable)
    ->Name("l2_get/overlay")
    ->Apply(Sizes)
    ->UseRealTime();
BENCHMARK_CAPTURE(L2GetRaw, memtable, L2Mode::kMemtable)
    ->Name("l2_get/baseline_rocksdb")
    ->Apply(Sizes)
    ->UseRealTime();
BENCHMARK_CAPTURE(L2GetOverlay, disk, L2Mode::kDisk)
    ->Name("l2_get_disk/overlay")
    ->Apply(Sizes)
    ->UseRealTime();
BENCHMARK_CAPTURE(L2GetRaw, disk, L2Mode::kDisk)
    ->Name("l2_get_disk/baseline_rocksdb")
    ->Apply(Sizes)
    ->UseRealTime();
BENCHMARK(L3GetOverlay)->Name("l3_get/overlay")->Apply(Sizes)->UseRealTime();
BENCHMARK(L3GetRawCurl)->Name("l3_get/baseline_curl")->Apply(Sizes)->UseRealTime();

}  // namespace
}  // namespace overlay::bench
