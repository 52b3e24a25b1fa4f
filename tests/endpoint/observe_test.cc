// SPDX-License-Identifier: Apache-2.0
// What an operator sees: the endpoint daemon's event log and Prometheus
// metrics (checked with promtool), and `overlay run` giving up on an
// endpoint that never answers (ENDPOINT.lost_after).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "endpoint_fixtures.h"
#include "overlay/function_manager.h"
#include "overlay/process_runner.h"

namespace overlay {
namespace {

using namespace std::chrono_literals;
using namespace endpoint_test;

// GET http://HOST:PORT/PATH over a plain socket; the body, or "" on failure.
std::string HttpGet(const std::string& host_port, const std::string& path) {
  const size_t colon = host_port.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))));
  inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &a.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: test\r\n\r\n";
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) response.append(buf, n);
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  // civetweb answers in the request's version: HTTP/1.0 here.
  if (response.rfind("HTTP/1.0 200", 0) != 0 || body == std::string::npos) return "";
  return response.substr(body + 4);
}

// The sum of every sample of `metric` whose labels contain `match`.
double Sum(const std::string& text, const std::string& metric, const std::string& match) {
  double sum = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(metric + "{", 0) != 0 || line.find(match) == std::string::npos) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// `promtool check metrics` on `text`; "" when it passes, else why not.
std::string Promtool(const std::string& text, const std::filesystem::path& dir) {
  const std::string file = (dir / "metrics.txt").string();
  std::ofstream(file) << text;
  RunOptions o;
  // promtool reads the metrics on its standard input only.
  o.argv = {"/bin/sh", "-c", "exec promtool check metrics < \"$0\"", file};
  o.timeout_ms = 30000;
  auto r = RunProcess(o);
  if (!r.ok()) return r.status().ToString();
  return r->success() ? "" : r->Describe() + "\n" + r->StderrTail();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(EndpointObserve, MetricsCountEveryTaskAndPassPromtoolAndTheLogSaysWhatHappened) {
  const std::string name = Unique("observed");
  const std::string address = "tcp://127.0.0.1:" + std::to_string(FreePort());
  const std::string metrics = "127.0.0.1:" + std::to_string(FreePort());
  ChildEndpoint ep(name, address,
                   "[FUNCTION]\nname = qrs\nbuiltin = qrs_detector\n[END]\n[ENDPOINT]\nname = " +
                       name + "\naddress = " + address + "\nworkers = 2\nmetrics_address = " +
                       metrics + "\n[END]\n[STORAGE]\nmemory = 32MiB\n[END]\n");
  ASSERT_TRUE(ep.Start());
  const std::filesystem::path dir = std::filesystem::path(ep.log()).parent_path();
  const std::string before = HttpGet(metrics, "/metrics");
  ASSERT_FALSE(before.empty()) << "no metrics at " << metrics;
  const double done_before =
      Sum(before, "overlay_tasks_finished_total", "outcome=\"done\"");

  ClientStore store(Unique("observe-client"));
  ASSERT_TRUE(store.ok());
  FunctionManagerOptions o;
  o.store = &store;
  auto fm = FunctionManager::Create(o);
  ASSERT_TRUE(fm.ok()) << fm.status().ToString();
  const std::string stream = "ward/observed";
  std::vector<NamedBlob> chunks = Chunks(stream);
  size_t tasks = 0;
  for (size_t i = 0; i <= chunks.size(); ++i, ++tasks) {
    TaskSpec t{address, "qrs", {}, {}, "detect", stream, i, i == chunks.size()};
    t.position = i;
    if (i < chunks.size()) {
      auto key = store.Put(chunks[i].data.view());
      ASSERT_TRUE(key.ok());
      t.inputs = {key->key()->ToHex()};
      t.input_names = {chunks[i].name};
    }
    TaskOutcome got = (*fm)->Call(t);
    ASSERT_TRUE(got.status.ok()) << got.status.ToString();
  }
  TaskOutcome failed = (*fm)->Call(TaskSpec{address, "nope", {}, {}, "broken"});
  ASSERT_FALSE(failed.status.ok());

  const std::string after = HttpGet(metrics, "/metrics");
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(Sum(after, "overlay_tasks_finished_total", "outcome=\"done\"") - done_before,
            static_cast<double>(tasks))
      << after;
  EXPECT_EQ(Sum(after, "overlay_tasks_finished_total", "outcome=\"failed\""), 1) << after;
  EXPECT_EQ(Sum(after, "overlay_task_duration_seconds_count", "stage=\"detect\""),
            static_cast<double>(tasks));
  EXPECT_GT(Sum(after, "overlay_transport_bytes_total", "transport=\"zeromq\""), 0);
  EXPECT_GT(Sum(after, "overlay_tier_reads_total", "tier=\"L1\""), 0);
  EXPECT_NE(after.find("overlay_peer_heartbeat_age_seconds{"), std::string::npos) << after;
  EXPECT_TRUE(HttpGet(metrics, "/other").empty());
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    std::printf("promtool not found (Debian package prometheus): format not checked\n");
  } else {
    EXPECT_EQ(Promtool(after, dir), "") << after;
  }

  EXPECT_TRUE(WIFEXITED(ep.Signal(SIGTERM)));
  const std::string log = ReadFile(ep.log());
  // Timestamp and level on every line.
  const std::regex line(
      R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d \[(info|warning|error)\] .*)");
  std::istringstream lines(log);
  int count = 0;
  for (std::string l; std::getline(lines, l); ++count)
    EXPECT_TRUE(std::regex_match(l, line)) << l;
  EXPECT_GE(count, 4) << log;
  EXPECT_NE(log.find("[info] endpoint " + name + " started"), std::string::npos) << log;
  EXPECT_NE(log.find("metrics at http://" + metrics + "/metrics"), std::string::npos) << log;
  EXPECT_NE(log.find("[warning] task"), std::string::npos) << log;
  EXPECT_NE(log.find("stage 'broken' (nope)"), std::string::npos) << log;
  EXPECT_NE(log.find("stopping on SIGTERM"), std::string::npos) << log;
  EXPECT_NE(log.find("[info] endpoint " + name + " stopped"), std::string::npos) << log;
}

// `overlay run --metrics-address` serves the run's metrics while it runs:
// three items pass stage `copied`, and in stage `gated` item p0 waits (on a
// worker thread) until the test has scraped the metrics and opens the gate.
TEST(EndpointObserve, RunLiveServesItsMetricsWhileItRuns) {
  if (std::thread::hardware_concurrency() < 2)
    GTEST_SKIP() << "one core: the waiting item would hold the run's only worker thread";
  const auto dir = std::filesystem::temp_directory_path() / Unique("live-run");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "in");
  constexpr int kItems = 3;
  for (int i = 0; i < kItems; ++i) std::ofstream(dir / "in" / ("p" + std::to_string(i))) << i;
  const std::string gate = (dir / "gate").string();
  // Bounded: the gate gives up after 20 s.
  std::ofstream(dir / "live.cfg")
      << "[FUNCTION]\nname = copy\ncommand = cp @I @D/\n[END]\n"
         "[FUNCTION]\nname = wait\ncommand = sh -c 'if [ \"$(basename \"$1\")\" = p0 ]; then n=0; "
         "while [ ! -e \"$0\" ] && [ $n -lt 400 ]; do sleep 0.05; n=$((n+1)); done; fi; "
         "cp \"$1\" \"$2\"/' "
      << gate
      << " @I @D\n[END]\n"
         "[STAGE]\nname = copied\nsource = in\ntransformation = copy\n[END]\n"
         "[STAGE]\nname = gated\nsource = copied\ntransformation = wait\n[END]\n"
         "[STORAGE]\nmemory = 8MiB\ndisk = none\n[END]\n";
  const std::string metrics = "127.0.0.1:" + std::to_string(FreePort());
  const std::string segment = Unique("live-run");
  RunOptions o;
  o.argv = {std::string(OVERLAY_BINARY_DIR) + "/core/overlay", "run", (dir / "live.cfg").string(),
            "-q", "--segment", segment, "--out", (dir / "out").string(),
            "--metrics-address", metrics};
  o.timeout_ms = 60000;
  Result<RunResult> run = Status::Failed("not run");
  std::thread runner([&] { run = RunProcess(o); });

  // Scraped until all but p0 are through (bounded: 10 s).
  const std::string done = "function=\"copy\",outcome=\"done\"";
  const std::string gated = "stage=\"gated\"";
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text = HttpGet(metrics, "/metrics");
    if (!text.empty() && Sum(text, "overlay_tasks_finished_total", done) >= kItems &&
        Sum(text, "overlay_tasks_finished_total", gated) >= kItems - 1)
      break;
    std::this_thread::sleep_for(50ms);
  }
  const std::string during = text;
  std::ofstream(gate) << "open";
  runner.join();
  (void)storage::ShmCache::Remove(segment);

  ASSERT_FALSE(during.empty()) << "no metrics at " << metrics;
  EXPECT_EQ(Sum(during, "overlay_tasks_finished_total", done), kItems) << during;
  EXPECT_EQ(Sum(during, "overlay_task_duration_seconds_count", "stage=\"copied\""), kItems);
  // Still running: p0 waits in `gated`.
  EXPECT_EQ(Sum(during, "overlay_tasks_started_total", gated), kItems) << during;
  EXPECT_EQ(Sum(during, "overlay_tasks_finished_total", gated), kItems - 1) << during;
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    std::printf("promtool not found (Debian package prometheus): format not checked\n");
  } else {
    EXPECT_EQ(Promtool(during, dir), "") << during;
  }
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_TRUE(run->success()) << run->Describe() << "\n" << run->StderrTail();
  EXPECT_NE(run->StderrTail().find("metrics at http://" + metrics + "/metrics"), std::string::npos)
      << run->StderrTail();
  std::error_code ec;
  int outputs = 0;
  for (std::filesystem::directory_iterator it(dir / "out" / "gated", ec), end; !ec && it != end;
       it.increment(ec))
    ++outputs;
  EXPECT_EQ(outputs, kItems);
  // Served during the run only.
  EXPECT_TRUE(HttpGet(metrics, "/metrics").empty());
  std::filesystem::remove_all(dir);
}

// An endpoint whose socket accepts connections but never answers, no
// fallback: `overlay run` gives up after its lost_after, naming it, lists the
// failed items and exits 1.
TEST(EndpointObserve, RunGivesUpOnAnEndpointThatNeverAnswers) {
  const auto dir = std::filesystem::temp_directory_path() / Unique("lost-after");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "in");
  std::ofstream(dir / "in" / "p1.txt") << kPatient;
  // Bound and listening: connections complete, nothing is ever read.
  const int silent = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(bind(silent, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(silent, 16), 0);
  ASSERT_EQ(getsockname(silent, reinterpret_cast<sockaddr*>(&a), &len), 0);
  std::ofstream(dir / "cloud.cfg")
      << "[FUNCTION]\nname = sim\nbuiltin = sensor_simulator\nargs = 1000\n[END]\n"
         "[FUNCTION]\nname = qrs\nbuiltin = qrs_detector\n[END]\n"
         "[STAGE]\nname = sensor\nsource = "
      << (dir / "in").string()
      << "\ntransformation = sim\n[END]\n"
         "[STAGE]\nname = detect\nsource = sensor\ntransformation = qrs\nendpoint = cloud\n[END]\n"
         "[ENDPOINT]\nname = cloud\naddress = tcp://127.0.0.1:"
      << ntohs(a.sin_port) << "\nlost_after = 2s\n[END]\n";
  const std::string segment = Unique("lost-after-client");
  RunOptions o;
  o.argv = {std::string(OVERLAY_BINARY_DIR) + "/core/overlay", "run", (dir / "cloud.cfg").string(),
            "-q", "--segment", segment};
  o.timeout_ms = 60000;
  const auto start = std::chrono::steady_clock::now();
  auto r = RunProcess(o);
  const auto took = std::chrono::steady_clock::now() - start;
  close(silent);
  (void)storage::ShmCache::Remove(segment);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->term_signal == 0 && !r->timed_out && r->exit_code == 1) << r->Describe() << "\n" << r->StderrTail();
  // Generous: a behaviour bound, not a timing (2 s heartbeat, then lost_after).
  EXPECT_LT(took, 10s);
  const std::string err = r->StderrTail(1 << 20);
  EXPECT_NE(err.find("giving up on endpoint 'cloud'"), std::string::npos) << err;
  EXPECT_NE(err.find("FAILED stage detect"), std::string::npos) << err;
  EXPECT_NE(err.find("lost_after"), std::string::npos) << err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace overlay
