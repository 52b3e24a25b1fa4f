// SPDX-License-Identifier: Apache-2.0
// The executor: one multifunction_node per stage, edges in data-flow order,
// directory sources fed with try_put, then wait_for_all (oneTBB fgbzip2 style).
//
// Ordering: every item carries (stream, producer, seq). A stage keeps one Lane
// per stream; the lane accepts items in any arrival order, runs them strictly in
// seq order per source, and only one thread drives a lane at a time, so a
// stateful function sees its stream in order while other streams' lanes run in
// parallel on other workers. A stream ends with an end-of-stream marker whose seq
// follows the last item, so it is processed after everything before it.
//
// Ownership: an item carries its stored object (a Blob pinned in L1), so the
// object stays until every stage that consumes it is done. Input files are fed
// a window of streams at a time, so a run holds only that many streams' data.
#include "overlay/executor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <tbb/flow_graph.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "overlay/dag.h"
#include "overlay/memory_room.h"
#include "stream_memo.h"

namespace overlay {
namespace {

namespace fs = std::filesystem;
namespace flow = tbb::flow;

struct Item {
  std::string stream;
  int producer = 0;  // stage index, or -1 - k for the consumer's k-th directory source
  uint64_t seq = 0;
  bool eos = false;
  NamedBlob blob;
};

using StageNode = flow::multifunction_node<Item, std::tuple<Item>>;

struct SourceQueue {
  uint64_t next = 0;
  std::map<uint64_t, Item> pending;  // arrived ahead of `next`
  bool ended = false;
};

// One stream at one stage. Fields below `mu` are guarded by it; the rest are
// touched only by the thread that set `running`.
struct Lane {
  std::mutex mu;
  bool running = false;
  std::vector<SourceQueue> queues;  // one per stage source
  size_t ended = 0;

  uint64_t next_out = 0;
  uint64_t data_items = 0;
  std::unique_ptr<StreamState> state;
  bool started = false;
};

std::string FlatStream(const std::string& stream) {
  std::string s = stream;
  std::replace(s.begin(), s.end(), '/', '_');
  return s;
}

// read() size of an input into a store: small enough that the piece stays in
// the CPU cache while it is hashed and copied on.
constexpr size_t kReadPiece = size_t{64} << 10;

// Reads a regular file into space from `alloc` (store memory), or the heap
// without one. Into a store, each piece is read into a small buffer that stays
// in cache, hashed there and copied into the loan, which is then published
// under that key: hashing the whole input in the loan afterwards would read
// it back from memory (a 4.5 MB record does not fit the cache).
Result<Blob> ReadInput(const std::string& path, BlobAllocator* alloc) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot read '" + path + "'", errno);
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0) return Status::FromErrno("cannot read '" + path + "'", errno);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument("'" + path + "' is not a regular file");
  const auto size = static_cast<size_t>(st.st_size);
  Result<WritableBlob> space = alloc != nullptr ? alloc->Allocate(size) : WritableBlob::OnHeap(size);
  if (!space.ok()) return space.status();
  std::optional<KeyHasher> hasher;
  std::unique_ptr<char[]> piece;
  if (alloc != nullptr) {
    hasher.emplace();
    piece = std::make_unique<char[]>(kReadPiece);
  }
  std::span<char> buf = space->data();
  for (size_t got = 0; got < size;) {
    char* into = piece ? piece.get() : buf.data() + got;
    const size_t want = piece ? std::min(kReadPiece, size - got) : size - got;
    ssize_t n = read(fd, into, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("cannot read '" + path + "'", errno);
    if (n == 0) return Status::IOError("'" + path + "' shrank while it was read");
    if (piece) {
      hasher->Update({into, static_cast<size_t>(n)});
      std::memcpy(buf.data() + got, into, static_cast<size_t>(n));
    }
    got += static_cast<size_t>(n);
  }
  if (hasher) return std::move(*space).Publish(hasher->Finish());
  return std::move(*space).Publish();
}

class Execution {
 public:
  Execution(const PipelineSpec& spec, const Dag& dag, const ExecutorOptions& opt)
      : spec_(spec), dag_(dag), opt_(opt), stages_(dag.stages.size()) {}

  Result<RunReport> Run() {
    auto t0 = std::chrono::steady_clock::now();
    OVERLAY_RETURN_IF_ERROR(BuildFunctions());
    for (size_t i = 0; i < stages_.size(); ++i) {
      const DagStage& st = dag_.stages[i];
      for (size_t k = 0; k < st.sources.size(); ++k) {
        if (st.sources[k].stage >= 0) continue;
        if (!opt_.items.empty()) {
          AddItems(static_cast<int>(i), static_cast<int>(k));
          continue;
        }
        const std::string& dir = opt_.input_dir.empty() ? st.sources[k].dir : opt_.input_dir;
        auto files = ListInputs(dir, st.decl->include);
        if (!files.ok()) return files.status();
        for (InputFile& f : *files) {
          std::error_code ec;
          const uint64_t size = fs::file_size(f.path, ec);
          inputs_.push_back({static_cast<int>(i), static_cast<int>(k), std::move(f), ec ? 0 : size});
          progress_.input_bytes_total += inputs_.back().size;
        }
      }
    }
    progress_.streams_total = inputs_.size();
    if (opt_.store != nullptr && opt_.memo) {
      std::vector<std::string> streams;
      for (const PendingInput& in : inputs_) streams.push_back(in.file.stream);
      memo_.emplace(spec_, dag_, opt_.store, opt_.rerun, opt_.keep_all, streams);
    }
    report_.streams = progress_.streams_total;
    for (const DagStage& st : dag_.stages) progress_.stages.push_back({st.decl->name, 0, 0});
    if (!opt_.out_dir.empty()) {
      std::error_code ec;
      fs::create_directories(opt_.out_dir, ec);
      if (ec) return Status::IOError(fmt::format("cannot create '{}': {}", opt_.out_dir,
                                                 ec.message()));
    }

    int workers = opt_.workers;
    if (workers <= 0)
      for (const auto& e : spec_.endpoints) workers = std::max(workers, e.workers);
    if (workers <= 0) workers = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
    OVERLAY_RETURN_IF_ERROR(PlanWindow(workers));
    tbb::task_arena arena(workers);
    arena.execute([&] {
      flow::graph g;
      // Nodes: pure dispatch into lanes, so unlimited concurrency is safe; the
      // arena bounds how many tasks run at once.
      for (size_t i = 0; i < stages_.size(); ++i)
        nodes_.push_back(std::make_unique<StageNode>(
            g, flow::unlimited, [this, i](const Item& item, StageNode::output_ports_type& ports) {
              Accept(static_cast<int>(i), item, ports);
            }));
      for (size_t i = 0; i < stages_.size(); ++i)
        for (int succ : dag_.stages[i].successors)
          flow::make_edge(flow::output_port<0>(*nodes_[i]), *nodes_[succ]);
      for (size_t n = 0; n < window_; ++n) FeedNext();
      g.wait_for_all();
      nodes_.clear();
    });
    report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    report_.tasks_ok = progress_.tasks_ok;
    report_.tasks_failed = progress_.tasks_failed;
    report_.tasks_reused = progress_.tasks_reused;
    report_.streams_done = streams_finished_;
    if (Cancelled()) DropUnfinished();
    std::sort(report_.outputs.begin(), report_.outputs.end());
    std::sort(report_.stored.begin(), report_.stored.end());
    return std::move(report_);
  }

 private:
  struct StageRt {
    std::unique_ptr<Function> fn;
    std::mutex lanes_mu;
    std::unordered_map<std::string, std::shared_ptr<Lane>> lanes;
  };

  Status BuildFunctions() {
    for (size_t i = 0; i < stages_.size(); ++i) {
      const StageDecl& s = *dag_.stages[i].decl;
      const FunctionDecl* decl = spec_.FindFunction(s.transformation);
      if (decl == nullptr)
        return Status::InvalidArgument(fmt::format("stage '{}': unknown function '{}'", s.name,
                                                   s.transformation));
      Result<std::unique_ptr<Function>> fn = std::unique_ptr<Function>();
      if (opt_.make_stage_function) fn = opt_.make_stage_function(s, *decl);
      if (fn.ok() && *fn == nullptr) {
        fn = opt_.make_function ? opt_.make_function(*decl) : MakeDeclaredFunction(*decl);
      }
      if (!fn.ok())
        return Status::InvalidArgument(fmt::format("{}:{}: function '{}': {}", decl->loc.file,
                                                   decl->loc.line, decl->name,
                                                   fn.status().message()));
      stages_[i].fn = std::move(*fn);
    }
    return Status::OK();
  }

  struct PendingInput {
    int stage;
    int source;
    InputFile file;
    uint64_t size;  // when listed; 0 if it could not be read
    const InputItem* item = nullptr;  // in memory: read this instead of file.path
  };

  void AddItems(int stage, int source) {
    const std::string& include = dag_.stages[stage].decl->include;
    for (const InputItem& it : opt_.items) {
      if (!IncludeMatches(include, it.name)) continue;
      inputs_.push_back({stage, source, {it.name, it.stream, it.name}, it.data.size(), &it});
      progress_.input_bytes_total += it.data.size();
    }
  }

  // How many streams run at once: a window of 2 per worker, fewer when the
  // store has a memory limit. The window applies when the pipeline reads one
  // directory: files of several directories may share a stream id and meet in
  // one lane, which then needs all of them, so they are all fed at once.
  Status PlanWindow(int workers) {
    size_t dirs = 0;
    for (const DagStage& st : dag_.stages)
      for (const auto& src : st.sources) dirs += src.stage < 0 ? 1 : 0;
    if (dirs > 1) {
      window_ = inputs_.size();
      return Status::OK();
    }
    window_ = opt_.max_streams > 0 ? opt_.max_streams : 2 * static_cast<size_t>(workers);
    windowed_ = true;
    if (opt_.memory_limit == 0) return Status::OK();
    const PendingInput* largest = nullptr;
    uint64_t largest_size = 0;
    for (const PendingInput& in : inputs_)
      if (in.size >= largest_size) {
        largest_size = in.size;
        largest = &in;
      }
    // An input and what the first stage makes of it sit in memory together
    // until the next stage consumes them: about three times the input.
    const uint64_t per_stream = 3 * largest_size;
    if (largest != nullptr && per_stream > opt_.memory_limit)
      return Status::InvalidArgument(fmt::format(
          "the largest input, '{}' ({}), needs about {} of store memory while it is in flight, "
          "more than the {} budget, and no disk tier can take the overflow: raise "
          "STORAGE.memory or drop STORAGE.disk = none",
          largest->file.path, FormatBytes(largest_size), FormatBytes(per_stream),
          FormatBytes(opt_.memory_limit)));
    if (per_stream > 0)
      window_ = std::clamp<size_t>(opt_.memory_limit / per_stream, 1, window_);
    return Status::OK();
  }

  std::vector<int> SinksReachable(int stage) const {
    std::vector<bool> seen(stages_.size());
    std::vector<int> todo{stage};
    std::vector<int> sinks;
    while (!todo.empty()) {
      int s = todo.back();
      todo.pop_back();
      if (seen[s]) continue;
      seen[s] = true;
      if (dag_.stages[s].successors.empty()) sinks.push_back(s);
      for (int succ : dag_.stages[s].successors) todo.push_back(succ);
    }
    return sinks;
  }

  bool Cancelled() const { return opt_.cancel != nullptr && opt_.cancel->load(); }

  // Feeds the next input file, if any is left and the run goes on.
  void FeedNext() {
    if (Cancelled()) return;
    const size_t i = next_input_.fetch_add(1);
    if (i >= inputs_.size()) return;
    const PendingInput& in = inputs_[i];
    {
      std::lock_guard lock(open_mu_);
      auto reach = reach_.find(in.stage);
      if (reach == reach_.end()) reach = reach_.emplace(in.stage, SinksReachable(in.stage)).first;
      OpenStream& o = open_[in.file.stream];
      o.sinks.insert(reach->second.begin(), reach->second.end());
      ++o.inputs;
    }
    Feed(*nodes_[in.stage], in);
  }

  // A stream's end left sink `stage`; once it has left every sink it reaches
  // it is finished, and (with a window) its slots go to the next inputs.
  void LeftSink(int stage, const std::string& stream) {
    size_t freed = 0;
    {
      std::lock_guard lock(open_mu_);
      auto it = open_.find(stream);
      if (it == open_.end()) return;
      it->second.sinks.erase(stage);
      if (!it->second.sinks.empty()) return;
      freed = windowed_ ? it->second.inputs : 0;
      open_.erase(it);
      ++streams_finished_;
    }
    for (size_t n = 0; n < freed; ++n) FeedNext();
  }

  // After a cancelled run: what unfinished streams wrote to out_dir goes, so
  // no partial result looks complete.
  void DropUnfinished() {
    report_.cancelled = true;
    const size_t fed = std::min(next_input_.load(), inputs_.size());
    report_.streams_not_started = inputs_.size() - fed;
    std::lock_guard lock(open_mu_);
    std::set<std::string> flat;
    for (const auto& [stream, o] : open_) {
      report_.unfinished_streams.push_back(stream);
      flat.insert(FlatStream(stream));
    }
    std::sort(report_.unfinished_streams.begin(), report_.unfinished_streams.end());
    if (flat.empty()) return;
    // Outputs are <out>/<stage>/<stream>/<file>; names are <stage>/<stream>/<file>.
    auto unfinished = [&](const std::string& rel) {
      const size_t a = rel.find('/');
      const size_t b = a == std::string::npos ? a : rel.find('/', a + 1);
      return b != std::string::npos && flat.count(rel.substr(a + 1, b - a - 1)) > 0;
    };
    const std::string prefix = opt_.out_dir + "/";
    std::erase_if(report_.outputs, [&](const std::string& path) {
      return path.starts_with(prefix) && unfinished(path.substr(prefix.size()));
    });
    std::erase_if(report_.output_keys, [&](const auto& entry) {
      return entry.first.starts_with(prefix) && unfinished(entry.first.substr(prefix.size()));
    });
    std::erase_if(report_.stored, unfinished);
    if (opt_.out_dir.empty()) return;
    for (const DagStage& st : dag_.stages)
      for (const std::string& stream : flat) {
        std::error_code ec;
        fs::remove_all(fs::path(opt_.out_dir) / st.decl->name / stream, ec);
      }
  }

  // An in-memory input goes into the store as a file's bytes would.
  Result<Blob> ReadItem(const InputItem& it) {
    if (opt_.store == nullptr) return it.data;
    return opt_.store->Put(it.data.view());
  }

  void Feed(StageNode& node, const PendingInput& in) {
    const int stage = in.stage;
    const InputFile& f = in.file;
    Item item{f.stream, -1 - in.source, 0, false, {}};
    Result<Blob> blob = in.item != nullptr ? ReadItem(*in.item) : ReadInput(f.path, opt_.store);
    if (blob.ok()) {
      Progress p;
      {
        std::lock_guard lock(report_mu_);
        report_.input_bytes += blob->size();
        if (blob->key()) report_.input_keys[f.path] = *blob->key();
        progress_.input_bytes_read = report_.input_bytes;
        p = SnapshotLocked();
      }
      if (opt_.on_progress) opt_.on_progress(p);
      item.blob = NamedBlob{f.name, std::move(*blob)};
      if (memo_) memo_->Plan(stage, in.source, f.stream, item.blob);
      node.try_put(item);
      item.seq = 1;
    } else {
      Fail(*dag_.stages[stage].decl, f.stream, f.name, blob.status());
    }
    item.eos = true;
    item.blob = {};
    node.try_put(item);
  }

  // Stores an output built on the heap (space from Task::NewOutput is stored
  // already), and names the ones that are kept.
  Status Keep(int stage, const std::string& stream, NamedBlob& out, bool named) {
    if (!out.data.key()) {
      Result<Blob> stored = opt_.store->Put(out.data.view());
      if (!stored.ok()) return stored.status();
      out.data = std::move(*stored);
    }
    if (!named) return Status::OK();
    return opt_.store->Name(
        fmt::format("{}/{}/{}", dag_.stages[stage].decl->name, FlatStream(stream), out.name),
        out.data);
  }

  size_t SourceIndex(int stage, int producer) const {
    if (producer < 0) return static_cast<size_t>(-1 - producer);
    const auto& sources = dag_.stages[stage].sources;
    for (size_t k = 0; k < sources.size(); ++k)
      if (sources[k].stage == producer) return k;
    return 0;  // unreachable: edges exist only from listed sources
  }

  std::shared_ptr<Lane> GetLane(int stage, const std::string& stream) {
    StageRt& rt = stages_[stage];
    std::lock_guard lock(rt.lanes_mu);
    auto& lane = rt.lanes[stream];
    if (!lane) {
      lane = std::make_shared<Lane>();
      lane->queues.resize(dag_.stages[stage].sources.size());
    }
    return lane;
  }

  void Accept(int stage, const Item& item, StageNode::output_ports_type& ports) {
    std::shared_ptr<Lane> lane = GetLane(stage, item.stream);
    {
      std::lock_guard lock(lane->mu);
      lane->queues[SourceIndex(stage, item.producer)].pending.emplace(item.seq, item);
      if (lane->running) return;  // the driving thread will pick it up
      lane->running = true;
    }
    for (;;) {
      Item next;
      bool last = false;
      {
        std::lock_guard lock(lane->mu);
        SourceQueue* ready = nullptr;
        for (auto& q : lane->queues)
          if (!q.pending.empty() && q.pending.begin()->first == q.next) {
            ready = &q;
            break;
          }
        if (ready == nullptr) {
          lane->running = false;
          return;
        }
        next = std::move(ready->pending.begin()->second);
        ready->pending.erase(ready->pending.begin());
        ++ready->next;
        if (next.eos) {
          ready->ended = true;
          last = ++lane->ended == lane->queues.size();
        }
      }
      if (!next.eos) {
        Process(stage, *lane, std::move(next), ports);
      } else if (last) {
        EndStream(stage, *lane, next.stream, ports);
        std::lock_guard lock(stages_[stage].lanes_mu);
        stages_[stage].lanes.erase(next.stream);
        return;  // every source has ended: nothing more can arrive on this lane
      }
    }
  }

  void StartStream(int stage, Lane& lane, const std::string& stream) {
    if (lane.started) return;
    lane.started = true;
    lane.state = stages_[stage].fn->NewStream(stream);
  }

  void Process(int stage, Lane& lane, Item item, StageNode::output_ports_type& ports) {
    if (memo_ && memo_->Reused(stage, item.stream) != nullptr) return;  // EndStream emits it
    StartStream(stage, lane, item.stream);
    ++lane.data_items;
    Task task;
    task.stream = item.stream;
    task.seq = item.seq;
    task.source = SourceIndex(stage, item.producer);
    std::string name = item.blob.name;
    task.inputs.push_back(std::move(item.blob));
    task.state = lane.state.get();
    task.allocator = opt_.store;
    if (Cancelled()) {
      CountCancelled();
      return;
    }
    Status s = stages_[stage].fn->Process(task);
    if (!s.ok() && Cancelled()) {
      CountCancelled();
      return;
    }
    Complete(stage, lane, task, s, name, ports);
  }

  void EndStream(int stage, Lane& lane, const std::string& stream,
                 StageNode::output_ports_type& ports) {
    StreamMemo::Reuse* reuse = memo_ ? memo_->Reused(stage, stream) : nullptr;
    if (reuse != nullptr) {
      Task task;
      task.stream = stream;
      task.outputs = std::move(reuse->outputs);
      EmitOutputs(stage, lane, task, ports);
      Progress p;
      {
        std::lock_guard lock(report_mu_);
        for (const auto& [k, v] : reuse->counters) report_.counters[k] += v;
        progress_.tasks_reused += reuse->tasks;
        progress_.stages[stage].tasks_reused += reuse->tasks;
        p = SnapshotLocked();
      }
      if (opt_.on_progress) opt_.on_progress(p);
    } else if (lane.data_items > 0) {
      // A stream that brought no data (e.g. its file failed upstream) has
      // nothing to finish; forwarding the marker is enough.
      Task task;
      task.stream = stream;
      task.seq = lane.next_out;
      task.state = lane.state.get();
      task.allocator = opt_.store;
      // A cancelled stream is not finished, so it gets no end either (and
      // the end is not counted as a cancelled task: it may do nothing).
      Status s = Cancelled() ? Status::OK() : stages_[stage].fn->EndStream(task);
      if (Cancelled()) {
        if (!s.ok()) CountCancelled();
      } else if (!s.ok() || !task.outputs.empty() || !task.counters.empty()) {
        Complete(stage, lane, task, s, "(end of stream)", ports);
      }
    }
    lane.state.reset();
    // A cancelled run may have skipped some of the stream's tasks: remember nothing.
    if (memo_ && !Cancelled()) memo_->Ended(stage, stream);
    if (!dag_.stages[stage].successors.empty()) {
      std::get<0>(ports).try_put(Item{stream, stage, lane.next_out, true, {}});
    } else {
      ++sink_streams_done_;
      if (opt_.on_progress) {
        Progress p;
        {
          std::lock_guard lock(report_mu_);
          p = SnapshotLocked();
        }
        opt_.on_progress(p);
      }
      // A stream whose end came through a cancellation is not finished.
      if (!Cancelled()) LeftSink(stage, stream);
    }
  }

  void Complete(int stage, Lane& lane, Task& task, const Status& s, const std::string& item,
                StageNode::output_ports_type& ports) {
    if (!s.ok()) {
      Fail(*dag_.stages[stage].decl, task.stream, item, s);
      return;
    }
    EmitOutputs(stage, lane, task, ports);
    if (memo_) memo_->TaskDone(stage, task.stream, task.counters);
    Progress p;
    {
      std::lock_guard lock(report_mu_);
      for (const auto& [k, v] : task.counters) report_.counters[k] += v;
      ++progress_.tasks_ok;
      ++progress_.stages[stage].tasks_ok;
      p = SnapshotLocked();
    }
    if (opt_.on_progress) opt_.on_progress(p);
  }

  // Stores, names and writes a task's outputs (result stages' ones, or every
  // stage's with keep_all) and passes them to the next stages.
  void EmitOutputs(int stage, Lane& lane, Task& task, StageNode::output_ports_type& ports) {
    const bool sink = dag_.stages[stage].successors.empty();
    const std::string& stage_name = dag_.stages[stage].decl->name;
    for (auto& out : task.outputs) {
      if (opt_.store != nullptr) {
        Status kept = Keep(stage, task.stream, out, sink || opt_.keep_all);
        if (!kept.ok()) {
          Fail(*dag_.stages[stage].decl, task.stream, out.name, kept);
          continue;
        }
        if (memo_) memo_->Output(stage, task.stream, out);
        if (sink) {
          std::lock_guard lock(report_mu_);
          report_.stored.push_back(fmt::format("{}/{}/{}", stage_name, FlatStream(task.stream),
                                               out.name));
        }
      }
      if (!opt_.out_dir.empty() && (sink || opt_.keep_all)) WriteOutput(stage, task.stream, out);
      if (opt_.on_output) opt_.on_output(stage_name, task.stream, out);
      if (!sink)
        std::get<0>(ports).try_put(Item{task.stream, stage, lane.next_out++, false, std::move(out)});
    }
  }

  void WriteOutput(int stage, const std::string& stream, const NamedBlob& out) {
    fs::path dir = fs::path(opt_.out_dir) / dag_.stages[stage].decl->name / FlatStream(stream);
    fs::path path = dir / fs::path(out.name).filename();
    std::error_code ec;
    fs::create_directories(dir, ec);
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(out.data.data(), static_cast<std::streamsize>(out.data.size()));
    f.close();
    if (ec || !f) {
      Fail(*dag_.stages[stage].decl, stream, out.name,
           Status::IOError(fmt::format("cannot write '{}'", path.string())));
      return;
    }
    std::lock_guard lock(report_mu_);
    report_.outputs.push_back(path.string());
    if (out.data.key()) report_.output_keys[path.string()] = *out.data.key();
  }

  void Fail(const StageDecl& stage, const std::string& stream, const std::string& item,
            const Status& s) {
    Progress p;
    {
      std::lock_guard lock(report_mu_);
      report_.failures.push_back({stage.name, stream, item, s});
      if (memo_) memo_->Failed(stage.name, stream);
      ++progress_.tasks_failed;
      for (StageProgress& sp : progress_.stages)
        if (sp.name == stage.name) ++sp.tasks_failed;
      p = SnapshotLocked();
    }
    if (opt_.on_progress) opt_.on_progress(p);
  }

  void CountCancelled() {
    std::lock_guard lock(report_mu_);
    ++report_.tasks_cancelled;
  }

  Progress SnapshotLocked() {
    Progress p = progress_;
    p.waiting = opt_.store != nullptr ? opt_.store->Waiting() : 0;
    p.streams_done = sink_streams_done_ / std::max<size_t>(1, dag_.sinks.size());
    return p;
  }

  const PipelineSpec& spec_;
  const Dag& dag_;
  const ExecutorOptions& opt_;
  std::vector<StageRt> stages_;
  std::optional<StreamMemo> memo_;  // with a store

  struct OpenStream {
    std::set<int> sinks;  // sink stages its end has yet to leave
    size_t inputs = 0;    // input files fed under this stream id
  };
  std::vector<PendingInput> inputs_;  // fixed once Run starts the graph
  std::vector<std::unique_ptr<StageNode>> nodes_;
  size_t window_ = 0;
  bool windowed_ = false;  // a finished stream's slots feed the next inputs
  std::atomic<size_t> next_input_{0};
  std::mutex open_mu_;
  // Guarded by open_mu_: streams fed and not finished, the sinks reachable
  // from each stage that reads a directory, and how many streams finished.
  std::unordered_map<std::string, OpenStream> open_;
  std::unordered_map<int, std::vector<int>> reach_;
  size_t streams_finished_ = 0;

  std::mutex report_mu_;
  RunReport report_;    // guarded by report_mu_
  Progress progress_;   // guarded by report_mu_
  std::atomic<size_t> sink_streams_done_{0};
};

}  // namespace

Result<std::vector<InputFile>> ListInputs(const std::string& dir, const std::string& include) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Status::NotFound(fmt::format("input directory '{}' does not exist", dir));
  std::vector<InputFile> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) return Status::IOError(fmt::format("cannot list '{}': {}", dir, ec.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return Status::IOError(fmt::format("cannot list '{}': {}", dir, ec.message()));
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    if (name.starts_with('.')) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || !IncludeMatches(include, name)) continue;
    // Lexically: fs::relative resolves symlinks, so a linked file would be
    // named by where its target lives ("../../data/101/signal").
    fs::path rel = p.lexically_relative(dir);
    files.push_back({p.string(), (rel.parent_path() / rel.stem()).generic_string(), name});
  }
  std::sort(files.begin(), files.end(),
            [](const InputFile& a, const InputFile& b) { return a.stream < b.stream; });
  return files;
}

Result<std::unique_ptr<Function>> MakeDeclaredFunction(const FunctionDecl& decl) {
  FunctionSpec spec{decl.name, decl.builtin, decl.command, decl.args, decl.timeout_ms,
                    decl.retries};
  spec.writable = decl.writable;
  return MakeFunction(spec);
}

Result<RunReport> RunPipeline(const PipelineSpec& spec, const ExecutorOptions& options) {
  auto dag = BuildDag(spec);
  if (!dag.ok()) return dag.status();
  Execution run(spec, *dag, options);
  return run.Run();
}

}  // namespace overlay
