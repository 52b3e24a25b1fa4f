// SPDX-License-Identifier: Apache-2.0
// An external command as a Function. Each attempt gets a fresh task directory
// under workspace_root holding the workspace (@W) and the output directory (@D);
// the inputs are written into @W (a registered binary format as its text form,
// see overlay/function_registry.h), the command runs with the caller's working
// directory (so relative program and script paths resolve as the user typed
// them), and the new regular files in @W and @D become the outputs.
#include "command_function.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <set>

#include "command_template.h"
#include "file_util.h"
#include "overlay/function_registry.h"
#include "overlay/process_runner.h"
#include "temp_dir.h"

namespace overlay {
namespace {

using detail::CommandTemplate;
using detail::TempDir;

// Per-stream directory a stateful command keeps its state in (OVERLAY_STATE_DIR).
class CommandStreamState : public StreamState {
 public:
  explicit CommandStreamState(Result<TempDir> dir) {
    if (dir.ok())
      dir_ = std::move(dir).value();
    else
      error_ = dir.status();
  }
  const std::string& path() const { return dir_.path(); }
  const Status& error() const { return error_; }

 private:
  TempDir dir_;
  Status error_;
};

// `s` with `prefix` before its message; the code is kept.
Status Prefixed(const Status& s, const std::string& prefix) {
  std::string msg = prefix + std::string(s.message());
  switch (s.code()) {
    case Status::Code::kNotFound:
      return Status::NotFound(msg);
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(msg);
    default:
      return Status::IOError(msg);
  }
}

// The file name an input is written under: its last path component.
Result<std::string> InputFileName(const std::string& name) {
  std::string base = name.substr(name.find_last_of('/') + 1);
  if (base.empty() || base == "." || base == "..")
    return Status::InvalidArgument("input name '" + name + "' is not a file name");
  return base;
}

// Thread-safety: immutable after construction; calls for different streams
// may run at once, since every attempt has its own task directory.
class CommandFunction final : public Function {
 public:
  CommandFunction(FunctionSpec spec, CommandTemplate command)
      : spec_(std::move(spec)), command_(std::move(command)) {}

  std::unique_ptr<StreamState> NewStream(std::string_view) const override {
    return std::make_unique<CommandStreamState>(
        TempDir::Create(spec_.workspace_root, "overlay-state-"));
  }

  Status Process(Task& task) const override { return RunWithRetries(task, false); }

  Status EndStream(Task& task) const override {
    const auto* state = dynamic_cast<const CommandStreamState*>(task.state);
    if (state == nullptr || state->path().empty() || !detail::DirHasEntries(state->path()))
      return Status::OK();
    return RunWithRetries(task, true);
  }

 private:
  // One attempt: OK with the outputs, or the run's outcome. Errors before the
  // command ran (workspace, missing program) come back as `status`.
  struct Attempt {
    Status status;
    RunResult run;
    std::vector<NamedBlob> outputs;
  };

  Status RunWithRetries(Task& task, bool end_of_stream) const {
    const auto* state = dynamic_cast<const CommandStreamState*>(task.state);
    if (state != nullptr && !state->error().ok())
      return Prefixed(state->error(), "function '" + spec_.name + "': ");
    const int attempts = 1 + std::max(spec_.retries, 0);
    Attempt a;
    for (int i = 1; i <= attempts; ++i) {
      a = RunOnce(task, state, end_of_stream);
      if (!a.status.ok()) return a.status;
      if (a.run.success()) {
        for (NamedBlob& out : a.outputs) task.outputs.push_back(std::move(out));
        return Status::OK();
      }
    }
    std::string msg =
        "function '" + spec_.name + "': '" + command_.words().front() + "' " + a.run.Describe();
    if (attempts > 1) msg += " (" + std::to_string(attempts) + " attempts)";
    std::string tail = a.run.StderrTail();
    msg += tail.empty() ? "; no stderr" : "; stderr:\n" + tail;
    if (LandlockAbi() > 0 && tail.find("Permission denied") != std::string::npos)
      msg += "\n(commands may write only in @W, @D, $TMPDIR, $OVERLAY_STATE_DIR and FUNCTION.writable: Landlock)";
    return a.run.timed_out ? Status::Timeout(msg) : Status::Failed(msg);
  }

  Attempt RunOnce(const Task& task, const CommandStreamState* state, bool end_of_stream) const {
    Attempt a;
    auto fail = [&](const Status& s) {
      a.status = Prefixed(s, "function '" + spec_.name + "': ");
      return std::move(a);
    };
    Result<TempDir> task_dir = TempDir::Create(spec_.workspace_root, "overlay-task-");
    if (!task_dir.ok()) return fail(task_dir.status());
    detail::PlaceholderValues values{task_dir->path() + "/w", "", task_dir->path() + "/d", ""};
    const std::string tmp = task_dir->path() + "/tmp";
    for (const std::string& dir : {values.workspace, values.out_dir, tmp})
      if (::mkdir(dir.c_str(), 0700) != 0) return fail(Status::FromErrno("mkdir " + dir, errno));

    std::set<std::string> input_names;
    for (const NamedBlob& in : task.inputs) {
      Result<std::string> name = InputFileName(in.name);
      if (!name.ok()) return fail(name.status());
      if (!input_names.insert(*name).second)
        return fail(Status::InvalidArgument("two inputs named '" + *name + "'"));
      // External programs read text: a blob in a registered binary format is
      // written in its text form, under the same name.
      Result<std::optional<std::string>> text = TextFormOf(in.data.view(), task.stream);
      if (!text.ok()) return fail(Prefixed(text.status(), "input '" + in.name + "': "));
      Status s = detail::WriteNewFile(values.workspace + "/" + *name,
                                      *text ? std::string_view(**text) : in.data.view());
      if (!s.ok()) return fail(s);
      if (values.name.empty()) {
        values.name = *name;
        values.input = values.workspace + "/" + *name;
      }
    }

    RunOptions opts;
    opts.argv = command_.Expand(values);
    opts.timeout_ms = spec_.timeout_ms;
    opts.env.emplace_back("OVERLAY_STREAM", task.stream);
    if (state != nullptr) opts.env.emplace_back("OVERLAY_STATE_DIR", state->path());
    if (end_of_stream) opts.env.emplace_back("OVERLAY_END_OF_STREAM", "1");
    // Scratch files go to the task directory, removed with it; with Landlock
    // that and the state directory are the only places it may write.
    opts.env.emplace_back("TMPDIR", tmp);
    opts.writable_paths = {task_dir->path(), "/dev/null"};
    if (state != nullptr) opts.writable_paths.push_back(state->path());
    opts.writable_paths.insert(opts.writable_paths.end(), spec_.writable.begin(),
                               spec_.writable.end());
    Result<RunResult> run = RunProcess(opts);
    if (!run.ok()) return fail(run.status());
    a.run = std::move(run).value();
    if (!a.run.success()) return a;

    // Outputs: new files in @W, every file in @D; merged in name order.
    for (const std::string& dir : {values.workspace, values.out_dir}) {
      Result<std::vector<std::string>> names = detail::ListRegularFiles(dir);
      if (!names.ok()) return fail(names.status());
      for (const std::string& name : *names) {
        if (dir == values.workspace && input_names.count(name)) continue;
        Result<std::string> bytes = detail::ReadFile(dir + "/" + name);
        if (!bytes.ok()) return fail(bytes.status());
        a.outputs.push_back({name, Blob::FromString(std::move(bytes).value())});
      }
    }
    std::stable_sort(a.outputs.begin(), a.outputs.end(),
                     [](const NamedBlob& x, const NamedBlob& y) { return x.name < y.name; });
    return a;
  }

  const FunctionSpec spec_;
  const CommandTemplate command_;
};

}  // namespace

Result<std::unique_ptr<Function>> NewCommandFunction(const FunctionSpec& spec) {
  Result<CommandTemplate> command = CommandTemplate::Parse(spec.command);
  if (!command.ok())
    return Status::InvalidArgument("function '" + spec.name +
                                   "': " + std::string(command.status().message()));
  return std::unique_ptr<Function>(
      std::make_unique<CommandFunction>(spec, std::move(command).value()));
}

}  // namespace overlay
