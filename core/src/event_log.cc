// SPDX-License-Identifier: Apache-2.0
#include "overlay/event_log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>

namespace overlay {
namespace {

// Loggers live for the whole process: a thread may still hold one at exit.
std::shared_ptr<spdlog::logger>& NullLogger() {
  static auto logger = std::make_shared<spdlog::logger>(
      "overlay", std::make_shared<spdlog::sinks::null_sink_mt>());
  return logger;
}
std::shared_ptr<spdlog::logger> file_logger;
std::atomic<spdlog::logger*> current{nullptr};

}  // namespace

std::string DefaultLogPath(std::string_view endpoint) {
  const std::string file = std::string(endpoint) + ".log";
  // The order of DefaultDiskDir: an absolute XDG folder first, then root's.
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state != nullptr && state[0] == '/') return std::string(state) + "/overlay/" + file;
  if (::geteuid() == 0) return "/var/log/overlay/" + file;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && home[0] == '/' ? home : "/tmp") +
         "/.local/state/overlay/" + file;
}

std::string EndpointLogPath(const std::string& configured, std::string_view endpoint) {
  return configured.empty() ? DefaultLogPath(endpoint) : configured;
}

Status OpenEventLog(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return Status::IOError("cannot make log folder '" + dir.string() + "': " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  try {
    const mode_t old = ::umask(0077);
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
    ::umask(old);
    auto logger = std::make_shared<spdlog::logger>("overlay", std::move(sink));
    // 2026-12-02T09:41:07.123+00:00 [warning] ...
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z [%l] %v");
    logger->set_level(spdlog::level::info);
    logger->flush_on(spdlog::level::info);
    file_logger = std::move(logger);
    current.store(file_logger.get());
  } catch (const spdlog::spdlog_ex& e) {
    return Status::IOError("cannot open log '" + path + "': " + e.what());
  }
  return Status::OK();
}

spdlog::logger& EventLog() {
  spdlog::logger* l = current.load();
  return l != nullptr ? *l : *NullLogger();
}

}  // namespace overlay
