// SPDX-License-Identifier: Apache-2.0
// The Python twins of the ECG functions (functions/ecg/python/) must write the
// same bytes as the native functions: same chunks (the text form of the
// native binary chunks), same beats. The Python detector does not classify
// beats: its beats files are the native ones without the class column.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ecg_chunk.h"
#include "ecg_functions.h"
#include "ecg_test_util.h"

extern char** environ;

namespace overlay::ecg {
namespace {

namespace fs = std::filesystem;

std::string FindPython() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string d; std::getline(dirs, d, ':');) {
    std::string p = d + "/python3";
    if (!d.empty() && ::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// Runs argv (no shell) with `env` added to PATH; returns the exit status, or
// -1 when it could not start or ran longer than 120 s (then it is killed).
int RunCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  std::vector<std::string> envs = env;
  if (const char* p = std::getenv("PATH")) envs.push_back(std::string("PATH=") + p);
  std::vector<char*> a, e;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  for (const auto& s : envs) e.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  e.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, a[0], nullptr, nullptr, a.data(), e.data()) != 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// A native beats file as the Python detector writes it: without the class
// column (the last field of the header and of every row).
std::string WithoutClassColumn(std::string_view text) {
  std::string out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line[0] != '#') line = line.substr(0, line.rfind(','));
    out.append(line);
    out.push_back('\n');
  }
  return out;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
}

class PythonEquivalence : public ::testing::Test {
 protected:
  void SetUp() override {
    python_ = FindPython();
    if (python_.empty()) GTEST_SKIP() << "python3 not found on PATH: Python twins not checked";
    char tmpl[] = "/tmp/overlay_ecg_py_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  std::string Script(const char* name) const {
    return std::string(OVERLAY_SOURCE_DIR) + "/functions/ecg/python/" + name;
  }

  // Feeds `input` (named `file`) through both implementations and compares
  // every chunk and beats file byte for byte.
  void Compare(const std::string& file, const std::string& input, int chunk) {
    const std::string stem = file.substr(0, file.rfind('.'));
    WriteFile(dir_ / file, input);
    // Chunks.
    fs::path py_chunks = dir_ / "py_chunks";
    ASSERT_EQ(RunCommand({python_, Script("sensor_simulator.py"), (dir_ / file).string(),
                          py_chunks.string(), std::to_string(chunk)},
                         {}),
              0);
    auto sim = NewSensorSimulator({std::to_string(chunk)});
    ASSERT_TRUE(sim.ok());
    Task st;
    st.stream = stem;
    st.inputs.push_back({file, Blob::FromString(input)});
    ASSERT_TRUE((*sim)->Process(st).ok());
    size_t py_files = 0;
    for (const auto& e : fs::directory_iterator(py_chunks)) py_files += e.is_regular_file();
    ASSERT_EQ(py_files, st.outputs.size());
    // The native chunks are binary; their text form (what a command function
    // receives) must be the Python chunk file, byte for byte.
    std::vector<std::string> texts;
    for (const auto& out : st.outputs) {
      ASSERT_TRUE(IsBinaryChunk(out.data.view())) << out.name;
      Result<std::string> text = ChunkText(out.data.view(), stem);
      ASSERT_TRUE(text.ok()) << text.status().ToString();
      ASSERT_EQ(ReadFile(py_chunks / out.name), *text) << out.name;
      texts.push_back(std::move(text).value());
    }

    // Native beats, one task per chunk.
    auto qrs = NewQrsDetector({});
    ASSERT_TRUE(qrs.ok());
    std::unique_ptr<StreamState> state = (*qrs)->NewStream(stem);
    std::vector<NamedBlob> native;
    for (const auto& c : st.outputs) {
      Task t;
      t.stream = stem;
      t.state = state.get();
      t.inputs.push_back(c);
      ASSERT_TRUE((*qrs)->Process(t).ok());
      native.insert(native.end(), t.outputs.begin(), t.outputs.end());
    }
    Task end;
    end.stream = stem;
    end.state = state.get();
    ASSERT_TRUE((*qrs)->EndStream(end).ok());
    native.push_back(end.outputs.at(0));
    size_t beats = 0;
    for (const auto& b : native)
      beats += std::count(b.data.view().begin(), b.data.view().end(), '\n') - 3;
    EXPECT_GT(beats, 10u);

    // Python, stateful: one call per chunk, then the end-of-stream call.
    const std::vector<std::string> env = {"OVERLAY_STATE_DIR=" + (dir_ / "state").string(),
                                          "OVERLAY_STREAM=" + stem};
    for (size_t i = 0; i < st.outputs.size(); ++i) {
      fs::path w = dir_ / ("w" + std::to_string(i));
      fs::create_directories(w);
      WriteFile(w / st.outputs[i].name, texts[i]);
      ASSERT_EQ(RunCommand({python_, Script("qrs_detector.py"), w.string()}, env), 0) << i;
      ASSERT_EQ(ReadFile(w / native[i].name), WithoutClassColumn(native[i].data.view()))
          << native[i].name;
    }
    fs::path w_end = dir_ / "w_end";
    fs::create_directories(w_end);
    std::vector<std::string> end_env = env;
    end_env.push_back("OVERLAY_END_OF_STREAM=1");
    ASSERT_EQ(RunCommand({python_, Script("qrs_detector.py"), w_end.string()}, end_env), 0);
    EXPECT_EQ(ReadFile(w_end / native.back().name), WithoutClassColumn(native.back().data.view()));

    // Python, stateless on the whole stream at once.
    ASSERT_EQ(RunCommand({python_, Script("qrs_detector.py"), py_chunks.string()},
                         {"OVERLAY_STREAM=" + stem}),
              0);
    for (const auto& b : native)
      EXPECT_EQ(ReadFile(py_chunks / b.name), WithoutClassColumn(b.data.view())) << b.name;
  }

  std::string python_;
  fs::path dir_;
};

TEST_F(PythonEquivalence, SyntheticPatientAt360Hz) {
  Compare("patient.txt",
          "# overlay-synthetic-ecg\nduration_s = 60\nhr_bpm = 85\nseed = 9\nnoise_mv = 0.04\n"
          "wander_mv = 0.2\nmains_mv = 0.02\npvc_fraction = 0.08\n",
          2000);
}

TEST_F(PythonEquivalence, SyntheticPatientAt250Hz) {
  Compare("fast.txt",
          "# overlay-synthetic-ecg\nfs = 250\nduration_s = 40\nhr_bpm = 130\nseed = 77\n"
          "noise_mv = 0.05\n",
          1000);
}

TEST_F(PythonEquivalence, MitBihRecordingExcerpt) {
  const fs::path signal = fs::path(testing::SharedEcgDir()) / "203" / "signal.txt";
  if (!fs::exists(signal)) GTEST_SKIP() << "no MIT-BIH record 203 at " << signal;
  std::ifstream in(signal);
  std::string text, line;
  for (int i = 0; i < 3 + 360 * 40 && std::getline(in, line); ++i) text += line + "\n";
  Compare("rec203.txt", text, 1000);
}

}  // namespace
}  // namespace overlay::ecg
