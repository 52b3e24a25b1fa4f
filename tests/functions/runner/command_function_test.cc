// SPDX-License-Identifier: Apache-2.0
// Command functions, run for real. /bin/sh is only a test subject here (started
// by execve with the words our template produced); it records its arguments and
// environment so the tests can look at exactly what the child received.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "command_template.h"
#include "file_util.h"
#include "overlay/function.h"
#include "overlay/function_registry.h"
#include "overlay/process_runner.h"
#include "temp_dir.h"

namespace overlay {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A command function whose workspaces live in a private root, so the tests can
// check that nothing is left behind.
class CommandFunctionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<detail::TempDir> root = detail::TempDir::Create("/dev/shm", "overlay-cmdtest-");
    if (!root.ok()) root = detail::TempDir::Create(::testing::TempDir(), "overlay-cmdtest-");
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    root_ = std::move(root).value();
  }

  std::unique_ptr<Function> Make(std::string command, int retries = 0, int64_t timeout_ms = 0) {
    FunctionSpec spec;
    spec.name = "fn";
    spec.command = std::move(command);
    spec.retries = retries;
    spec.timeout_ms = timeout_ms;
    spec.workspace_root = root_.path();
    Result<std::unique_ptr<Function>> fn = MakeFunction(spec);
    EXPECT_TRUE(fn.ok()) << fn.status().ToString();
    return fn.ok() ? std::move(fn).value() : nullptr;
  }

  static Task TaskWith(std::vector<std::pair<std::string, std::string>> inputs,
                       StreamState* state = nullptr) {
    Task t;
    t.stream = "s1";
    t.state = state;
    for (auto& [name, text] : inputs) t.inputs.push_back({name, Blob::FromString(text)});
    return t;
  }

  bool RootIsEmpty() const { return !detail::DirHasEntries(root_.path()); }

  static std::vector<std::string> Names(const Task& t) {
    std::vector<std::string> names;
    for (const NamedBlob& b : t.outputs) names.push_back(b.name);
    return names;
  }

  static std::string Output(const Task& t, std::string_view name) {
    for (const NamedBlob& b : t.outputs)
      if (b.name == name) return std::string(b.data.view());
    return "<missing " + std::string(name) + ">";
  }

  detail::TempDir root_;
};

// Writes each argument after the first as "[arg]" lines into <first>/args.
constexpr const char* kDumpArgs = R"~(sh -c 'printf "[%s]\n" "$@" > "$0/args"')~";

// The "[arg]" lines kDumpArgs wrote, brackets removed.
std::vector<std::string> ArgLines(const std::string& dump) {
  std::vector<std::string> lines;
  for (size_t at = 0, nl; (nl = dump.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(dump.substr(at + 1, nl - at - 2));
  return lines;
}

TEST_F(CommandFunctionTest, ExpandsPlaceholdersAlsoInsideWords) {
  auto fn = Make(std::string(kDumpArgs) + " @D @W @I @D @N --in=@I x@Ny @@W a@Z 'q @N'");
  Task t = TaskWith({{"dir/in.txt", "hello"}, {"second.txt", "x"}});
  ASSERT_TRUE(fn->Process(t).ok());
  ASSERT_THAT(Names(t), ElementsAre("args"));
  std::vector<std::string> lines = ArgLines(Output(t, "args"));
  ASSERT_EQ(lines.size(), 9u) << Output(t, "args");
  const std::string& w = lines[0];
  EXPECT_THAT(w, StartsWith(root_.path() + "/overlay-task-"));
  EXPECT_EQ(lines[1], w + "/in.txt");                    // @I: the first input
  EXPECT_EQ(lines[2], w.substr(0, w.size() - 1) + "d");  // @D beside @W
  EXPECT_EQ(lines[3], "in.txt");                         // @N: its file name
  EXPECT_EQ(lines[4], "--in=" + w + "/in.txt");
  EXPECT_EQ(lines[5], "xin.txty");
  EXPECT_EQ(lines[6], "@W");
  EXPECT_EQ(lines[7], "a@Z");
  EXPECT_EQ(lines[8], "q in.txt");
  EXPECT_TRUE(RootIsEmpty());
}

TEST_F(CommandFunctionTest, ShellCharactersArePassedLiterally) {
  auto fn =
      Make(std::string(kDumpArgs) + R"~( @D ; $(touch @D/pwned) | * > x `id` "$HOME" a\b && ' ')~");
  Task t = TaskWith({{"in.txt", "x"}});
  ASSERT_TRUE(fn->Process(t).ok());
  // Had a shell run the line, it would have made "pwned" or "x".
  ASSERT_THAT(Names(t), ElementsAre("args"));
  std::vector<std::string> lines = ArgLines(Output(t, "args"));
  ASSERT_EQ(lines.size(), 12u) << Output(t, "args");
  EXPECT_THAT(lines[2], ::testing::EndsWith("/d/pwned)"));
  lines[2] = "D/pwned)";
  EXPECT_THAT(lines, ElementsAre(";", "$(touch", "D/pwned)", "|", "*", ">", "x", "`id`", "$HOME",
                                 "a\\b", "&&", " "));
}

TEST(CommandTemplateEchoTest, EchoPrintsTheTemplateBytesVerbatim) {
  Result<detail::CommandTemplate> t =
      detail::CommandTemplate::Parse(R"~(/bin/echo ; $(id) | * > `id` "a  b" @N)~");
  ASSERT_TRUE(t.ok());
  RunOptions o;
  o.argv = t->Expand({"/w", "/w/x", "/d", "x"});
  Result<RunResult> r = RunProcess(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out.tail, "; $(id) | * > `id` a  b x\n");
}

TEST_F(CommandFunctionTest, FailureMessageShowsTheLiteralArguments) {
  auto fn = Make(R"~(sh -c 'printf "%s|" "$@" >&2; exit 1' - ; $(id) * "a  b")~");
  Task t = TaskWith({});
  Status f = fn->Process(t);
  EXPECT_TRUE(f.IsFailed()) << f.ToString();
  EXPECT_THAT(std::string(f.message()), HasSubstr(";|$(id)|*|a  b|"));
}

TEST_F(CommandFunctionTest, CollectsNewFilesOfWorkspaceAndOutDirSorted) {
  auto fn = Make(
      R"~(sh -c 'echo z > "$0/z.txt"; echo a > "$1/a.txt"; echo m > "$1/m.txt"; mkdir "$0/sub"; )~"
      R"~(echo more >> "$0/in.txt"' @W @D)~");
  Task t = TaskWith({{"in.txt", "input\n"}});
  ASSERT_TRUE(fn->Process(t).ok());
  // The modified input and the directory are not outputs.
  EXPECT_THAT(Names(t), ElementsAre("a.txt", "m.txt", "z.txt"));
  EXPECT_EQ(Output(t, "z.txt"), "z\n");
  EXPECT_EQ(Output(t, "a.txt"), "a\n");
  EXPECT_TRUE(RootIsEmpty());
}

TEST_F(CommandFunctionTest, CopiesAnInputWithCp) {
  auto fn = Make("cp @I @D/copy_@N");
  std::string bytes(1024, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  Task t = TaskWith({{"blob.bin", bytes}});
  ASSERT_TRUE(fn->Process(t).ok());
  ASSERT_THAT(Names(t), ElementsAre("copy_blob.bin"));
  EXPECT_EQ(Output(t, "copy_blob.bin"), bytes);
}

// A binary format registered by an application module reaches the command as
// its text form, under the item's own name; the command function knows no format.
TEST_F(CommandFunctionTest, WritesRegisteredBinaryFormatsAsText) {
  static const bool registered = [] {
    RegisterBinaryFormat({"test-format",
                          [](std::string_view b) { return b.starts_with("\x7fTST"); },
                          [](std::string_view b, std::string_view stream) -> Result<std::string> {
                            if (b.substr(4) == "bad") return Status::Corruption("garbled body");
                            return "text of " + std::string(b.substr(4)) + " in " +
                                   std::string(stream) + "\n";
                          }});
    return true;
  }();
  ASSERT_TRUE(registered);
  auto fn = Make("cp @I @D/copy_@N");
  Task t = TaskWith({{"item_00001.txt", "\x7fTSTbody"}});
  ASSERT_TRUE(fn->Process(t).ok());
  ASSERT_THAT(Names(t), ElementsAre("copy_item_00001.txt"));
  EXPECT_EQ(Output(t, "copy_item_00001.txt"), "text of body in s1\n");

  Task bad = TaskWith({{"item_00002.txt", "\x7fTSTbad"}});
  Status s = fn->Process(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("item_00002.txt"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("test-format to text: garbled body"));
  EXPECT_TRUE(RootIsEmpty());
}

TEST_F(CommandFunctionTest, NonZeroExitFailsWithStderrAndCleansUp) {
  auto fn = Make(R"~(sh -c 'echo partial > "$0/out.txt"; echo "bad input" >&2; exit 3' @D)~");
  Task t = TaskWith({{"in.txt", "x"}});
  Status s = fn->Process(t);
  ASSERT_TRUE(s.IsFailed()) << s.ToString();
  EXPECT_THAT(std::string(s.message()), HasSubstr("function 'fn'"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("exit code 3"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("bad input"));
  EXPECT_TRUE(t.outputs.empty());
  EXPECT_TRUE(RootIsEmpty());
}

TEST_F(CommandFunctionTest, TimeoutIsReportedAndCleansUp) {
  auto fn = Make(R"~(sh -c 'echo started >&2; sleep 100')~", 0, 200);
  Task t = TaskWith({{"in.txt", "x"}});
  Status s = fn->Process(t);
  ASSERT_TRUE(s.IsTimeout()) << s.ToString();
  EXPECT_THAT(std::string(s.message()), HasSubstr("timed out"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("started"));
  EXPECT_TRUE(RootIsEmpty());
}

TEST_F(CommandFunctionTest, MissingProgramNamesIt) {
  auto fn = Make("overlay-no-such-program @I");
  Task t = TaskWith({{"in.txt", "x"}});
  Status s = fn->Process(t);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("cannot execute 'overlay-no-such-program': No such file or directory"));
  EXPECT_TRUE(RootIsEmpty());
}

TEST_F(CommandFunctionTest, RelativeProgramResolvesAgainstOurWorkingDirectory) {
  const std::string script = root_.path() + "/tool.sh";
  ASSERT_TRUE(detail::WriteNewFile(script, "#!/bin/sh\necho ran > \"$1/ran.txt\"\n").ok());
  ASSERT_EQ(::chmod(script.c_str(), 0700), 0);
  std::string rel = std::filesystem::relative(script).string();
  ASSERT_NE(rel.front(), '/');
  auto fn = Make(rel + " @D");
  Task t = TaskWith({{"in.txt", "x"}});
  Status s = fn->Process(t);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_THAT(Names(t), ElementsAre("ran.txt"));
}

TEST_F(CommandFunctionTest, BadTemplateIsRejected) {
  FunctionSpec spec;
  spec.name = "fn";
  spec.command = "cat 'unterminated @I";
  Result<std::unique_ptr<Function>> fn = MakeFunction(spec);
  ASSERT_FALSE(fn.ok());
  EXPECT_TRUE(fn.status().IsInvalidArgument());
  EXPECT_THAT(std::string(fn.status().message()), HasSubstr("unterminated single quote"));
  spec.command = "  ";
  EXPECT_FALSE(MakeFunction(spec).ok());
}

// Fails until the third attempt of this stream, counting in its state directory.
constexpr const char* kFlaky =
    R"~(sh -c 'n=$(cat "$OVERLAY_STATE_DIR/n" 2>/dev/null || echo 0); n=$((n+1)); )~"
    R"~(echo $n > "$OVERLAY_STATE_DIR/n"; echo "attempt $n" >&2; [ $n -ge 3 ] || exit 1; )~"
    R"~(echo $n > "$0/done.txt"' @D)~";

TEST_F(CommandFunctionTest, RetriesUntilSuccess) {
  auto fn = Make(kFlaky, /*retries=*/2);
  auto state = fn->NewStream("s1");
  Task t = TaskWith({{"in.txt", "x"}}, state.get());
  Status s = fn->Process(t);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_THAT(Names(t), ElementsAre("done.txt"));
  EXPECT_EQ(Output(t, "done.txt"), "3\n");
}

TEST_F(CommandFunctionTest, GivesUpAfterTheLastRetry) {
  auto fn = Make(kFlaky, /*retries=*/1);
  auto state = fn->NewStream("s1");
  Task t = TaskWith({{"in.txt", "x"}}, state.get());
  Status s = fn->Process(t);
  ASSERT_TRUE(s.IsFailed()) << s.ToString();
  EXPECT_THAT(std::string(s.message()), HasSubstr("(2 attempts)"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("attempt 2"));
  state.reset();
  EXPECT_TRUE(RootIsEmpty());
}

TEST_F(CommandFunctionTest, StatefulCommandGetsAFinalCallAtEndOfStream) {
  // Items accumulate in the state directory; the end-of-stream call writes the
  // summary with @I and @N empty.
  auto fn = Make(
      R"~(sh -c 'if [ -n "$OVERLAY_END_OF_STREAM" ]; then )~"
      R"~(printf "%s[%s][%s][%s]" "$(cat "$OVERLAY_STATE_DIR/acc")" "$1" "$2" "$OVERLAY_STREAM" )~"
      R"~(> "$0/summary.txt"; ls "$3" > "$0/workspace.txt"; )~"
      R"~(else cat "$1" >> "$OVERLAY_STATE_DIR/acc"; fi' @D @I @N @W)~");
  auto state = fn->NewStream("s1");
  for (const char* item : {"a", "b"}) {
    Task t = TaskWith({{std::string(item) + ".txt", item}}, state.get());
    ASSERT_TRUE(fn->Process(t).ok());
    EXPECT_TRUE(t.outputs.empty());
  }
  Task end = TaskWith({}, state.get());
  Status s = fn->EndStream(end);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_THAT(Names(end), ElementsAre("summary.txt", "workspace.txt"));
  EXPECT_EQ(Output(end, "summary.txt"), "ab[][][s1]");
  EXPECT_EQ(Output(end, "workspace.txt"), "");  // an empty workspace
  EXPECT_FALSE(RootIsEmpty());                  // the state directory lives on...
  state.reset();
  EXPECT_TRUE(RootIsEmpty());  // ...until the stream's state is destroyed
}

TEST_F(CommandFunctionTest, NoEndOfStreamCallWhenNoStateWasKept) {
  // This command would write end.txt if it were called at end of stream.
  auto fn = Make(R"~(sh -c 'if [ -n "$OVERLAY_END_OF_STREAM" ]; then echo end > "$0/end.txt"; )~"
                 R"~(else cp "$1" "$0/"; fi' @D @I)~");
  auto state = fn->NewStream("s1");
  Task t = TaskWith({{"in.txt", "x"}}, state.get());
  ASSERT_TRUE(fn->Process(t).ok());
  EXPECT_THAT(Names(t), ElementsAre("in.txt"));
  Task end = TaskWith({}, state.get());
  ASSERT_TRUE(fn->EndStream(end).ok());
  EXPECT_TRUE(end.outputs.empty());
}

TEST_F(CommandFunctionTest, DuplicateInputNamesAreRejected) {
  auto fn = Make("cp @I @D");
  Task t = TaskWith({{"a/x.txt", "1"}, {"b/x.txt", "2"}});
  Status s = fn->Process(t);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_THAT(std::string(s.message()), HasSubstr("x.txt"));
  EXPECT_TRUE(RootIsEmpty());
}

TEST(CommandTemplateTest, SplitsOnWhitespaceAndGroupsQuotes) {
  Result<detail::CommandTemplate> t =
      detail::CommandTemplate::Parse("  a\tb 'c d'e \"f 'g'\" '' x\"\"y  ");
  ASSERT_TRUE(t.ok());
  EXPECT_THAT(t->words(), ElementsAre("a", "b", "c de", "f 'g'", "", "xy"));
}

TEST(CommandTemplateTest, ExpansionNeverSplitsAWord) {
  Result<detail::CommandTemplate> t = detail::CommandTemplate::Parse("prog @I @N@@ @");
  ASSERT_TRUE(t.ok());
  detail::PlaceholderValues v{"/w", "/w/a b.txt", "/d", "a b.txt"};
  EXPECT_THAT(t->Expand(v), ElementsAre("prog", "/w/a b.txt", "a b.txt@", "@"));
}

// Landlock: a command may write in its task directory (@W, @D, $TMPDIR),
// its state directory and /dev/null, and nowhere else, while it reads and
// executes anywhere.
TEST_F(CommandFunctionTest, CommandCannotWriteOutsideItsWorkspace) {
  if (LandlockAbi() == 0) GTEST_SKIP() << "the kernel has no Landlock (needs Linux 5.13+ with "
                                          "landlock in the LSM list): commands run unconfined";
  Result<detail::TempDir> outside = detail::TempDir::Create(::testing::TempDir(), "overlay-outside-");
  ASSERT_TRUE(outside.ok()) << outside.status().ToString();
  const std::string target = outside->path() + "/escaped.txt";

  auto inside = Make(R"~(sh -c 'cat /etc/passwd > /dev/null && echo ok > "$TMPDIR/t" && echo ok > "$0/kept.txt"' @W)~");
  Task ok = TaskWith({{"in.txt", "x"}});
  ASSERT_TRUE(inside->Process(ok).ok());
  EXPECT_THAT(Names(ok), ElementsAre("kept.txt"));

  auto escape = Make("sh -c 'echo bad > \"$0\"' " + target);
  Task bad = TaskWith({{"in.txt", "x"}});
  Status s = escape->Process(bad);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("Permission denied"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("may write only in @W"));
  EXPECT_FALSE(std::filesystem::exists(target));

  // FUNCTION.writable opens that folder, and only it.
  FunctionSpec spec;
  spec.name = "fn";
  spec.command = "sh -c 'echo ok > \"$0\"' " + target;
  spec.workspace_root = root_.path();
  spec.writable = {outside->path()};
  Result<std::unique_ptr<Function>> allowed = MakeFunction(spec);
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  Task granted = TaskWith({{"in.txt", "x"}});
  Status g = (*allowed)->Process(granted);
  EXPECT_TRUE(g.ok()) << g.ToString();
  EXPECT_TRUE(std::filesystem::exists(target));
  EXPECT_TRUE(RootIsEmpty());
}

}  // namespace
}  // namespace overlay
