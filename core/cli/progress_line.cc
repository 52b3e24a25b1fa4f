// SPDX-License-Identifier: Apache-2.0
#include "progress_line.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iterator>

namespace overlay {
namespace {

std::string Bytes(double b) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB"};
  size_t unit = 0;
  for (; unit + 1 < std::size(kUnits) && b >= 1000; ++unit) b /= 1000;
  return unit == 0 ? fmt::format("{:.0f} B", b) : fmt::format("{:.1f} {}", b, kUnits[unit]);
}

std::string Clock(double seconds) {
  long s = std::lround(seconds);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

std::string ProgressText(const Progress& p, double seconds) {
  std::string line;
  for (const auto& s : p.stages) {
    line += fmt::format("{}{} {}", line.empty() ? "" : ", ", s.name, s.tasks_ok);
    if (s.tasks_failed > 0) line += fmt::format(" ({} failed)", s.tasks_failed);
    if (s.tasks_reused > 0) line += fmt::format(" ({} reused)", s.tasks_reused);
  }
  if (p.stages.empty())
    line = fmt::format("tasks {} ok{}", p.tasks_ok,
                       p.tasks_failed > 0 ? fmt::format(", {} failed", p.tasks_failed) : "");
  // The input's share consumed: by bytes when the executor counts them,
  // else by streams finished.
  double done = 0;
  if (p.input_bytes_total > 0)
    done = static_cast<double>(p.input_bytes_read) / static_cast<double>(p.input_bytes_total);
  else if (p.streams_total > 0)
    done = static_cast<double>(p.streams_done) / static_cast<double>(p.streams_total);
  line += fmt::format(" | streams {}/{} | input {:.0f}%", p.streams_done, p.streams_total,
                      100 * done);
  if (p.input_bytes_read > 0 && seconds > 0)
    line += fmt::format(" | {}/s", Bytes(static_cast<double>(p.input_bytes_read) / seconds));
  if (done > 0 && done < 1) line += fmt::format(" | ETA {}", Clock(seconds * (1 - done) / done));
  else if (done < 1) line += " | ETA --:--";
  line += fmt::format(" | {}", Clock(seconds));
  return line;
}

std::string WaitingText(const std::vector<EndpointContact>& contacts, const PipelineSpec& spec) {
  std::string out;
  for (const EndpointContact& c : contacts) {
    if (!c.busy || c.silent < std::chrono::seconds(1)) continue;
    std::string name = c.endpoint;
    for (const EndpointDecl& e : spec.endpoints)
      if (e.address == c.endpoint) name = e.name;
    out += fmt::format("{}{} ({} s)", out.empty() ? "waiting for " : ", ", name,
                       std::chrono::duration_cast<std::chrono::seconds>(c.silent).count());
  }
  return out;
}

ProgressLine::ProgressLine(Progress start, bool enabled)
    : last_(std::move(start)), start_(std::chrono::steady_clock::now()) {
  if (!enabled || !::isatty(STDERR_FILENO)) {
    stop_ = true;
    return;
  }
  Draw();  // at once: the line is there before the first task ends
  ticker_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stop_; })) Draw();
  });
}

ProgressLine::~ProgressLine() { Done(); }

void ProgressLine::Update(const Progress& p) {
  std::lock_guard lock(mu_);
  const uint64_t bytes_total = last_.input_bytes_total;
  const size_t streams_total = last_.streams_total;
  std::vector<StageProgress> stages = std::move(last_.stages);
  last_ = p;
  if (last_.input_bytes_total == 0) last_.input_bytes_total = bytes_total;
  if (last_.streams_total == 0) last_.streams_total = streams_total;
  if (last_.stages.empty()) last_.stages = std::move(stages);
}

void ProgressLine::SetSuffix(std::function<std::string()> suffix) {
  std::lock_guard lock(mu_);
  suffix_ = std::move(suffix);
}

void ProgressLine::Done() {
  {
    std::lock_guard lock(mu_);
    if (!ticker_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  ticker_.join();
  std::lock_guard lock(mu_);
  Draw();
  fmt::print(stderr, "\n");
}

// REQUIRES: mu_ held.
void ProgressLine::Draw() {
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // "\r" returns to the line's start, "\x1b[K" clears what a longer line left.
  std::string line = ProgressText(last_, s);
  if (suffix_) {
    const std::string extra = suffix_();
    if (!extra.empty()) line += " | " + extra;
  }
  fmt::print(stderr, "\r{}\x1b[K", line);
  std::fflush(stderr);
}

}  // namespace overlay
