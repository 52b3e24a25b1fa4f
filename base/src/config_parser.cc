// SPDX-License-Identifier: Apache-2.0
// Syntax of the config language. Errors are collected, not returned at the
// first one, so a user fixes a file in one pass.
#include <fmt/format.h>
#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "overlay/config.h"
#include "overlay/storage_options.h"
#include "overlay/suggest.h"

namespace overlay {
namespace {

const std::vector<std::string> kBlocks = {"FUNCTION", "ENDPOINT", "STAGE", "STORAGE", "CLIENT"};

// Longer lines are refused, and read no further than this: the parser's
// memory stays bounded whatever the file holds.
constexpr size_t kMaxLineBytes = 64 * 1024;

// A stage's name becomes a directory under `run --out`: one plain path
// component, from a set every file system and shell takes as is.
bool IsSafeStageName(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
      return false;
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The value without a trailing comment: a '#' after white space, outside
// quotes. A value's own first character is never a comment (a CURVE key may
// start with '#'), nor is a '#' inside a word (a URL's fragment).
std::string_view StripComment(std::string_view value) {
  char quote = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '#' && i > 0 && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
      return Trim(value.substr(0, i));
    }
  }
  return value;
}

std::string Upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

bool ParseInt(std::string_view v, int lo, int hi, int* out) {
  int x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size() || x < lo || x > hi) return false;
  *out = x;
  return true;
}

// ZeroMQ's Z85 alphabet; a CURVE key is 32 bytes, 40 characters.
bool IsZ85Key(std::string_view key) {
  static constexpr std::string_view kZ85 =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  return key.size() == 40 && key.find_first_not_of(kZ85) == std::string_view::npos;
}

std::vector<std::string> SplitList(std::string_view v, std::string_view seps) {
  std::vector<std::string> out;
  while (!v.empty()) {
    size_t k = v.find_first_of(seps);
    std::string_view w = Trim(v.substr(0, k));
    if (!w.empty()) out.emplace_back(w);
    if (k == std::string_view::npos) break;
    v.remove_prefix(k + 1);
  }
  return out;
}

// `word` as an absolute path, quoted when the template would otherwise split it.
std::string QuotedPath(const std::filesystem::path& path) {
  std::string p = path.string();
  if (p.find_first_of(" \t'\"") == std::string::npos) return p;
  return p.find('\'') == std::string::npos ? "'" + p + "'" : "\"" + p + "\"";
}

// A FUNCTION's command with its relative paths resolved against the config's
// folder, so a config runs from any directory: the program when it names a
// path (it holds a '/'), and every later word that names an existing file or
// directory there. Words with quotes or placeholders ('@') stay as written.
std::string ResolveCommandPaths(std::string_view command, const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::string out;
  bool first = true;
  size_t i = 0;
  while (i < command.size()) {
    if (command[i] == ' ' || command[i] == '\t') {
      out.push_back(command[i++]);
      continue;
    }
    size_t end = command.find_first_of(" \t", i);
    if (end == std::string_view::npos) end = command.size();
    std::string word(command.substr(i, end - i));
    i = end;
    const bool program = std::exchange(first, false);
    if (word.find_first_of("'\"@") != std::string::npos || fs::path(word).is_absolute() ||
        (program && word.find('/') == std::string::npos)) {
      out += word;
      continue;
    }
    const fs::path resolved = fs::absolute(dir / word).lexically_normal();
    std::error_code ec;
    out += program || fs::exists(resolved, ec) ? QuotedPath(resolved) : word;
  }
  return out;
}

class Parser {
 public:
  Parser(std::string_view file) : file_(file) {}

  void Error(int line, const std::string& msg) {
    errors_.push_back(fmt::format("{}:{}: {}", file_, line, msg));
  }
  const std::vector<std::string>& errors() const { return errors_; }

  // One line, without its '\n'; `full_size` is its length in the file when
  // only its start was read (a line over kMaxLineBytes).
  void Line(std::string_view raw, PipelineSpec* spec, size_t full_size = 0) {
    ++line_no_;
    const int line_no = line_no_;
    if (std::max(raw.size(), full_size) > kMaxLineBytes) {
      Error(line_no, fmt::format("line of {} bytes, longer than the {} allowed",
                                 std::max(raw.size(), full_size), kMaxLineBytes));
      return;
    }
    std::string& block = block_;
    int& block_line = block_line_;
    KV& kv = kv_;
    {
      std::string_view line = Trim(raw);
      if (line.empty() || line[0] == '#') return;
      if (line.front() == '[') {
        if (line.back() != ']') {
          Error(line_no, fmt::format("malformed block header '{}': expected [NAME]", line));
          return;
        }
        std::string name = Upper(Trim(line.substr(1, line.size() - 2)));
        if (name == "END") {
          if (block.empty()) Error(line_no, "[END] without an open block");
          else Finish(block, block_line, kv, spec);
          block.clear();
          kv.clear();
        } else if (!block.empty()) {
          Error(line_no, fmt::format("[{}] inside [{}] opened at line {}: missing [END]", name,
                                     block, block_line));
          Finish(block, block_line, kv, spec);
          kv.clear();
          block = CheckBlockName(name, line_no);
          block_line = line_no;
        } else {
          block = CheckBlockName(name, line_no);
          block_line = line_no;
        }
        return;
      }
      size_t eq = line.find('=');
      if (eq == std::string_view::npos) {
        Error(line_no, fmt::format("expected 'key = value', got '{}'", line));
        return;
      }
      std::string key(Trim(line.substr(0, eq)));
      for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value(StripComment(Trim(line.substr(eq + 1))));
      if (block.empty()) {
        Error(line_no, fmt::format("'{}' outside a block: open one with [FUNCTION], [ENDPOINT], "
                                   "[STAGE] or [STORAGE]", key));
        return;
      }
      if (block == "?") return;  // inside an unknown block: already reported
      const auto& keys = BlockKeys(block);
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        Error(line_no, fmt::format("unknown key '{}' in [{}]{}", key, block, DidYouMean(key, keys)));
        return;
      }
      if (auto it = kv.find(key); it != kv.end()) {
        Error(line_no, fmt::format("duplicate key '{}' (first set at line {})", key, it->second.second));
        return;
      }
      if (value.empty()) {
        Error(line_no, fmt::format("key '{}' has an empty value", key));
        return;
      }
      kv[key] = {value, line_no};
    }
  }

  // After the last line.
  void End(PipelineSpec* spec) {
    if (!block_.empty()) {
      Error(block_line_, fmt::format("[{}] is never closed: missing [END]", block_));
      if (block_ != "?") Finish(block_, block_line_, kv_, spec);
    }
  }

 private:
  // `name`, or "?" for an unknown block (reported here).
  std::string CheckBlockName(const std::string& name, int line_no) {
    if (std::find(kBlocks.begin(), kBlocks.end(), name) != kBlocks.end()) return name;
    Error(line_no, fmt::format("unknown block [{}]{}", name, DidYouMean(name, kBlocks)));
    return "?";
  }

  using KV = std::map<std::string, std::pair<std::string, int>>;

  // tcp:// and fabric:// addresses are HOST:PORT with a port from 0 to 65535.
  void CheckHostPort(const std::string& address, size_t host_start, int line) {
    const size_t colon = address.rfind(':');
    int port = 0;
    if (colon == std::string::npos || colon < host_start || colon == host_start)
      Error(line, fmt::format("address '{}' needs a host and a port (HOST:PORT)", address));
    else if (!ParseInt(std::string_view(address).substr(colon + 1), 0, 65535, &port))
      Error(line, fmt::format("address '{}': port '{}' is not a number from 0 to 65535", address,
                              address.substr(colon + 1)));
  }

  bool Require(const KV& kv, std::string_view key, std::string_view block, int line) {
    if (kv.count(std::string(key))) return true;
    Error(line, fmt::format("[{}] block has no '{}'", block, key));
    return false;
  }

  void Finish(const std::string& block, int block_line, const KV& kv, PipelineSpec* spec) {
    if (block == "?") return;
    SourceLoc loc{file_, block_line};
    std::map<std::string, int> lines;
    for (const auto& [k, v] : kv) lines[k] = v.second;
    auto get = [&](const char* k) -> std::string {
      auto it = kv.find(k);
      return it == kv.end() ? std::string() : it->second.first;
    };
    if (block == "FUNCTION") {
      FunctionDecl f;
      f.loc = loc;
      f.key_lines = lines;
      Require(kv, "name", block, block_line);
      f.name = get("name");
      f.command = get("command");
      f.builtin = get("builtin");
      if (f.command.empty() == f.builtin.empty())
        Error(block_line, fmt::format("function '{}' needs exactly one of 'command' or 'builtin'",
                                      f.name));
      f.args = SplitList(get("args"), " \t");
      if (auto it = kv.find("timeout"); it != kv.end()) {
        auto ms = ParseDurationMs(it->second.first);
        if (ms.ok()) f.timeout_ms = static_cast<int64_t>(*ms);
        else Error(it->second.second, fmt::format("timeout '{}' is not a duration such as 30s, "
                                                  "500ms or 2m", it->second.first));
      }
      if (auto it = kv.find("retries");
          it != kv.end() && !ParseInt(it->second.first, 0, 100, &f.retries))
        Error(it->second.second, fmt::format("retries '{}' is not a number from 0 to 100",
                                             it->second.first));
      if (auto it = kv.find("writable"); it != kv.end()) {
        if (f.command.empty())
          Error(it->second.second, "writable applies to command functions only");
        for (std::string& dir : SplitList(it->second.first, ",")) {
          std::filesystem::path p(dir);
          if (p.is_relative()) p = std::filesystem::path(spec->base_dir) / p;
          f.writable.push_back(p.lexically_normal().string());
        }
      }
      spec->functions.push_back(std::move(f));
    } else if (block == "ENDPOINT") {
      EndpointDecl e;
      e.loc = loc;
      e.key_lines = lines;
      Require(kv, "name", block, block_line);
      e.name = get("name");
      e.address = get("address");
      if (auto it = kv.find("id"); it != kv.end()) {
        e.id = NormalizeUuid(it->second.first);
        if (e.id.empty())
          Error(it->second.second, fmt::format("endpoint id '{}' is not a UUID "
                                               "(8-4-4-4-12 hexadecimal digits)", it->second.first));
      }
      if (auto it = kv.find("workers");
          it != kv.end() && !ParseInt(it->second.first, 1, 4096, &e.workers))
        Error(it->second.second, fmt::format("workers '{}' is not a number from 1 to 4096",
                                             it->second.first));
      e.fallback = get("fallback");
      if (auto it = kv.find("fallback_after"); it != kv.end()) {
        auto ms = ParseDurationMs(it->second.first);
        if (ms.ok() && *ms > 0) {
          e.fallback_after_ms = static_cast<int64_t>(*ms);
        } else {
          Error(it->second.second, fmt::format("fallback_after '{}' is not a duration such as "
                                               "5s or 500ms", it->second.first));
        }
        if (e.fallback.empty())
          Error(it->second.second, "fallback_after without a fallback endpoint");
      }
      if (auto it = kv.find("lost_after"); it != kv.end()) {
        auto ms = ParseDurationMs(it->second.first);
        if (ms.ok() && *ms > 0) e.lost_after_ms = static_cast<int64_t>(*ms);
        else Error(it->second.second, fmt::format("lost_after '{}' is not a duration such as "
                                                  "30s or 500ms", it->second.first));
      }
      if (auto it = kv.find("log"); it != kv.end()) {
        std::filesystem::path p(it->second.first);
        if (p.is_relative()) p = std::filesystem::path(spec->base_dir) / p;
        e.log = p.lexically_normal().string();
      }
      if (auto it = kv.find("metrics_address"); it != kv.end()) {
        e.metrics_address = it->second.first;
        if (e.metrics_address.find("://") != std::string::npos)
          Error(it->second.second, fmt::format("metrics_address '{}' is HOST:PORT, without a "
                                               "scheme (e.g. 127.0.0.1:9464)", e.metrics_address));
        else
          CheckHostPort(e.metrics_address, 0, it->second.second);
      }
      e.curve_public = get("curve_public");
      e.curve_secret_file = get("curve_secret_file");
      if (!e.curve_public.empty() && !IsZ85Key(e.curve_public))
        Error(lines["curve_public"], fmt::format("curve_public '{}' is not a 40-character Z85 key "
                                                 "(make one with `overlay keygen`)",
                                                 e.curve_public));
      e.clients_file = get("clients_file");
      if (!e.clients_file.empty() && e.curve_public.empty())
        Error(lines["clients_file"], fmt::format("clients_file needs curve_public and "
                                                 "curve_secret_file: only CURVE clients have keys"));
      if (e.curve_public.empty() != e.curve_secret_file.empty())
        Error(block_line, fmt::format("endpoint '{}' needs both curve_public and "
                                      "curve_secret_file, or neither", e.name));
      if (auto it = kv.find("max_streams");
          it != kv.end() && !ParseInt(it->second.first, 1, 1 << 24, &e.max_streams))
        Error(it->second.second, fmt::format("max_streams '{}' is not a number from 1 to 16777216",
                                             it->second.first));
      if (auto it = kv.find("max_tasks");
          it != kv.end() && !ParseInt(it->second.first, 1, 1 << 24, &e.max_tasks))
        Error(it->second.second, fmt::format("max_tasks '{}' is not a number from 1 to 16777216",
                                             it->second.first));
      if (auto it = kv.find("max_memory"); it != kv.end()) {
        auto bytes = ParseByteSize(it->second.first);
        if (bytes.ok() && *bytes >= (1u << 20)) e.max_memory = *bytes;
        else Error(it->second.second, fmt::format("max_memory '{}' is not a size of 1MiB or more "
                                                  "such as 512MiB or 4G", it->second.first));
      }
      if (auto it = kv.find("stream_idle"); it != kv.end()) {
        auto ms = ParseDurationMs(it->second.first);
        if (ms.ok() && *ms > 0) e.stream_idle_ms = static_cast<int64_t>(*ms);
        else Error(it->second.second, fmt::format("stream_idle '{}' is not a duration such as "
                                                  "10m or 30s", it->second.first));
      }
      for (const std::string& k : LaunchKeys())
        if (auto it = kv.find(k); it != kv.end())
          if (Status st = SetLaunchOption(&e.launch, k, it->second.first); !st.ok())
            Error(it->second.second, std::string(st.message()));
      if (!e.address.empty()) {
        static const std::vector<std::string> kSchemes = {"tcp", "ipc", "fabric"};
        size_t k = e.address.find("://");
        std::string scheme = k == std::string::npos ? "" : e.address.substr(0, k);
        if (std::find(kSchemes.begin(), kSchemes.end(), scheme) == kSchemes.end())
          Error(lines["address"], fmt::format("address '{}' must start with tcp://, ipc:// or "
                                              "fabric://{}", e.address, DidYouMean(scheme, kSchemes)));
        else if (scheme != "ipc")
          CheckHostPort(e.address, k + 3, lines["address"]);
      }
      spec->endpoints.push_back(std::move(e));
    } else if (block == "STAGE") {
      StageDecl s;
      s.loc = loc;
      s.key_lines = lines;
      Require(kv, "name", block, block_line);
      Require(kv, "source", block, block_line);
      Require(kv, "transformation", block, block_line);
      s.name = get("name");
      if (kv.count("name") && !IsSafeStageName(s.name))
        Error(lines["name"], fmt::format("stage name '{}' may hold only letters, digits, '_', "
                                         "'.' and '-', and not start with '.' (it names a "
                                         "directory under --out)", s.name));
      s.sources = SplitList(get("source"), ",");
      s.transformation = get("transformation");
      s.endpoint = get("endpoint");
      if (kv.count("include")) s.include = get("include");
      spec->stages.push_back(std::move(s));
    } else if (block == "CLIENT") {
      if (!spec->client.loc.file.empty())
        Error(block_line, fmt::format("second [CLIENT] block (the first is at line {})",
                                      spec->client.loc.line));
      spec->client.loc = loc;
      spec->client.curve_public = get("curve_public");
      spec->client.curve_secret_file = get("curve_secret_file");
      if (!spec->client.curve_public.empty() && !IsZ85Key(spec->client.curve_public))
        Error(lines["curve_public"], fmt::format("curve_public '{}' is not a 40-character Z85 "
                                                 "key (make one with `overlay keygen`)",
                                                 spec->client.curve_public));
      if (spec->client.curve_public.empty() != spec->client.curve_secret_file.empty())
        Error(block_line, "[CLIENT] needs both curve_public and curve_secret_file, or neither");
    } else if (block == "STORAGE") {
      if (spec->has_storage)
        Error(block_line, fmt::format("second [STORAGE] block (the first is at line {})",
                                      spec->storage.loc.line));
      spec->has_storage = true;
      spec->storage.loc = loc;
      spec->storage.key_lines = lines;
      for (const auto& [k, v] : kv) {
        spec->storage.values[k] = v.first;
        Status st = SetStorageOption(&spec->storage.options, k, v.first);
        if (!st.ok()) Error(v.second, std::string(st.message()));
      }
    }
  }

  std::string file_;
  std::vector<std::string> errors_;
  int line_no_ = 0;
  std::string block_;  // current block name, empty outside a block
  int block_line_ = 0;
  KV kv_;              // the current block's key → (value, line)
};

}  // namespace

Result<std::vector<std::string>> ReadClientKeys(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError(fmt::format("cannot read clients_file '{}'", path));
  std::vector<std::string> keys;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    std::string_view key = StripComment(Trim(line));
    // A key may start with '#' too; a comment line is never a valid key.
    if (key.empty() || (key.front() == '#' && !IsZ85Key(key))) continue;
    if (!IsZ85Key(key))
      return Status::InvalidArgument(
          fmt::format("{}:{}: '{}' is not a client's 40-character Z85 public key (overlay "
                      "keygen prints one)",
                      path, line_no, key));
    keys.emplace_back(key);
  }
  if (keys.empty())
    return Status::InvalidArgument(
        fmt::format("{}: no client keys (one Z85 public key a line)", path));
  return keys;
}

const std::vector<std::string>& BlockKeys(std::string_view block) {
  static const std::vector<std::string> kFunction = {"name", "command", "builtin", "args",
                                                     "timeout", "retries", "writable"};
  static const std::vector<std::string> kEndpoint = [] {
    std::vector<std::string> keys = {
        "name",         "id",       "address",       "workers",
        "curve_public", "curve_secret_file", "clients_file", "fallback", "fallback_after",
        "max_streams", "max_tasks", "max_memory", "stream_idle",
        "lost_after", "log", "metrics_address"};
    keys.insert(keys.end(), LaunchKeys().begin(), LaunchKeys().end());
    return keys;
  }();
  static const std::vector<std::string> kClient = {"curve_public", "curve_secret_file"};
  static const std::vector<std::string> kStage = {"name", "source", "transformation", "endpoint",
                                                  "include"};
  static const std::vector<std::string> kStorage = StorageOptionKeys();
  static const std::vector<std::string> kNone;
  if (block == "FUNCTION") return kFunction;
  if (block == "ENDPOINT") return kEndpoint;
  if (block == "STAGE") return kStage;
  if (block == "STORAGE") return kStorage;
  if (block == "CLIENT") return kClient;
  return kNone;
}

std::string NormalizeUuid(std::string_view id) {
  std::string out;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    if (c == ' ' || c == '\t') {
      // Spaces are tolerated only around hyphens ("34a582db - 6a61-…").
      size_t j = i;
      while (j < id.size() && (id[j] == ' ' || id[j] == '\t')) ++j;
      bool after_hyphen = !out.empty() && out.back() == '-';
      bool before_hyphen = j < id.size() && id[j] == '-';
      if (!after_hyphen && !before_hyphen) return "";
      i = j - 1;
      continue;
    }
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  static constexpr int kGroups[] = {8, 4, 4, 4, 12};
  size_t pos = 0;
  for (int g = 0; g < 5; ++g) {
    for (int k = 0; k < kGroups[g]; ++k, ++pos)
      if (pos >= out.size() || !std::isxdigit(static_cast<unsigned char>(out[pos]))) return "";
    if (g < 4 && (pos >= out.size() || out[pos++] != '-')) return "";
  }
  return pos == out.size() ? out : "";
}

namespace {

template <typename Decl>
const Decl* Find(const std::vector<Decl>& decls, const NameIndex& index, std::string_view name) {
  if (index.indexed == decls.size()) {
    auto it = index.positions.find(name);
    if (it == index.positions.end()) return nullptr;
    if (decls[it->second].name == name) return &decls[it->second];
  }
  for (const auto& d : decls)  // the index is stale
    if (d.name == name) return &d;
  return nullptr;
}

template <typename Decl>
void Index(const std::vector<Decl>& decls, NameIndex* index) {
  index->positions.clear();
  index->positions.reserve(decls.size());
  for (size_t i = 0; i < decls.size(); ++i) index->positions.emplace(decls[i].name, i);
  index->indexed = decls.size();
}

}  // namespace

const FunctionDecl* PipelineSpec::FindFunction(std::string_view name) const {
  return Find(functions, function_index, name);
}
const EndpointDecl* PipelineSpec::FindEndpoint(std::string_view name) const {
  return Find(endpoints, endpoint_index, name);
}
const StageDecl* PipelineSpec::FindStage(std::string_view name) const {
  return Find(stages, stage_index, name);
}

void PipelineSpec::IndexNames() {
  Index(functions, &function_index);
  Index(endpoints, &endpoint_index);
  Index(stages, &stage_index);
}

bool IncludeMatches(std::string_view include, const std::string& name) {
  for (const std::string& glob : SplitList(include, ","))
    if (fnmatch(glob.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}


Result<PipelineSpec> ParseConfigText(std::string_view text, std::string_view file,
                                     std::string_view base_dir) {
  PipelineSpec spec;
  spec.path = std::string(file);
  spec.base_dir = std::string(base_dir);
  Parser p(file);
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    p.Line(text.substr(0, nl), &spec);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  p.End(&spec);
  spec.IndexNames();
  if (!p.errors().empty()) {
    std::string msg;
    for (const auto& e : p.errors()) msg += (msg.empty() ? "" : "\n") + e;
    return Status::InvalidArgument(msg);
  }
  return spec;
}

Result<PipelineSpec> ParseConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno("cannot open config '" + path + "'", errno);
  std::string dir = std::filesystem::path(path).parent_path().string();
  PipelineSpec parsed;
  parsed.path = path;
  parsed.base_dir = dir.empty() ? "." : dir;
  Parser p(path);
  // Line by line, holding at most kMaxLineBytes + 1 of a line: an over-long
  // line is measured, not held.
  std::streambuf* sb = in.rdbuf();
  std::string line;
  size_t size = 0;
  for (int c = sb->sbumpc();; c = sb->sbumpc()) {
    if (c == std::char_traits<char>::eof() || c == '\n') {
      if (c == std::char_traits<char>::eof() && size == 0) break;
      p.Line(line, &parsed, size);
      line.clear();
      size = 0;
      if (c == std::char_traits<char>::eof()) break;
      continue;
    }
    if (++size <= kMaxLineBytes + 1) line.push_back(static_cast<char>(c));
  }
  p.End(&parsed);
  parsed.IndexNames();
  Result<PipelineSpec> spec = std::move(parsed);
  if (!p.errors().empty()) {
    std::string msg;
    for (const auto& e : p.errors()) msg += (msg.empty() ? "" : "\n") + e;
    return Status::InvalidArgument(msg);
  }
  for (auto& f : spec->functions)
    if (!f.command.empty()) f.command = ResolveCommandPaths(f.command, spec->base_dir);
  return spec;
}

Result<PipelineSpec> LoadConfig(const std::string& path) {
  auto spec = ParseConfigFile(path);
  if (!spec.ok()) return spec;
  OVERLAY_RETURN_IF_ERROR(ValidateSpec(*spec));
  return spec;
}

}  // namespace overlay
