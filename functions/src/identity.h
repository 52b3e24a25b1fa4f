// SPDX-License-Identifier: Apache-2.0
// identity: passes its inputs through unchanged (internal to functions/).
#ifndef OVERLAY_FUNCTIONS_SRC_IDENTITY_H_
#define OVERLAY_FUNCTIONS_SRC_IDENTITY_H_

#include <memory>
#include <string>
#include <vector>

#include "overlay/function.h"

namespace overlay {

// No arguments. Outputs are the inputs, same names, no copy. Use case: fan-out
// stages, and measuring the cost of an invocation itself (a no-op when given
// no inputs).
Result<std::unique_ptr<Function>> NewIdentity(const std::vector<std::string>& args);

}  // namespace overlay

#endif  // OVERLAY_FUNCTIONS_SRC_IDENTITY_H_
