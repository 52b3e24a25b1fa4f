// SPDX-License-Identifier: Apache-2.0
// Metrics in the Prometheus text exposition format (version 0.0.4): a
// Registry of counters and histograms, each a family (a name, a help line)
// with one series per label set, plus collectors that add samples read from
// elsewhere (tier counters, heartbeat ages) when the registry is exposed.
// MetricsServer (core) serves Expose() over HTTP.
#ifndef OVERLAY_BASE_METRICS_H_
#define OVERLAY_BASE_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace overlay::metrics {

// (name, value) pairs, in the order given.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A monotonic count. Thread-safe; Add is one relaxed atomic add.
class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Observations counted in buckets with fixed upper bounds, plus their sum.
// Thread-safe.
class Histogram {
 public:
  // `bounds`: increasing upper bounds; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // Per bucket (not cumulative), the +Inf one last.
  std::vector<uint64_t> counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Task latencies, in seconds: 100 µs to 60 s.
const std::vector<double>& LatencyBounds();

// Samples a collector adds at exposition time. Not thread-safe (one per Expose).
class Samples {
 public:
  void Gauge(std::string_view name, std::string_view help, const Labels& labels, double value);
  void Counter(std::string_view name, std::string_view help, const Labels& labels, double value);

 private:
  friend class Registry;
  struct Family {
    std::string help, type, body;
  };
  void Add(std::string_view name, std::string_view help, std::string_view type,
           const Labels& labels, double value);
  std::map<std::string, Family, std::less<>> families_;
};

// Thread-safety: every method from any thread. Ownership: owns its series;
// references handed out stay valid as long as the registry.
class Registry {
 public:
  using Collector = std::function<void(Samples&)>;

  // The series of `name` with `labels`, made on first use. `help` is taken
  // from the first call. REQUIRES: `name` is not used for another type.
  Counter& GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& GetHistogram(std::string_view name, std::string_view help, const Labels& labels = {},
                          const std::vector<double>& bounds = LatencyBounds());

  // Runs `collector` at every Expose until RemoveCollector(the returned id).
  // It runs with the registry's lock held: it must not call the registry.
  uint64_t AddCollector(Collector collector);
  void RemoveCollector(uint64_t id);

  // Every family, sorted by name, in the text format.
  std::string Expose() const;

 private:
  struct Family {
    std::string help;
    std::string type;  // "counter" or "histogram"
    std::map<std::string, std::unique_ptr<Counter>> counters;  // by rendered labels
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
  std::map<uint64_t, Collector> collectors_;
  uint64_t next_collector_ = 1;
};

// `labels` as `{a="x",b="y"}` (empty for none), values escaped as the format
// requires.
std::string RenderLabels(const Labels& labels);

}  // namespace overlay::metrics

#endif  // OVERLAY_BASE_METRICS_H_
