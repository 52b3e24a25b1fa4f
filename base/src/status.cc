// SPDX-License-Identifier: Apache-2.0
#include "overlay/status.h"

#include <cstring>

namespace overlay {

Status Status::FromErrno(std::string_view what, int err) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  return IOError(msg);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  const char* name = "";
  switch (code()) {
    case Code::kOk: name = "OK"; break;
    case Code::kNotFound: name = "Not found"; break;
    case Code::kInvalidArgument: name = "Invalid argument"; break;
    case Code::kCorruption: name = "Corruption"; break;
    case Code::kIOError: name = "IO error"; break;
    case Code::kTimeout: name = "Timeout"; break;
    case Code::kUnavailable: name = "Unavailable"; break;
    case Code::kBusy: name = "Busy"; break;
    case Code::kFailed: name = "Failed"; break;
  }
  return std::string(name) + ": " + state_->msg;
}

}  // namespace overlay
