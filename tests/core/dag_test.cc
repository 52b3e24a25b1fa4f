// SPDX-License-Identifier: Apache-2.0
#include "overlay/dag.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace overlay {
namespace {

PipelineSpec Parse(const std::string& stages) {
  auto spec = ParseConfigText("[FUNCTION]\nname = f\nbuiltin = qrs_detector\n[END]\n" + stages,
                              "d.cfg", "/base");
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  return *spec;
}

std::string Stage(const std::string& name, const std::string& source) {
  return "[STAGE]\nname = " + name + "\nsource = " + source + "\ntransformation = f\n[END]\n";
}

TEST(Dag, ResolvesSourcesAndOrdersTopologically) {
  // Declared out of order: c depends on b, b on a.
  PipelineSpec spec = Parse(Stage("c", "a, b") + Stage("b", "a") + Stage("a", "input"));
  auto dag = BuildDag(spec);
  ASSERT_TRUE(dag.ok()) << dag.status().ToString();
  ASSERT_EQ(dag->order, (std::vector<int>{2, 1, 0}));
  EXPECT_EQ(dag->sinks, std::vector<int>{0});
  const DagStage& a = dag->stages[2];
  ASSERT_EQ(a.sources.size(), 1u);
  EXPECT_EQ(a.sources[0].stage, -1);
  EXPECT_EQ(a.sources[0].dir, "/base/input");
  EXPECT_EQ(a.successors, (std::vector<int>{0, 1}));
  EXPECT_EQ(dag->stages[0].sources[1].stage, 1);
}

TEST(Dag, AbsoluteDirectoryStaysAbsolute) {
  auto dag = BuildDag(Parse(Stage("a", "/data/ecg")));
  ASSERT_TRUE(dag.ok());
  EXPECT_EQ(dag->stages[0].sources[0].dir, "/data/ecg");
}

TEST(Dag, CycleNamesItsStages) {
  auto dag = BuildDag(Parse(Stage("a", "in") + Stage("b", "a, d") + Stage("c", "b") +
                            Stage("d", "c")));
  ASSERT_FALSE(dag.ok());
  EXPECT_THAT(std::string(dag.status().message()), ::testing::HasSubstr("cycle: b, c, d"));
}

TEST(Dag, DescribeShowsEdgesAndResults) {
  PipelineSpec spec = Parse(Stage("a", "in") + Stage("b", "a"));
  auto dag = BuildDag(spec);
  ASSERT_TRUE(dag.ok());
  std::string d = dag->Describe(spec);
  EXPECT_THAT(d, ::testing::HasSubstr("dir:/base/in -> a [f: builtin qrs_detector] on local\n"));
  EXPECT_THAT(d, ::testing::HasSubstr("a -> b [f: builtin qrs_detector] on local  (result)\n"));
}

TEST(Dag, DescribeShowsEndpointsAndFallbacks) {
  PipelineSpec spec = Parse(
      "[ENDPOINT]\nname = fog\naddress = tcp://10.0.0.2:7001\nfallback = edge\n"
      "fallback_after = 2s\n[END]\n[ENDPOINT]\nname = edge\n[END]\n"
      "[STAGE]\nname = a\nsource = in\ntransformation = f\nendpoint = fog\n[END]\n");
  auto dag = BuildDag(spec);
  ASSERT_TRUE(dag.ok());
  EXPECT_THAT(dag->Describe(spec),
              ::testing::HasSubstr("on fog at tcp://10.0.0.2:7001, else edge after 2000 ms of "
                                   "silence  (result)\n"));
}

}  // namespace
}  // namespace overlay
