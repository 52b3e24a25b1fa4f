// SPDX-License-Identifier: Apache-2.0
// Executor behaviour with small native test functions: streaming without a
// stage barrier, per-stream order, parallel streams, failure isolation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "overlay/executor.h"

namespace overlay {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A temporary input directory with one file per stream.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("overlay-exec-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  void Write(const std::string& name, const std::string& bytes) const {
    fs::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name, std::ios::binary) << bytes;
  }
  std::string str() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// A function defined by lambdas, so each test states its behaviour inline.
class LambdaFunction : public Function {
 public:
  using ProcessFn = std::function<Status(Task&)>;
  LambdaFunction(ProcessFn process, ProcessFn end = nullptr, bool stateful = false)
      : process_(std::move(process)), end_(std::move(end)), stateful_(stateful) {}
  std::unique_ptr<StreamState> NewStream(std::string_view) const override {
    return stateful_ ? std::make_unique<StreamState>() : nullptr;
  }
  Status Process(Task& t) const override { return process_(t); }
  Status EndStream(Task& t) const override { return end_ ? end_(t) : Status::OK(); }

 private:
  ProcessFn process_, end_;
  bool stateful_;
};

// Splits an input into one output per line.
Status SplitLines(Task& t) {
  std::string_view v = t.inputs[0].data.view();
  int n = 0;
  while (!v.empty()) {
    size_t nl = v.find('\n');
    t.outputs.push_back({t.stream + "_" + std::to_string(n++) + ".txt",
                         Blob::FromString(std::string(v.substr(0, nl)))});
    if (nl == std::string_view::npos) break;
    v.remove_prefix(nl + 1);
  }
  return Status::OK();
}

PipelineSpec TwoStages(const std::string& dir) {
  auto spec = ParseConfigText(
      "[FUNCTION]\nname = split\nbuiltin = test\n[END]\n"
      "[FUNCTION]\nname = consume\nbuiltin = test\n[END]\n"
      "[STAGE]\nname = s1\nsource = " + dir + "\ntransformation = split\n[END]\n"
      "[STAGE]\nname = s2\nsource = s1\ntransformation = consume\n[END]\n",
      "t.cfg", ".");
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  return *spec;
}

ExecutorOptions WithFunctions(std::map<std::string, std::shared_ptr<Function>> fns, int workers = 4) {
  ExecutorOptions opt;
  opt.workers = workers;
  opt.make_function = [fns](const FunctionDecl& d) -> Result<std::unique_ptr<Function>> {
    std::shared_ptr<Function> f = fns.at(d.name);
    // Share one instance: tests inspect its effects.
    struct Ref : Function {
      std::shared_ptr<Function> f;
      std::unique_ptr<StreamState> NewStream(std::string_view s) const override { return f->NewStream(s); }
      Status Process(Task& t) const override { return f->Process(t); }
      Status EndStream(Task& t) const override { return f->EndStream(t); }
    };
    auto r = std::make_unique<Ref>();
    r->f = f;
    return std::unique_ptr<Function>(std::move(r));
  };
  return opt;
}

TEST(Executor, ItemsOfAStreamArriveInOrderAndStreamsEndOnce) {
  TempDir in;
  constexpr int kStreams = 8, kLines = 300;
  for (int s = 0; s < kStreams; ++s) {
    std::string lines;
    for (int i = 0; i < kLines; ++i) lines += std::to_string(i) + "\n";
    in.Write("f" + std::to_string(s) + ".txt", lines);
  }
  std::mutex mu;
  std::map<std::string, std::vector<int>> seen;
  std::map<std::string, int> ends;
  auto consume = std::make_shared<LambdaFunction>(
      [&](Task& t) {
        std::lock_guard lock(mu);
        seen[t.stream].push_back(std::stoi(std::string(t.inputs[0].data.view())));
        t.counters["lines"] += 1;
        return Status::OK();
      },
      [&](Task& t) {
        std::lock_guard lock(mu);
        ++ends[t.stream];
        EXPECT_EQ(seen[t.stream].size(), static_cast<size_t>(kLines)) << "end before last item";
        return Status::OK();
      },
      true);
  auto report = RunPipeline(TwoStages(in.str()),
                            WithFunctions({{"split", std::make_shared<LambdaFunction>(SplitLines)},
                                           {"consume", consume}}));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->streams, static_cast<size_t>(kStreams));
  EXPECT_EQ(report->counters["lines"], kStreams * kLines);
  ASSERT_EQ(seen.size(), static_cast<size_t>(kStreams));
  for (const auto& [stream, order] : seen) {
    std::vector<int> expected(kLines);
    for (int i = 0; i < kLines; ++i) expected[i] = i;
    EXPECT_EQ(order, expected) << stream;
    EXPECT_EQ(ends[stream], 1) << stream;
  }
}

// Stage 2 must see stream "a" while stage 1 is still busy with stream "b":
// a stage-at-a-time executor would time out here.
TEST(Executor, ItemsStreamWithoutStageBarrier) {
  TempDir in;
  in.Write("a.txt", "x\n");
  in.Write("b.txt", "y\n");
  std::mutex mu;
  std::condition_variable cv;
  bool a_reached_stage2 = false;
  bool b_waited_ok = false;
  auto split = std::make_shared<LambdaFunction>([&](Task& t) {
    if (t.stream == "b") {
      std::unique_lock lock(mu);
      b_waited_ok = cv.wait_for(lock, 20s, [&] { return a_reached_stage2; });
    }
    return SplitLines(t);
  });
  auto consume = std::make_shared<LambdaFunction>([&](Task& t) {
    if (t.stream == "a") {
      std::lock_guard lock(mu);
      a_reached_stage2 = true;
      cv.notify_all();
    }
    return Status::OK();
  });
  auto report = RunPipeline(TwoStages(in.str()),
                            WithFunctions({{"split", split}, {"consume", consume}}));
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(b_waited_ok) << "stage 2 did not run stream a while stage 1 held stream b";
}

// Two streams rendezvous inside the same stage: only possible if they run at once.
TEST(Executor, DifferentStreamsRunInParallel) {
  TempDir in;
  in.Write("a.txt", "1\n");
  in.Write("b.txt", "2\n");
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;
  bool met = true;
  auto consume = std::make_shared<LambdaFunction>([&](Task&) {
    std::unique_lock lock(mu);
    ++inside;
    cv.notify_all();
    if (!cv.wait_for(lock, 20s, [&] { return inside >= 2; })) met = false;
    return Status::OK();
  });
  auto report = RunPipeline(TwoStages(in.str()),
                            WithFunctions({{"split", std::make_shared<LambdaFunction>(SplitLines)},
                                           {"consume", consume}}, 2));
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(met) << "the two streams never ran at the same time";
}

TEST(Executor, FailingItemIsReportedAndOthersContinue) {
  TempDir in;
  for (const char* f : {"a.txt", "b.txt", "c.txt"}) in.Write(f, "1\n2\n3\n");
  std::atomic<int> consumed{0};
  std::mutex mu;
  std::set<std::string> ended;
  auto split = std::make_shared<LambdaFunction>([&](Task& t) {
    if (t.stream == "b") return Status::Failed("bad file b.txt: stderr says no");
    return SplitLines(t);
  });
  auto consume = std::make_shared<LambdaFunction>(
      [&](Task& t) {
        if (t.inputs[0].data.view() == "2" && t.stream == "c") return Status::Timeout("item 2 hung");
        ++consumed;
        return Status::OK();
      },
      [&](Task& t) {
        std::lock_guard lock(mu);
        ended.insert(t.stream);
        return Status::OK();
      },
      true);
  auto report =
      RunPipeline(TwoStages(in.str()), WithFunctions({{"split", split}, {"consume", consume}}));
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok());
  EXPECT_EQ(report->tasks_failed, 2u);
  EXPECT_EQ(consumed.load(), 5);  // a: 3, c: 2
  ASSERT_EQ(report->failures.size(), 2u);
  std::map<std::string, ItemFailure> by_stream;
  for (const auto& f : report->failures) by_stream[f.stream] = f;
  EXPECT_EQ(by_stream["b"].stage, "s1");
  EXPECT_EQ(by_stream["b"].item, "b.txt");
  EXPECT_THAT(std::string(by_stream["b"].status.message()), ::testing::HasSubstr("stderr says no"));
  EXPECT_EQ(by_stream["c"].stage, "s2");
  EXPECT_TRUE(by_stream["c"].status.IsTimeout());
  // A stream with no data reaching a stage is not "finished" there.
  EXPECT_EQ(ended, (std::set<std::string>{"a", "c"}));
}

// A cancellation mid-run: nothing more is read, the failing task counts as
// cancelled, and only the streams that finished keep their files in out_dir.
TEST(Executor, CancelStopsFeedingAndDropsUnfinishedStreams) {
  TempDir in, out;
  for (const char* f : {"a.txt", "b.txt", "c.txt", "d.txt", "e.txt"}) in.Write(f, "1\n2\n3\n");
  std::atomic<bool> cancel{false};
  auto split = std::make_shared<LambdaFunction>(SplitLines);
  auto consume = std::make_shared<LambdaFunction>([&](Task& t) {
    if (t.stream == "c" && t.inputs[0].data.view() == "2") {
      cancel = true;  // as the signal thread would, while this task runs
      return Status::Failed("killed by SIGTERM (signal 15)");
    }
    t.outputs.push_back({t.inputs[0].name, Blob::FromString("ok")});
    return Status::OK();
  });
  ExecutorOptions opt = WithFunctions({{"split", split}, {"consume", consume}}, 1);
  opt.max_streams = 1;  // one stream at a time: a and b finish before c starts
  opt.out_dir = out.str();
  opt.cancel = &cancel;
  auto report = RunPipeline(TwoStages(in.str()), opt);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->cancelled);
  EXPECT_FALSE(report->ok());
  EXPECT_EQ(report->tasks_failed, 0u);
  EXPECT_EQ(report->tasks_cancelled, 2u);  // c's items 2 (failed after the cancel) and 3
  EXPECT_EQ(report->streams_done, 2u);
  EXPECT_EQ(report->unfinished_streams, std::vector<std::string>{"c"});
  EXPECT_EQ(report->streams_not_started, 2u);
  EXPECT_EQ(report->outputs.size(), 6u);  // a and b: 3 each
  for (const auto& o : report->outputs) EXPECT_THAT(o, ::testing::Not(::testing::HasSubstr("/c/")));
  EXPECT_TRUE(fs::exists(fs::path(out.str()) / "s2" / "a" / "a_0.txt"));
  EXPECT_FALSE(fs::exists(fs::path(out.str()) / "s2" / "c"));
}

TEST(Executor, FanInStageEndsAfterAllSourcesAndWritesResults) {
  TempDir in, out;
  in.Write("sub/r1.txt", "a\nb\n");
  in.Write("r2.txt", "c\n");
  auto spec = ParseConfigText(
      "[FUNCTION]\nname = split\nbuiltin = t\n[END]\n"
      "[FUNCTION]\nname = upper\nbuiltin = t\n[END]\n"
      "[FUNCTION]\nname = join\nbuiltin = t\n[END]\n"
      "[STAGE]\nname = s1\nsource = " + in.str() + "\ntransformation = split\n[END]\n"
      "[STAGE]\nname = s2\nsource = s1\ntransformation = upper\n[END]\n"
      "[STAGE]\nname = s3\nsource = s1, s2\ntransformation = join\n[END]\n",
      "t.cfg", ".");
  ASSERT_TRUE(spec.ok());
  struct Joined : StreamState {
    std::string text;
  };
  auto upper = std::make_shared<LambdaFunction>([](Task& t) {
    std::string s(t.inputs[0].data.view());
    for (char& c : s) c = static_cast<char>(std::toupper(c));
    t.outputs.push_back({t.inputs[0].name, Blob::FromString(s)});
    return Status::OK();
  });
  class Join : public Function {
   public:
    std::unique_ptr<StreamState> NewStream(std::string_view) const override {
      return std::make_unique<Joined>();
    }
    Status Process(Task& t) const override {
      static_cast<Joined*>(t.state)->text += std::to_string(t.source) + ":" +
                                             std::string(t.inputs[0].data.view()) + " ";
      return Status::OK();
    }
    Status EndStream(Task& t) const override {
      t.outputs.push_back({"joined.txt", Blob::FromString(static_cast<Joined*>(t.state)->text)});
      return Status::OK();
    }
  };
  ExecutorOptions opt = WithFunctions({{"split", std::make_shared<LambdaFunction>(SplitLines)},
                                  {"upper", upper},
                                  {"join", std::make_shared<Join>()}});
  opt.out_dir = out.str();
  auto report = RunPipeline(*spec, opt);
  ASSERT_TRUE(report.ok());
  ASSERT_TRUE(report->ok());
  ASSERT_EQ(report->outputs.size(), 2u);
  std::ifstream f1(out.str() + "/s3/sub_r1/joined.txt");
  std::string r1((std::istreambuf_iterator<char>(f1)), {});
  // Per-source order holds; the interleaving of sources is free.
  EXPECT_LT(r1.find("0:a"), r1.find("0:b"));
  EXPECT_LT(r1.find("1:A"), r1.find("1:B"));
  EXPECT_EQ(r1.size(), std::string("0:a 0:b 1:A 1:B ").size());
}

TEST(Executor, MissingInputDirectoryFailsTheRun) {
  TempDir in;
  ExecutorOptions opt = WithFunctions({{"split", std::make_shared<LambdaFunction>(SplitLines)},
                                  {"consume", std::make_shared<LambdaFunction>(SplitLines)}});
  opt.input_dir = in.str() + "/missing";
  auto report = RunPipeline(TwoStages(in.str()), opt);
  EXPECT_TRUE(report.status().IsNotFound());
}

TEST(Executor, ListInputsRecursesFiltersAndSorts) {
  TempDir in;
  in.Write("b/signal.txt", "1");
  in.Write("a/signal.txt", "1");
  in.Write("a/beats.txt", "1");
  in.Write(".hidden/x.txt", "1");
  auto files = ListInputs(in.str(), "signal.txt");
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].stream, "a/signal");
  EXPECT_EQ((*files)[1].stream, "b/signal");
  EXPECT_EQ((*files)[1].name, "signal.txt");
}

TEST(Executor, ListInputsNamesALinkedFileByItsPlaceInTheFolder) {
  TempDir in;
  TempDir elsewhere;
  elsewhere.Write("data/101/signal.txt", "1");
  fs::create_directories(in.str() + "/101");
  fs::create_symlink(elsewhere.str() + "/data/101/signal.txt",
                     in.str() + "/101/signal.txt");
  auto files = ListInputs(in.str() + "/", "signal.txt");
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].stream, "101/signal");
  EXPECT_EQ((*files)[0].path, in.str() + "/101/signal.txt");
}

}  // namespace
}  // namespace overlay
