// SPDX-License-Identifier: Apache-2.0
// An external command as a Function (internal to functions/).
#ifndef OVERLAY_FUNCTIONS_SRC_COMMAND_FUNCTION_H_
#define OVERLAY_FUNCTIONS_SRC_COMMAND_FUNCTION_H_

#include <memory>

#include "overlay/function.h"

namespace overlay {

// REQUIRES: !spec.command.empty(). Fails when the command line does not parse.
Result<std::unique_ptr<Function>> NewCommandFunction(const FunctionSpec& spec);

}  // namespace overlay

#endif  // OVERLAY_FUNCTIONS_SRC_COMMAND_FUNCTION_H_
