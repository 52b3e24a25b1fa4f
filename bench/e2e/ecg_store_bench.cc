// SPDX-License-Identifier: Apache-2.0
// e2e_ecg/: configs/ecg.cfg (sensor_simulator -> qrs_detector -> ecg_visualizer)
// run in-process by RunPipeline, through a fresh data container (L1 segment and
// a temporary disk tier, as `overlay run` sets it up) beside the same run
// without one (`--no-store`, the baseline). Items are tasks, so the ratio is
// tasks/s with the store over tasks/s without (project target: >= 0.95x).
// store_warm_l1 runs through one container whose L1 pages were all written
// before the first round, as the baseline's heap is warm from earlier rounds
// (docs/benchmarks.md, "What e2e_ecg compares").
//
// Inputs: the first kRecords MIT-BIH records of OVERLAY_ECG_DATA (30 min each),
// or, when that folder is absent, as many 30-minute synthetic patients.
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "overlay/config.h"
#include "overlay/executor.h"
#include "overlay/storage/container_store.h"
#include "overlay/storage/data_container.h"
#include "overlay/storage/shm_cache.h"

namespace overlay::bench {
namespace {

namespace fs = std::filesystem;

constexpr int kRecords = 8;

// A temporary directory removed with everything in it when dropped.
struct TempDir {
  explicit TempDir(const std::string& tag) {
    std::string tmpl = (fs::temp_directory_path() / ("ovl-bench-" + tag + "-XXXXXX")).string();
    if (mkdtemp(tmpl.data()) != nullptr) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path;  // empty when it could not be made
};

// The input folder of every round: <record>/signal.txt links to the first
// kRecords records (the pipeline reads only its input_dir), or synthetic
// patients' spec files. Made once, read once so no round pays for a cold page
// cache, removed at exit; empty path on failure.
const TempDir& Inputs() {
  static const TempDir dir("e2e-in");
  static const bool filled = [] {
    if (dir.path.empty()) return false;
    std::error_code ec;
    std::vector<fs::path> records;
    for (const auto& e : fs::directory_iterator(OVERLAY_ECG_DATA, ec))
      if (fs::is_regular_file(e.path() / "signal.txt")) records.push_back(e.path());
    std::sort(records.begin(), records.end());
    if (records.size() > kRecords) records.resize(kRecords);
    for (const fs::path& r : records) {
      fs::create_directory(fs::path(dir.path) / r.filename(), ec);
      fs::create_symlink(r / "signal.txt", fs::path(dir.path) / r.filename() / "signal.txt", ec);
      std::ifstream in(r / "signal.txt", std::ios::binary);
      std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      benchmark::DoNotOptimize(all.data());
    }
    for (int i = records.empty() ? 0 : kRecords; i < kRecords; ++i)
      std::ofstream(fs::path(dir.path) / ("patient" + std::to_string(i) + ".ecg"))
          << "# overlay-synthetic-ecg\nduration_s = 1800\nhr_bpm = 72\nnoise_mv = 0.03\nseed = "
          << i + 1 << "\n";
    return true;
  }();
  (void)filled;
  return dir;
}

long MinorFaults() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

// CPU seconds of every thread of this process, user and system: on a shared
// machine, where wall time mostly measures the neighbours, the store's cost
// shows here.
double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Whole runs take seconds and the machine's speed drifts: rounds, each the
// baseline and then the store runs, one pipeline run each; the ratio is the
// median of the per-round ratios (RatioReporter).
constexpr int kRounds = 5;

// Where a run keeps its data: process memory (the baseline), a fresh L1
// segment per round, or one segment for every round whose pages have all been
// written once before the first round.
enum class Store { kNone, kFreshSegment, kWarmSegment };

// A data container, its segment and disk tier, removed when dropped.
struct BenchContainer {
  BenchContainer(const StorageOptions& base, const std::string& tag)
      : disk("e2e-disk"), segment("ovl-bench-e2e-" + tag + "-" + std::to_string(getpid())) {
    if (disk.path.empty()) {
      error = "cannot make the disk directory";
      return;
    }
    StorageOptions so = base;
    so.segment = segment;
    so.disk = disk.path;
    Result<std::unique_ptr<storage::DataContainer>> c = storage::DataContainer::Open(so);
    if (!c.ok()) {
      error = c.status().ToString();
      return;
    }
    container = std::move(*c);
    store = std::make_unique<storage::ContainerStore>(container.get());
  }
  ~BenchContainer() {
    store.reset();
    if (!container) return;
    container.reset();
    (void)storage::ShmCache::Remove(segment);
  }
  BenchContainer(const BenchContainer&) = delete;
  BenchContainer& operator=(const BenchContainer&) = delete;

  // Writes every page of L1's data area once (loans that are then dropped).
  // A page's first write in a process is far dearer than the next ones (on
  // the development VM ~7 us per 4 KiB page: 64 MiB take 110-130 ms the first
  // time, 4 ms after), and the baseline's heap is warm from earlier rounds:
  // this lets the store's run be compared with the same memory state.
  void WarmL1() {
    storage::ShmCache* l1 = container->l1();
    constexpr size_t kPiece = size_t{4} << 20;
    std::vector<storage::WriteLoan> loans;
    const uint64_t most = l1->Stats().capacity_bytes / kPiece + 1;
    for (uint64_t i = 0; i < most; ++i) {
      Result<storage::WriteLoan> loan = l1->Loan(kPiece);
      if (!loan.ok()) break;
      for (size_t at = 0; at < kPiece; at += 4096) loan->data()[at] = 0;
      loans.push_back(std::move(*loan));
    }
  }

  TempDir disk;
  std::string segment;
  std::string error;  // empty once open
  std::unique_ptr<storage::DataContainer> container;
  std::unique_ptr<storage::ContainerStore> store;
};

void RunEcg(benchmark::State& state, Store where) {
  Result<PipelineSpec> spec = LoadConfig(OVERLAY_ECG_CONFIG);
  if (!spec.ok()) return state.SkipWithError(spec.status().ToString().c_str());
  if (Inputs().path.empty()) return state.SkipWithError("cannot make the input folder");
  ExecutorOptions opt;
  opt.input_dir = Inputs().path;

  // kFreshSegment: a private segment and disk tier per round, so no round
  // finds another's objects; removed after the round, outside the timing.
  // kWarmSegment: one for every round, warmed when first used; a round finds
  // there what earlier rounds left: 8 named results, stored again without a
  // copy (transient objects left L1 when their last reader let go).
  std::unique_ptr<BenchContainer> fresh;
  // Dropped after the last round, not at exit, when the tiers' statics may
  // be gone already.
  static std::unique_ptr<BenchContainer> warm;
  static int warm_rounds = 0;
  BenchContainer* c = nullptr;
  if (where == Store::kFreshSegment) {
    fresh = std::make_unique<BenchContainer>(spec->storage.options, "fresh");
    c = fresh.get();
  } else if (where == Store::kWarmSegment) {
    if (!warm) {
      warm = std::make_unique<BenchContainer>(spec->storage.options, "warm");
      if (warm->error.empty()) warm->WarmL1();
    }
    c = warm.get();
  }
  struct DropWarm {
    bool last;
    ~DropWarm() {
      if (last) warm.reset();
    }
  } drop_warm{where == Store::kWarmSegment && ++warm_rounds == kRounds};
  if (c != nullptr) {
    if (!c->error.empty()) return state.SkipWithError(c->error.c_str());
    opt.store = c->store.get();
  }

  int64_t tasks = 0;
  const long faults_before = MinorFaults();
  const double cpu_before = CpuSeconds();
  for (auto _ : state) {
    Result<RunReport> r = RunPipeline(*spec, opt);
    if (!r.ok()) return state.SkipWithError(r.status().ToString().c_str());
    if (!r->ok()) return state.SkipWithError(r->failures.front().status.ToString().c_str());
    tasks += static_cast<int64_t>(r->tasks_ok);
  }
  state.SetItemsProcessed(tasks);
  state.counters["cpu_s"] = benchmark::Counter(CpuSeconds() - cpu_before,
                                               benchmark::Counter::kAvgIterations);
  state.counters["records"] = kRecords;
  // Page faults taken during the runs: the store's L1 is faulted in when it
  // is opened, so its puts should add none.
  state.counters["minor_faults"] = benchmark::Counter(
      static_cast<double>(MinorFaults() - faults_before), benchmark::Counter::kAvgIterations);
}

const bool registered = [] {
  for (int round = 0; round < kRounds; ++round) {
    for (auto [name, where] : {std::pair{"e2e_ecg/baseline_no_store", Store::kNone},
                               std::pair{"e2e_ecg/store", Store::kFreshSegment},
                               std::pair{"e2e_ecg/store_warm_l1", Store::kWarmSegment}})
      benchmark::RegisterBenchmark(name, RunEcg, where)
          ->Iterations(1)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
}  // namespace overlay::bench
