// SPDX-License-Identifier: Apache-2.0
#include "overlay/metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace overlay::metrics {
namespace {

TEST(MetricsRegistry, ExposesFamiliesSortedWithOneHeaderEach) {
  Registry r;
  r.GetCounter("b_total", "B things", {{"x", "1"}}).Add(2);
  r.GetCounter("b_total", "ignored", {{"x", "2"}}).Add();
  r.GetCounter("b_total", "B things", {{"x", "1"}}).Add(3);  // the same series
  r.AddCollector([](Samples& out) {
    out.Gauge("a_age_seconds", "Age", {{"peer", "say \"hi\"\n\\"}}, 1.5);
    out.Counter("b_total", "B things", {{"x", "3"}}, 7);
  });
  EXPECT_EQ(r.Expose(),
            "# HELP a_age_seconds Age\n# TYPE a_age_seconds gauge\n"
            "a_age_seconds{peer=\"say \\\"hi\\\"\\n\\\\\"} 1.5\n"
            "# HELP b_total B things\n# TYPE b_total counter\n"
            "b_total{x=\"1\"} 5\nb_total{x=\"2\"} 1\nb_total{x=\"3\"} 7\n");
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  Histogram& h = r.GetHistogram("t_seconds", "T", {{"stage", "s"}}, {0.125, 1});
  h.Observe(0.0625);
  h.Observe(0.125);  // on a bound: counted in that bucket
  h.Observe(0.5);
  h.Observe(4);
  EXPECT_EQ(r.Expose(),
            "# HELP t_seconds T\n# TYPE t_seconds histogram\n"
            "t_seconds_bucket{stage=\"s\",le=\"0.125\"} 2\n"
            "t_seconds_bucket{stage=\"s\",le=\"1\"} 3\n"
            "t_seconds_bucket{stage=\"s\",le=\"+Inf\"} 4\n"
            "t_seconds_sum{stage=\"s\"} 4.6875\nt_seconds_count{stage=\"s\"} 4\n");
}

TEST(MetricsRegistry, RemovedCollectorsAddNothing) {
  Registry r;
  const uint64_t id = r.AddCollector([](Samples& out) { out.Gauge("g", "G", {}, 1); });
  EXPECT_EQ(r.Expose(), "# HELP g G\n# TYPE g gauge\ng 1\n");
  r.RemoveCollector(id);
  EXPECT_EQ(r.Expose(), "");
}

}  // namespace
}  // namespace overlay::metrics
