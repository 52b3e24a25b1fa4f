// SPDX-License-Identifier: Apache-2.0
// How application modules (e.g. functions/ecg) plug into the functions module
// without it knowing them: they register their native functions, and the
// binary formats whose text form command functions receive. Register from a
// static initializer (see functions/ecg/ecg_registration.cc); the module's
// objects must be linked whole, or the linker drops the registrar.
//
// Thread-safety: registration and lookups are internally synchronized.
#ifndef OVERLAY_FUNCTIONS_FUNCTION_REGISTRY_H_
#define OVERLAY_FUNCTIONS_FUNCTION_REGISTRY_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "overlay/function.h"
#include "overlay/status.h"

namespace overlay {

// Builds a native function from its `args`; argument errors name the function.
using BuiltinFactory =
    std::function<Result<std::unique_ptr<Function>>(const std::vector<std::string>& args)>;

// Adds a native function to ListBuiltins and MakeFunction. A name registered
// twice keeps its first entry (a programming error, reported on stderr).
void RegisterBuiltin(BuiltinInfo info, BuiltinFactory make);

// A binary format that command functions receive as text, so external
// programs keep reading the text files they expect.
struct BinaryFormat {
  std::string name;                                     // e.g. "ecg-chunk", for messages
  std::function<bool(std::string_view bytes)> matches;  // e.g. checks a magic number
  // The text form; `stream` is the task's stream, for formats that name it.
  std::function<Result<std::string>(std::string_view bytes, std::string_view stream)> to_text;
};

void RegisterBinaryFormat(BinaryFormat format);

// The text form of `bytes` when a registered format matches them, nullopt when
// none does (the bytes are already what an external program reads). Fails
// when a format matches but its conversion fails (garbled bytes).
Result<std::optional<std::string>> TextFormOf(std::string_view bytes, std::string_view stream);

}  // namespace overlay

#endif  // OVERLAY_FUNCTIONS_FUNCTION_REGISTRY_H_
