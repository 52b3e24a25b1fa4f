// SPDX-License-Identifier: Apache-2.0
// The data layer's object lifecycle, end to end through the `overlay` binary:
// repeated runs on one segment lose nothing and leave bounded state, a small
// L1 either spills to the default disk tier or holds the run back, and large
// objects round-trip with the default set-up.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include "common/overlay_cli.h"
#include "overlay/object_key.h"
#include "overlay/process_runner.h"
#include "overlay/storage/container_store.h"
#include "overlay/storage/data_container.h"
#include "overlay/storage/shm_cache.h"
#include "overlay/storage_options.h"

namespace overlay {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kEcg = fs::path(OVERLAY_SHARED_DIR) / "ecg";

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    segment_ = "overlay-life-" + std::to_string(::getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = fs::temp_directory_path() / segment_;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::remove_all(dir_);
    fs::remove(fs::path("/dev/shm") / segment_);
    fs::remove_all(DefaultDiskDir(segment_));
  }

  RunResult Overlay(const std::vector<std::string>& args) {
    return testing::RunOverlay(args, OVERLAY_SOURCE_DIR, 600'000);
  }

  // configs/ecg.cfg with a STORAGE block of `storage` lines.
  std::string Config(const std::string& storage) {
    std::ifstream in(fs::path(OVERLAY_SOURCE_DIR) / "configs/ecg.cfg");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    fs::path p = dir_ / "ecg.cfg";
    std::ofstream(p) << text << "\n[STORAGE]\n" << storage << "[END]\n";
    return p.string();
  }

  // `overlay run` on `input`'s records; returns its output with the exit code checked.
  // --rerun: every run executes its tasks, rather than reusing the last run's.
  std::string Run(const std::string& config, const fs::path& input, int want_exit = 0,
                  std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"run",       config, "--input", input.string(),
                                     "--include", "signal.txt", "--segment", segment_,
                                     "--quiet",   "--rerun"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = Overlay(args);
    EXPECT_EQ(r.exit_code, want_exit) << r.err.tail;
    EXPECT_THAT(r.err.tail, Not(HasSubstr("in no tier")));
    return r.out.tail + r.err.tail;
  }

  static long Counter(const std::string& out, const std::string& name) {
    std::smatch m;
    if (!std::regex_search(out, m, std::regex(name + ": ([0-9]+)"))) return -1;
    return std::stol(m[1]);
  }

  static long Failed(const std::string& out) {
    std::smatch m;
    if (!std::regex_search(out, m, std::regex("tasks ok, ([0-9]+) failed"))) return -1;
    return std::stol(m[1]);
  }

  // Copies of the records with every sample scaled by `factor`: new bytes.
  fs::path ScaledCopy(double factor, int run) {
    fs::path root = dir_ / ("scaled-" + std::to_string(run));
    for (const auto& rec : fs::directory_iterator(kEcg)) {
      if (!fs::exists(rec.path() / "signal.txt")) continue;
      fs::create_directories(root / rec.path().filename());
      std::ifstream in(rec.path() / "signal.txt");
      FILE* out = std::fopen((root / rec.path().filename() / "signal.txt").c_str(), "w");
      std::string line;
      while (std::getline(in, line)) {
        if (line.starts_with('#'))
          std::fprintf(out, "%s\n", line.c_str());
        else
          std::fprintf(out, "%.3f\n", std::stod(line) * factor);
      }
      std::fclose(out);
    }
    return root;
  }

  // Bytes in the segment nobody can evict: pinned objects, catalog records,
  // objects still read.
  struct Held {
    uint64_t bytes = 0;
    size_t records = 0;
  };
  Held HeldInL1() {
    storage::ShmCacheOptions o;
    o.segment = segment_;
    auto c = storage::ShmCache::Open(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    Held h;
    if (!c.ok()) return h;
    for (const storage::ShmEntry& e : (*c)->List()) {
      if (e.record) ++h.records;
      if (e.pinned || e.record || e.readers > 0) h.bytes += e.meta.size;
    }
    return h;
  }

  size_t Names() {
    RunResult ls = Overlay({"ls", "--segment", segment_});
    EXPECT_EQ(ls.exit_code, 0) << ls.err.tail;
    return static_cast<size_t>(std::count(ls.out.tail.begin(), ls.out.tail.end(), '\n'));
  }

  std::string segment_;
  fs::path dir_;
};

TEST_F(LifecycleTest, RepeatedRunsOnOneDefaultSegmentLoseNothing) {
  if (!fs::exists(kEcg / "101/signal.txt"))
    GTEST_SKIP() << "needs the MIT-BIH records in " << kEcg;
  const std::string config = Config("");
  long beats = -1;
  size_t first_names = 0;
  for (int run = 0; run < 20; ++run) {
    std::string out = Run(config, kEcg);
    EXPECT_EQ(Failed(out), 0) << "run " << run << "\n" << out;
    if (beats < 0) beats = Counter(out, "beats");
    EXPECT_EQ(Counter(out, "beats"), beats) << "run " << run << ": same data, other beats";
    fs::path scaled = ScaledCopy(1.0 + 0.01 * (run + 1), run);
    std::string sout = Run(config, scaled);
    EXPECT_EQ(Failed(sout), 0) << "scaled run " << run << "\n" << sout;
    EXPECT_GT(Counter(sout, "beats"), beats * 9 / 10) << "scaled run " << run;
    fs::remove_all(scaled);
    const size_t names = Names();
    const Held held = HeldInL1();
    if (run == 0) first_names = names;
    std::printf("after run %2d: %zu names, %zu L1 records, %llu bytes held in L1\n", run, names,
                held.records, static_cast<unsigned long long>(held.bytes));
    // Names are results and inputs, replaced run after run; with a disk tier
    // none of them lives in L1, and nothing stays held after a run.
    EXPECT_EQ(names, first_names) << "run " << run;
    EXPECT_EQ(held.records, 0u) << "run " << run;
    EXPECT_EQ(held.bytes, 0u) << "run " << run;
  }
}

TEST_F(LifecycleTest, SmallL1WithTheDefaultDiskTierEqualsNoStore) {
  if (!fs::exists(kEcg / "101/signal.txt"))
    GTEST_SKIP() << "needs the MIT-BIH records in " << kEcg;
  const std::string config = Config("memory = 16MiB\n");
  std::string out = Run(config, kEcg, 0, {"--out", (dir_ / "store").string()});
  EXPECT_EQ(Failed(out), 0) << out;
  std::string ref = Run(config, kEcg, 0, {"--out", (dir_ / "heap").string(), "--no-store"});
  EXPECT_EQ(Counter(out, "beats"), Counter(ref, "beats"));
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "heap")) {
    if (!e.is_regular_file() || e.path().filename() == "manifest.json") continue;
    fs::path twin = dir_ / "store" / fs::relative(e.path(), dir_ / "heap");
    ASSERT_TRUE(fs::exists(twin)) << twin;
    std::ifstream a(e.path(), std::ios::binary), b(twin, std::ios::binary);
    EXPECT_TRUE(std::equal(std::istreambuf_iterator<char>(a), {}, std::istreambuf_iterator<char>(b)))
        << twin << " differs from the --no-store run";
    ++files;
  }
  EXPECT_EQ(files, 22u);
}

TEST_F(LifecycleTest, SmallL1WithoutDiskCompletesOrIsRefusedUpFront) {
  if (!fs::exists(kEcg / "101/signal.txt"))
    GTEST_SKIP() << "needs the MIT-BIH records in " << kEcg;
  const std::string config = Config("memory = 16MiB\ndisk = none\n");
  RunResult r = Overlay({"run", config, "--input", kEcg.string(), "--include", "signal.txt",
                         "--segment", segment_, "--quiet"});
  EXPECT_THAT(r.err.tail, Not(HasSubstr("in no tier")));
  if (r.exit_code == 2) {
    // Refused before it started: it says why, and nothing ran.
    EXPECT_THAT(r.err.tail, HasSubstr("STORAGE.memory"));
    EXPECT_THAT(r.out.tail, Not(HasSubstr("tasks ok")));
  } else {
    EXPECT_EQ(r.exit_code, 0) << r.err.tail;
    EXPECT_EQ(Failed(r.out.tail), 0) << r.out.tail;
  }
  // A budget too small for even one record is refused up front, naming it.
  const std::string tiny = Config("memory = 4MiB\ndisk = none\n");
  RunResult t = Overlay({"run", tiny, "--input", kEcg.string(), "--include", "signal.txt",
                         "--segment", segment_ + "-tiny", "--quiet"});
  fs::remove(fs::path("/dev/shm") / (segment_ + "-tiny"));
  EXPECT_EQ(t.exit_code, 2) << t.err.tail;
  EXPECT_THAT(t.err.tail, HasSubstr("raise STORAGE.memory"));
}

TEST_F(LifecycleTest, LargeObjectRoundTripsWithTheDefaultSetUp) {
  const fs::path big = dir_ / "big.bin";
  {
    std::ofstream f(big, std::ios::binary);
    std::string block(1 << 20, '\0');
    for (int i = 0; i < 256; ++i) {
      for (size_t j = 0; j < block.size(); j += 4096) block[j] = static_cast<char>(i + j);
      f.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
  }
  RunResult put = Overlay({"put", big.string(), "--name", "big", "--segment", segment_});
  ASSERT_EQ(put.exit_code, 0) << put.err.tail;
  RunResult get = Overlay({"get", "big", "-o", (dir_ / "back.bin").string(), "--segment", segment_});
  ASSERT_EQ(get.exit_code, 0) << get.err.tail;
  std::ifstream a(big, std::ios::binary), b(dir_ / "back.bin", std::ios::binary);
  EXPECT_TRUE(std::equal(std::istreambuf_iterator<char>(a), {}, std::istreambuf_iterator<char>(b)));
  EXPECT_TRUE(fs::exists(DefaultDiskDir(segment_))) << "the default disk tier took it";
}

// One content hash per stored object on a node, whichever way it is stored.
TEST_F(LifecycleTest, EachStoredObjectIsHashedOnce) {
  StorageOptions o;
  o.segment = segment_;
  auto c = storage::DataContainer::Open(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  storage::ContainerStore store(c->get());
  const uint64_t before = ObjectKey::HashCount();
  std::vector<Blob> kept;
  for (int i = 0; i < 50; ++i) {
    auto b = store.Put("object " + std::to_string(i));
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE(b->key().has_value());
    ASSERT_TRUE(store.Name("n/" + std::to_string(i), *b).ok());
    kept.push_back(*b);
  }
  for (int i = 0; i < 50; ++i) {
    auto space = store.Allocate(64);
    ASSERT_TRUE(space.ok());
    std::fill(space->data().begin(), space->data().end(), static_cast<char>(i));
    auto b = std::move(*space).Publish();
    ASSERT_TRUE(b.ok());
    kept.push_back(*b);
  }
  EXPECT_EQ(ObjectKey::HashCount() - before, 100u);
  // Verified bytes (a peer's object checked on arrival) are not hashed again;
  // gets hand back the key they were asked for.
  const std::string peer = "from another node";
  const ObjectKey key = ObjectKey::Of(peer);
  const uint64_t mid = ObjectKey::HashCount();
  auto b = store.PutVerified(key, peer);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(store.Get(key).ok());
  EXPECT_EQ(*store.Get(key)->key(), key);
  EXPECT_EQ(ObjectKey::HashCount() - mid, 0u);
}

}  // namespace
}  // namespace overlay
