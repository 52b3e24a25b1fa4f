// SPDX-License-Identifier: Apache-2.0
#include "overlay/storage_options.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <string>

#include <unistd.h>

#include "overlay/suggest.h"

namespace overlay {

std::string DefaultDiskDir(std::string_view segment) {
  std::string seg = segment.empty() ? std::string("overlay") : std::string(segment);
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && xdg[0] == '/')
    return std::string(xdg) + "/overlay/" + seg;
  if (geteuid() == 0) return "/var/lib/overlay/" + seg;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && home[0] == '/' ? home : "/tmp") +
         "/.local/share/overlay/" + seg;
}

std::string DiskDir(const StorageOptions& options) {
  if (options.disk == kNoDisk) return "";
  return options.disk.empty() ? DefaultDiskDir(options.segment) : options.disk;
}
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits "256MiB" into 256 and "mib"; fails on an empty or non-numeric head.
bool SplitNumber(std::string_view text, uint64_t* number, std::string* unit) {
  text = Trim(text);
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + i, *number);
  if (ec != std::errc() || p != text.data() + i) return false;
  *unit = Lower(Trim(text.substr(i)));
  return true;
}

bool MulFits(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > UINT64_MAX / a) return false;
  *out = a * b;
  return true;
}

Status OutOfRange(std::string_view key, std::string_view value, std::string_view range) {
  return Status::InvalidArgument("STORAGE." + std::string(key) + " = '" + std::string(value) +
                                 "' is out of range (" + std::string(range) + ")");
}

bool ValidSegmentName(std::string_view s) {
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  return s.size() < 200;
}

struct Setter {
  const char* key;
  std::function<Status(StorageOptions*, std::string_view)> set;
};

Status SetBytes(uint64_t* field, std::string_view key, std::string_view v, uint64_t lo, uint64_t hi,
                std::string_view range) {
  Result<uint64_t> n = ParseByteSize(v);
  if (!n.ok())
    return Status::InvalidArgument("STORAGE." + std::string(key) + ": " +
                                   std::string(n.status().message()));
  if (*n < lo || *n > hi) return OutOfRange(key, v, range);
  *field = *n;
  return Status::OK();
}

Status SetDuration(uint64_t* field, std::string_view key, std::string_view v, uint64_t lo,
                   uint64_t hi, std::string_view range) {
  Result<uint64_t> n = ParseDurationMs(v);
  if (!n.ok())
    return Status::InvalidArgument("STORAGE." + std::string(key) + ": " +
                                   std::string(n.status().message()));
  if (*n < lo || *n > hi) return OutOfRange(key, v, range);
  *field = *n;
  return Status::OK();
}

const std::vector<Setter>& Setters() {
  static const std::vector<Setter> setters = {
      {"memory",
       [](StorageOptions* o, std::string_view v) {
         return SetBytes(&o->memory, "memory", v, 1ull << 20, 1ull << 40, "1MiB..1TiB");
       }},
      {"policy",
       [](StorageOptions* o, std::string_view v) {
         std::string p = Lower(Trim(v));
         if (p == "lru")
           o->policy = EvictionPolicy::kLru;
         else if (p == "lfu")
           o->policy = EvictionPolicy::kLfu;
         else if (p == "sieve")
           o->policy = EvictionPolicy::kSieve;
         else
           return Status::InvalidArgument("STORAGE.policy = '" + std::string(v) +
                                          "': expected lru, lfu or sieve" +
                                          DidYouMean(p, {"lru", "lfu", "sieve"}));
         return Status::OK();
       }},
      {"ttl",
       [](StorageOptions* o, std::string_view v) {
         return SetDuration(&o->ttl_ms, "ttl", v, 0, 3650ull * 86400000, "0..10 years");
       }},
      {"disk",
       [](StorageOptions* o, std::string_view v) {
         o->disk = std::string(Trim(v));
         return Status::OK();
       }},
      {"cdn",
       [](StorageOptions* o, std::string_view v) {
         std::string url(Trim(v));
         if (!url.empty() && url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
           return Status::InvalidArgument("STORAGE.cdn = '" + url +
                                          "': expected an http:// or https:// URL");
         while (!url.empty() && url.back() == '/') url.pop_back();
         o->cdn = url;
         return Status::OK();
       }},
      {"write",
       [](StorageOptions* o, std::string_view v) {
         std::string w = Lower(Trim(v));
         if (w == "memory")
           o->write = WriteMode::kMemory;
         else if (w == "through")
           o->write = WriteMode::kThrough;
         else if (w == "back")
           o->write = WriteMode::kBack;
         else
           return Status::InvalidArgument("STORAGE.write = '" + std::string(v) +
                                          "': expected memory, through or back" +
                                          DidYouMean(w, {"memory", "through", "back"}));
         return Status::OK();
       }},
      {"segment",
       [](StorageOptions* o, std::string_view v) {
         std::string_view s = Trim(v);
         if (!ValidSegmentName(s))
           return Status::InvalidArgument("STORAGE.segment = '" + std::string(v) +
                                          "': use letters, digits, '-', '_' and '.' only");
         o->segment = std::string(s);
         return Status::OK();
       }},
      {"objects",
       [](StorageOptions* o, std::string_view v) {
         uint64_t n = 0;
         std::string unit;
         if (!SplitNumber(v, &n, &unit) || !unit.empty())
           return Status::InvalidArgument("STORAGE.objects = '" + std::string(v) +
                                          "': expected a whole number");
         if (n < 64 || n > (16u << 20)) return OutOfRange("objects", v, "64..16777216");
         o->max_objects = static_cast<uint32_t>(n);
         return Status::OK();
       }},
      {"chunk",
       [](StorageOptions* o, std::string_view v) {
         return SetBytes(&o->chunk, "chunk", v, 64ull << 10, 256ull << 20, "64KiB..256MiB");
       }},
      {"cdn_timeout",
       [](StorageOptions* o, std::string_view v) {
         return SetDuration(&o->cdn_timeout_ms, "cdn_timeout", v, 100, 3600000, "100ms..1h");
       }},
      {"retry_min",
       [](StorageOptions* o, std::string_view v) {
         return SetDuration(&o->retry_min_ms, "retry_min", v, 1, 3600000, "1ms..1h");
       }},
      {"retry_max",
       [](StorageOptions* o, std::string_view v) {
         return SetDuration(&o->retry_max_ms, "retry_max", v, 1, 3600000, "1ms..1h");
       }},
  };
  return setters;
}

}  // namespace

std::string DefaultSegment() {
  const char* env = std::getenv("OVERLAY_SEGMENT");
  if (env != nullptr && env[0] != '\0' && ValidSegmentName(env)) return env;
  return "overlay";
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  uint64_t n = 0;
  std::string unit;
  if (!SplitNumber(text, &n, &unit))
    return Status::InvalidArgument("'" + std::string(text) + "' is not a byte size");
  uint64_t mul = 0;
  if (unit.empty() || unit == "b")
    mul = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib")
    mul = 1ull << 10;
  else if (unit == "m" || unit == "mb" || unit == "mib")
    mul = 1ull << 20;
  else if (unit == "g" || unit == "gb" || unit == "gib")
    mul = 1ull << 30;
  else if (unit == "t" || unit == "tb" || unit == "tib")
    mul = 1ull << 40;
  else
    return Status::InvalidArgument("'" + std::string(text) +
                                   "': unknown size unit (use B, KiB, MiB, GiB, TiB)");
  uint64_t out = 0;
  if (!MulFits(n, mul, &out))
    return Status::InvalidArgument("'" + std::string(text) + "' overflows");
  return out;
}

Result<uint64_t> ParseDurationMs(std::string_view text) {
  uint64_t n = 0;
  std::string unit;
  if (!SplitNumber(text, &n, &unit))
    return Status::InvalidArgument("'" + std::string(text) + "' is not a duration");
  uint64_t mul = 0;
  if (unit == "ms")
    mul = 1;
  else if (unit.empty() || unit == "s")
    mul = 1000;
  else if (unit == "m" || unit == "min")
    mul = 60000;
  else if (unit == "h")
    mul = 3600000;
  else if (unit == "d")
    mul = 86400000;
  else
    return Status::InvalidArgument("'" + std::string(text) +
                                   "': unknown duration unit (use ms, s, m, h, d)");
  uint64_t out = 0;
  if (!MulFits(n, mul, &out))
    return Status::InvalidArgument("'" + std::string(text) + "' overflows");
  return out;
}

Status SetStorageOption(StorageOptions* options, std::string_view key, std::string_view value) {
  std::string k = Lower(Trim(key));
  if (k.rfind("storage.", 0) == 0) k = k.substr(8);
  for (const Setter& s : Setters()) {
    if (k != s.key) continue;
    StorageOptions copy = *options;
    OVERLAY_RETURN_IF_ERROR(s.set(&copy, value));
    *options = std::move(copy);
    return Status::OK();
  }
  return Status::InvalidArgument("unknown key STORAGE." + std::string(key) +
                                 DidYouMean(k, StorageOptionKeys()));
}

std::vector<std::string> StorageOptionKeys() {
  std::vector<std::string> keys;
  for (const Setter& s : Setters()) keys.emplace_back(s.key);
  return keys;
}

}  // namespace overlay
