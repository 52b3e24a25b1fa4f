// SPDX-License-Identifier: Apache-2.0
#include "overlay/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace overlay::metrics {
namespace {

std::string Escape(std::string_view s, bool quote) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote) out += "\\\"";
    else out += c;
  }
  return out;
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

// Labels plus one more pair (a histogram's `le`).
std::string WithLabel(const std::string& rendered, std::string_view name, std::string_view value) {
  std::string extra = fmt::format("{}=\"{}\"", name, value);
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

std::string Header(std::string_view name, std::string_view help, std::string_view type) {
  return fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, Escape(help, false), name, type);
}

}  // namespace

std::string RenderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i)
    out += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, Escape(labels[i].second, true));
  return out + "}";
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double value) {
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

const std::vector<double>& LatencyBounds() {
  static const std::vector<double> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                              0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                              1,      2.5,     5,      10,    30,     60};
  return kBounds;
}

void Samples::Gauge(std::string_view name, std::string_view help, const Labels& labels,
                    double value) {
  Add(name, help, "gauge", labels, value);
}

void Samples::Counter(std::string_view name, std::string_view help, const Labels& labels,
                      double value) {
  Add(name, help, "counter", labels, value);
}

void Samples::Add(std::string_view name, std::string_view help, std::string_view type,
                  const Labels& labels, double value) {
  auto it = families_.find(name);
  if (it == families_.end())
    it = families_.emplace(std::string(name), Family{std::string(help), std::string(type), {}}).first;
  it->second.body += fmt::format("{}{} {}\n", name, RenderLabels(labels), Number(value));
}

Counter& Registry::GetCounter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end())
    it = families_.emplace(std::string(name), Family{std::string(help), "counter", {}, {}}).first;
  auto& series = it->second.counters[RenderLabels(labels)];
  if (!series) series = std::make_unique<Counter>();
  return *series;
}

Histogram& Registry::GetHistogram(std::string_view name, std::string_view help,
                                  const Labels& labels, const std::vector<double>& bounds) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end())
    it = families_.emplace(std::string(name), Family{std::string(help), "histogram", {}, {}}).first;
  auto& series = it->second.histograms[RenderLabels(labels)];
  if (!series) series = std::make_unique<Histogram>(bounds);
  return *series;
}

uint64_t Registry::AddCollector(Collector collector) {
  std::lock_guard lock(mu_);
  collectors_.emplace(next_collector_, std::move(collector));
  return next_collector_++;
}

void Registry::RemoveCollector(uint64_t id) {
  std::lock_guard lock(mu_);
  collectors_.erase(id);
}

std::string Registry::Expose() const {
  std::lock_guard lock(mu_);
  Samples collected;
  for (const auto& [id, collect] : collectors_) collect(collected);
  // name → text, so families from both sources come out sorted together.
  std::map<std::string, std::string, std::less<>> text;
  for (const auto& [name, f] : families_) {
    std::string& out = text[name];
    out = Header(name, f.help, f.type);
    for (const auto& [labels, c] : f.counters)
      out += fmt::format("{}{} {}\n", name, labels, c->value());
    for (const auto& [labels, h] : f.histograms) {
      const std::vector<uint64_t> counts = h->counts();
      uint64_t cumulative = 0;
      for (size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        const double le = i < h->bounds().size() ? h->bounds()[i] : INFINITY;
        out += fmt::format("{}_bucket{} {}\n", name, WithLabel(labels, "le", Number(le)),
                           cumulative);
      }
      out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, labels, Number(h->sum()), name,
                         labels, cumulative);
    }
  }
  for (const auto& [name, f] : collected.families_) {
    auto [it, fresh] = text.try_emplace(name);
    if (fresh) it->second = Header(name, f.help, f.type);
    it->second += f.body;
  }
  std::string out;
  for (const auto& [name, t] : text) out += t;
  return out;
}

}  // namespace overlay::metrics
