// SPDX-License-Identifier: Apache-2.0
// Status and Result<T>: the one error type of every fallible Overlay call.
//
// Thread-safety: a Status or Result is a value; concurrent const access is safe.
#ifndef OVERLAY_BASE_STATUS_H_
#define OVERLAY_BASE_STATUS_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace overlay {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,
    kInvalidArgument,
    kCorruption,
    kIOError,
    kTimeout,
    kUnavailable,
    kBusy,
    kFailed,  // a function or command ran and reported failure
  };

  // Success costs nothing: no allocation.
  Status() noexcept = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status IOError(std::string_view msg) { return Status(Code::kIOError, msg); }
  static Status Timeout(std::string_view msg) { return Status(Code::kTimeout, msg); }
  static Status Unavailable(std::string_view msg) { return Status(Code::kUnavailable, msg); }
  static Status Busy(std::string_view msg) { return Status(Code::kBusy, msg); }
  static Status Failed(std::string_view msg) { return Status(Code::kFailed, msg); }
  // An IOError whose message ends with strerror(err).
  static Status FromErrno(std::string_view what, int err);

  bool ok() const { return state_ == nullptr; }
  Code code() const { return state_ ? state_->code : Code::kOk; }
  bool IsNotFound() const { return code() == Code::kNotFound; }
  bool IsInvalidArgument() const { return code() == Code::kInvalidArgument; }
  bool IsCorruption() const { return code() == Code::kCorruption; }
  bool IsIOError() const { return code() == Code::kIOError; }
  bool IsTimeout() const { return code() == Code::kTimeout; }
  bool IsUnavailable() const { return code() == Code::kUnavailable; }
  bool IsBusy() const { return code() == Code::kBusy; }
  bool IsFailed() const { return code() == Code::kFailed; }

  // The message alone ("" when ok).
  std::string_view message() const { return state_ ? std::string_view(state_->msg) : ""; }
  // "OK" or "<Code>: <message>".
  std::string ToString() const;

 private:
  struct State {
    Code code;
    std::string msg;
  };
  Status(Code code, std::string_view msg)
      : state_(std::make_shared<const State>(State{code, std::string(msg)})) {}

  std::shared_ptr<const State> state_;  // null means OK
};

// A value or the Status that explains its absence. C++20 has no std::expected.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT; REQUIRES: !status.ok()

  bool ok() const { return std::holds_alternative<T>(v_); }
  // OK when a value is held.
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }

  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace overlay

// Returns early from the enclosing function when `expr` is not OK.
#define OVERLAY_RETURN_IF_ERROR(expr)                 \
  do {                                                \
    ::overlay::Status overlay_status_ = (expr);       \
    if (!overlay_status_.ok()) return overlay_status_; \
  } while (0)

#endif  // OVERLAY_BASE_STATUS_H_
