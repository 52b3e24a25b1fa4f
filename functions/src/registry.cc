// SPDX-License-Identifier: Apache-2.0
// The builtin registry: one table, so `overlay functions`, config validation and
// MakeFunction cannot disagree about what exists. Application modules add
// their functions and binary formats through overlay/function_registry.h.
#include <algorithm>
#include <cstdio>
#include <mutex>

#include "command_function.h"
#include "identity.h"
#include "overlay/function.h"
#include "overlay/function_registry.h"
#include "overlay/suggest.h"

namespace overlay {
namespace {

struct Builtin {
  BuiltinInfo info;
  BuiltinFactory make;
};

// Built on first use, so registrars in other translation units may run in any order.
struct Registry {
  Registry() {
    builtins.push_back(
        {{"identity", "passes its inputs through unchanged (fan-out; invocation overhead)", ""},
         NewIdentity});
  }
  std::mutex mu;
  std::vector<Builtin> builtins;      // sorted by name; guarded by mu
  std::vector<BinaryFormat> formats;  // guarded by mu
};

Registry& TheRegistry() {
  static Registry registry;
  return registry;
}

}  // namespace

void RegisterBuiltin(BuiltinInfo info, BuiltinFactory make) {
  Registry& r = TheRegistry();
  std::lock_guard lock(r.mu);
  auto at = std::lower_bound(r.builtins.begin(), r.builtins.end(), info.name,
                             [](const Builtin& b, const std::string& n) { return b.info.name < n; });
  if (at != r.builtins.end() && at->info.name == info.name) {
    std::fprintf(stderr, "overlay: builtin '%s' registered twice; the first is kept\n",
                 info.name.c_str());
    return;
  }
  r.builtins.insert(at, Builtin{std::move(info), std::move(make)});
}

void RegisterBinaryFormat(BinaryFormat format) {
  Registry& r = TheRegistry();
  std::lock_guard lock(r.mu);
  r.formats.push_back(std::move(format));
}

Result<std::optional<std::string>> TextFormOf(std::string_view bytes, std::string_view stream) {
  Registry& r = TheRegistry();
  std::unique_lock lock(r.mu);
  for (const BinaryFormat& f : r.formats) {
    if (!f.matches(bytes)) continue;
    auto to_text = f.to_text;
    std::string name = f.name;
    lock.unlock();
    Result<std::string> text = to_text(bytes, stream);
    if (!text.ok())
      return Status::InvalidArgument(name + " to text: " + std::string(text.status().message()));
    return std::optional<std::string>(std::move(text).value());
  }
  return std::optional<std::string>();
}

std::vector<BuiltinInfo> ListBuiltins() {
  Registry& r = TheRegistry();
  std::lock_guard lock(r.mu);
  std::vector<BuiltinInfo> out;
  for (const auto& b : r.builtins) out.push_back(b.info);
  return out;
}

Result<std::unique_ptr<Function>> MakeFunction(const FunctionSpec& spec) {
  if (!spec.builtin.empty()) {
    BuiltinFactory make;
    std::vector<std::string> names;
    {
      Registry& r = TheRegistry();
      std::lock_guard lock(r.mu);
      for (const auto& b : r.builtins) {
        if (b.info.name == spec.builtin) make = b.make;
        names.push_back(b.info.name);
      }
    }
    if (make) return make(spec.args);
    return Status::InvalidArgument("unknown builtin '" + spec.builtin + "'" +
                                   DidYouMean(spec.builtin, names));
  }
  if (spec.command.empty())
    return Status::InvalidArgument("function '" + spec.name + "' has neither command nor builtin");
  return NewCommandFunction(spec);
}

}  // namespace overlay
