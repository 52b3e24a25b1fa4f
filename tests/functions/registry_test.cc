// SPDX-License-Identifier: Apache-2.0
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "overlay/function.h"

namespace overlay {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

TEST(RegistryTest, ListsTheEcgBuiltinsSorted) {
  std::vector<BuiltinInfo> builtins = ListBuiltins();
  std::vector<std::string> names;
  for (const BuiltinInfo& b : builtins) {
    names.push_back(b.name);
    EXPECT_FALSE(b.summary.empty()) << b.name;
  }
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_THAT(names, Contains("sensor_simulator"));
  EXPECT_THAT(names, Contains("qrs_detector"));
  EXPECT_THAT(names, Contains("identity"));
  EXPECT_THAT(names, Contains("ecg_visualizer"));
}

TEST(RegistryTest, BuildsABuiltinByName) {
  FunctionSpec spec;
  spec.name = "viz";
  spec.builtin = "ecg_visualizer";
  spec.args = {"30"};
  Result<std::unique_ptr<Function>> fn = MakeFunction(spec);
  ASSERT_TRUE(fn.ok()) << fn.status().ToString();
  EXPECT_NE(fn->get(), nullptr);
}

TEST(RegistryTest, PassesBuiltinArgumentErrorsThrough) {
  FunctionSpec spec;
  spec.name = "viz";
  spec.builtin = "ecg_visualizer";
  spec.args = {"strip_seconds=-1"};
  Result<std::unique_ptr<Function>> fn = MakeFunction(spec);
  ASSERT_FALSE(fn.ok());
  EXPECT_THAT(std::string(fn.status().message()), HasSubstr("strip_seconds"));
}

TEST(RegistryTest, UnknownBuiltinSuggestsTheNearestName) {
  FunctionSpec spec;
  spec.name = "q";
  spec.builtin = "qrs_detectr";
  Result<std::unique_ptr<Function>> fn = MakeFunction(spec);
  ASSERT_FALSE(fn.ok());
  EXPECT_TRUE(fn.status().IsInvalidArgument());
  EXPECT_THAT(std::string(fn.status().message()), HasSubstr("unknown builtin 'qrs_detectr'"));
  EXPECT_THAT(std::string(fn.status().message()), HasSubstr("did you mean 'qrs_detector'"));
}

TEST(RegistryTest, CommandBecomesACommandFunction) {
  FunctionSpec spec;
  spec.name = "copy";
  spec.command = "cp @I @D";
  Result<std::unique_ptr<Function>> fn = MakeFunction(spec);
  ASSERT_TRUE(fn.ok()) << fn.status().ToString();
  EXPECT_NE(fn->get(), nullptr);
}

TEST(RegistryTest, NeitherCommandNorBuiltinIsAnError) {
  FunctionSpec spec;
  spec.name = "empty";
  Result<std::unique_ptr<Function>> fn = MakeFunction(spec);
  ASSERT_FALSE(fn.ok());
  EXPECT_THAT(std::string(fn.status().message()), HasSubstr("'empty'"));
}

TEST(RegistryTest, IdentityPassesInputsThrough) {
  FunctionSpec spec;
  spec.name = "id";
  spec.builtin = "identity";
  auto fn = MakeFunction(spec);
  ASSERT_TRUE(fn.ok()) << fn.status().ToString();
  Task t;
  t.inputs.push_back({"a.txt", Blob::FromString("bytes")});
  ASSERT_TRUE((*fn)->Process(t).ok());
  ASSERT_EQ(t.outputs.size(), 1u);
  EXPECT_EQ(t.outputs[0].name, "a.txt");
  EXPECT_EQ(t.outputs[0].data.data(), t.inputs[0].data.data());  // no copy
  spec.args = {"x"};
  EXPECT_TRUE(MakeFunction(spec).status().IsInvalidArgument());
}

}  // namespace
}  // namespace overlay
