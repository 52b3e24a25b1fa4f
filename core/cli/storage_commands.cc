// SPDX-License-Identifier: Apache-2.0
#include "storage_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "overlay/config.h"
#include "overlay/storage/data_container.h"
#include "overlay/storage_options.h"

namespace overlay {
namespace {

// Keys in the documented order: name, key, size, ctime, expiry, pinned.
using json = nlohmann::ordered_json;
using storage::CatalogEntry;
using storage::DataContainer;

// The storage options a command may set; filled by CLI11. A command registers
// only the flags that mean something to it, so the others stay empty.
struct StorageFlags {
  std::string config, segment, disk, cdn, memory, policy, write, ttl;
};

// The keys settable by flag; the rest only through --config.
constexpr const char* kFlagKeys[] = {"segment", "disk", "cdn", "memory", "policy", "write", "ttl"};

// `create`: whether a missing L1 segment is created (commands that store) or
// reported (commands that only read, list or drop).
Result<std::unique_ptr<DataContainer>> OpenContainer(const StorageFlags& f, bool create) {
  StorageOptions o;
  if (!f.config.empty()) {
    // The whole file is parsed, so a typo anywhere is reported with file:line.
    auto spec = ParseConfigFile(f.config);
    if (!spec.ok()) return spec.status();
    o = spec->storage.options;
  }
  const std::pair<const char*, const std::string*> overrides[] = {
      {"segment", &f.segment}, {"disk", &f.disk},   {"cdn", &f.cdn}, {"memory", &f.memory},
      {"policy", &f.policy},   {"write", &f.write}, {"ttl", &f.ttl}};
  for (const auto& [key, value] : overrides)
    if (!value->empty()) OVERLAY_RETURN_IF_ERROR(SetStorageOption(&o, key, *value));
  if (create) return DataContainer::Open(o);
  Result<std::unique_ptr<DataContainer>> c = DataContainer::OpenExisting(o);
  if (c.status().IsNotFound())
    return Status::NotFound(std::string(c.status().message()) +
                            ": nothing was stored there (check --segment or STORAGE.segment)");
  return c;
}

// Every command: where the container is.
void AddLocationFlags(CLI::App* cmd, StorageFlags* f) {
  cmd->add_option("--config", f->config, "config file whose [STORAGE] block describes the node");
  cmd->add_option("--segment", f->segment, "L1 shared-memory segment name (STORAGE.segment)");
  cmd->add_option("--disk", f->disk, "L2 RocksDB directory (STORAGE.disk; none: no disk tier)");
  cmd->add_option("--cdn", f->cdn, "L3 base URL (STORAGE.cdn)");
}

// Commands that may create the L1 segment: its shape.
void AddSegmentFlags(CLI::App* cmd, StorageFlags* f) {
  cmd->add_option("--memory", f->memory, "L1 budget of a new segment, e.g. 256MiB (STORAGE.memory)");
  cmd->add_option("--policy", f->policy, "lru | lfu | sieve, for a new segment (STORAGE.policy)");
}

std::string FormatTime(uint64_t unix_ms) {
  if (unix_ms == 0) return "never";
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// JSON times: ISO 8601 UTC strings; null for "never".
json JsonTime(uint64_t unix_ms) { return unix_ms == 0 ? json(nullptr) : json(FormatTime(unix_ms)); }

int Fail(std::string_view cmd, const Status& s) {
  std::cerr << "overlay " << cmd << ": " << s.message() << "\n";
  return 1;
}

bool IsKeyText(std::string_view text) { return ObjectKey::FromHex(text).has_value(); }

// Keys and names are separate namespaces: 32 hex digits are a key, anything
// else a catalog name (put refuses names that look like keys).
Result<ObjectKey> ResolveArg(DataContainer& c, const std::string& what) {
  if (std::optional<ObjectKey> k = ObjectKey::FromHex(what)) return *k;
  Result<CatalogEntry> e = c.Lookup(what);
  if (!e.ok()) return e.status();
  return e->key;
}

// Only regular files: a directory or a device has no size to loan up front
// (and /dev/zero has none at all).
Status CheckRegularFile(const std::string& file) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(file, ec);
  if (ec) return Status::IOError("cannot read " + file + ": " + ec.message());
  if (std::filesystem::is_directory(st))
    return Status::InvalidArgument(file + " is a directory; put stores one regular file");
  if (!std::filesystem::is_regular_file(st))
    return Status::InvalidArgument(file +
                                   " is not a regular file (a device, pipe or socket); put "
                                   "stores regular files only");
  return Status::OK();
}

int RunPut(const StorageFlags& f, const std::string& file, const std::string& name, bool pin) {
  if (IsKeyText(name))
    return Fail("put", Status::InvalidArgument("name '" + name +
                                               "' is 32 hex digits, which address object keys; "
                                               "choose a name that is not a key"));
  if (Status s = CheckRegularFile(file); !s.ok()) return Fail("put", s);
  Result<std::unique_ptr<DataContainer>> c = OpenContainer(f, /*create=*/true);
  if (!c.ok()) return Fail("put", c.status());
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) return Fail("put", Status::IOError("cannot read " + file));
  const auto size = static_cast<size_t>(in.tellg());
  in.seekg(0);
  // Read straight into the loaned space: no intermediate copy of the file.
  Result<storage::PutLoan> loan = (*c)->Loan(size);
  if (!loan.ok()) return Fail("put", loan.status());
  if (size > 0 && !in.read(loan->data().data(), static_cast<std::streamsize>(size)))
    return Fail("put", Status::IOError("short read from " + file));
  Result<Blob> stored =
      (*c)->Commit(std::move(*loan), storage::PutOptions{name, std::nullopt, pin});
  if (!stored.ok()) return Fail("put", stored.status());
  Result<uint64_t> pending = (*c)->JournalBacklog();
  if (pending.ok() && *pending > 0) {
    Status drained = (*c)->DrainJournal(std::chrono::seconds(5));
    if (!drained.ok())
      std::cerr << "overlay put: stored locally; CDN push still queued (" << drained.message()
                << ")\n";
  }
  std::cout << stored->key()->ToHex() << "\n";
  return 0;
}

int RunGet(const StorageFlags& f, const std::string& what, const std::string& out) {
  Result<std::unique_ptr<DataContainer>> c = OpenContainer(f, /*create=*/false);
  if (!c.ok()) return Fail("get", c.status());
  Result<ObjectKey> key = ResolveArg(**c, what);
  if (!key.ok()) return Fail("get", key.status());
  Result<Blob> blob = (*c)->Get(*key);
  if (!blob.ok()) return Fail("get", blob.status());
  if (out.empty() || out == "-") {
    std::cout.write(blob->data(), static_cast<std::streamsize>(blob->size()));
    std::cout.flush();
    return std::cout ? 0 : Fail("get", Status::IOError("cannot write stdout"));
  }
  std::ofstream o(out, std::ios::binary | std::ios::trunc);
  o.write(blob->data(), static_cast<std::streamsize>(blob->size()));
  o.close();
  if (!o) return Fail("get", Status::IOError("cannot write " + out));
  return 0;
}

// How this process reaches a disk tier another process owns, for stat.
std::string SharedDisk(const DataContainer& c) {
  if (c.disk_owner_pid() <= 0) return "";
  return " (shared read-only: owner pid " + std::to_string(c.disk_owner_pid()) + ")";
}

int RunStat(const StorageFlags& f, const std::string& what, bool as_json) {
  Result<std::unique_ptr<DataContainer>> c = OpenContainer(f, /*create=*/false);
  if (!c.ok()) return Fail("stat", c.status());
  Result<ObjectKey> key = ResolveArg(**c, what);
  if (!key.ok()) return Fail("stat", key.status());
  Result<storage::ObjectInfo> info = (*c)->Stat(*key);
  if (!info.ok()) return Fail("stat", info.status());
  const bool l1 = (*c)->l1() != nullptr, l2 = (*c)->l2() != nullptr, l3 = (*c)->l3() != nullptr;
  if (as_json) {
    // A tier is true/false when configured and asked, null otherwise.
    auto tier = [](bool configured, bool in) { return configured ? json(in) : json(nullptr); };
    json j = {{"key", key->ToHex()},
              {"size", info->meta.size},
              {"ctime", JsonTime(info->meta.ctime_ms)},
              {"expiry", JsonTime(info->meta.expiry_ms)},
              {"pinned", info->pinned},
              {"l1", tier(l1, info->in_l1)},
              {"l2", tier(l2, info->in_l2)},
              {"l3", tier(l3 && info->l3_error.empty(), info->in_l3)}};
    if (!info->l3_error.empty()) j["l3_error"] = info->l3_error;
    if ((*c)->disk_owner_pid() > 0) j["l2_owner_pid"] = (*c)->disk_owner_pid();
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  auto yn = [](bool b) { return b ? "yes" : "no"; };
  std::cout << "key      " << key->ToHex() << "\n"
            << "size     " << info->meta.size << "\n"
            << "created  " << FormatTime(info->meta.ctime_ms) << "\n"
            << "expires  " << FormatTime(info->meta.expiry_ms) << "\n"
            << "pinned   " << yn(info->pinned) << "\n"
            << "L1 (ram) " << (l1 ? yn(info->in_l1) : "not configured") << "\n"
            << "L2 (disk) " << (l2 ? yn(info->in_l2) : "not configured") << SharedDisk(**c) << "\n"
            << "L3 (cdn) "
            << (l3 ? (info->l3_error.empty() ? yn(info->in_l3) : "unknown: " + info->l3_error)
                   : std::string("not configured"))
            << "\n";
  return 0;
}

int RunLs(const StorageFlags& f, const std::string& prefix, bool as_json) {
  Result<std::unique_ptr<DataContainer>> c = OpenContainer(f, /*create=*/false);
  if (!c.ok()) return Fail("ls", c.status());
  Result<std::vector<CatalogEntry>> names = (*c)->List();
  if (!names.ok()) return Fail("ls", names.status());
  // Names starting with '.' are the runs' own records (.memo/): shown only
  // when the prefix asks for them.
  std::erase_if(*names, [&](const CatalogEntry& e) {
    return !e.name.starts_with(prefix) || (e.name.starts_with('.') && !prefix.starts_with('.'));
  });
  if (as_json) {
    json arr = json::array();
    for (const CatalogEntry& e : *names)
      arr.push_back({{"name", e.name},
                     {"key", e.key.ToHex()},
                     {"size", e.size},
                     {"ctime", JsonTime(e.ctime_ms)},
                     {"expiry", JsonTime(e.expiry_ms)},
                     {"pinned", e.pinned}});
    std::cout << arr.dump(2) << "\n";
    return 0;
  }
  constexpr std::string_view kRow = "{:<32}  {:>12}  {:<6}  {:<20}  {:<20}  {}\n";
  std::cout << fmt::format(kRow, "KEY", "SIZE", "PINNED", "CREATED", "EXPIRES", "NAME");
  for (const CatalogEntry& e : *names)
    std::cout << fmt::format(kRow, e.key.ToHex(), e.size, e.pinned ? "yes" : "no",
                             FormatTime(e.ctime_ms), FormatTime(e.expiry_ms), e.name);
  std::cout << names->size() << (names->size() == 1 ? " name" : " names")
            << (prefix.empty() ? "" : " under '" + prefix + "'") << "\n";
  return 0;
}

// An argument ending in '/' is a prefix; anything else one exact name.
int RunRm(const StorageFlags& f, const std::string& what) {
  if (IsKeyText(what))
    return Fail("rm", Status::InvalidArgument("'" + what +
                                              "' is an object key; rm takes names (see overlay ls)"));
  Result<std::unique_ptr<DataContainer>> c = OpenContainer(f, /*create=*/false);
  if (!c.ok()) return Fail("rm", c.status());
  std::vector<std::string> targets;
  if (what.ends_with('/')) {
    Result<std::vector<CatalogEntry>> names = (*c)->List();
    if (!names.ok()) return Fail("rm", names.status());
    for (const CatalogEntry& e : *names)
      if (e.name.starts_with(what)) targets.push_back(e.name);
    if (targets.empty()) return Fail("rm", Status::NotFound("no names under '" + what + "'"));
  } else {
    targets.push_back(what);
  }
  for (const std::string& name : targets) {
    Result<CatalogEntry> e = (*c)->Lookup(name);
    if (!e.ok()) return Fail("rm", e.status());
    Result<bool> erased = (*c)->Remove(name);
    if (!erased.ok()) return Fail("rm", erased.status());
    std::cout << "removed " << name << " (object " << e->key.ToHex()
              << (*erased ? " erased" : " kept: another name is bound to it") << ")\n";
  }
  return 0;
}

template <typename Fn>
int RunOnKey(std::string_view cmd, const StorageFlags& f, bool create, const std::string& what,
             Fn fn) {
  Result<std::unique_ptr<DataContainer>> c = OpenContainer(f, create);
  if (!c.ok()) return Fail(cmd, c.status());
  Result<ObjectKey> key = ResolveArg(**c, what);
  if (!key.ok()) return Fail(cmd, key.status());
  Status s = fn(**c, *key);
  return s.ok() ? 0 : Fail(cmd, s);
}

std::string PutFooter() {
  std::string rest;
  for (const std::string& k : StorageOptionKeys())
    if (std::find(std::begin(kFlagKeys), std::end(kFlagKeys), k) == std::end(kFlagKeys))
      rest += (rest.empty() ? "" : ", ") + k;
  return "Storage keys: --segment, --disk, --cdn, --memory, --policy, --write and --ttl set the "
         "STORAGE key of the same name, overriding the --config [STORAGE] block; that block may "
         "also set " +
         rest +
         ".\nFILE must be a regular file (not a directory, device or pipe). A --name of 32 hex "
         "digits is refused: those address object keys.";
}

constexpr const char* kKeyOrName =
    "object key (exactly 32 hex digits) or catalog name (anything else)";

}  // namespace

void AddStorageCommands(CLI::App& app, int* exit_code) {
  // CLI11 keeps pointers to these; they live as long as the callbacks that use them.
  auto flags = std::make_shared<StorageFlags>();
  auto file = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto what = std::make_shared<std::string>();
  auto pin = std::make_shared<bool>(false);
  auto as_json = std::make_shared<bool>(false);

  CLI::App* put = app.add_subcommand("put", "store a file; prints its object key");
  put->add_option("FILE", *file, "regular file to store")->required();
  put->add_option("--name,-n", *name, "catalog name to bind to the key (not 32 hex digits)");
  put->add_flag("--pin", *pin, "pin the object in L1");
  AddLocationFlags(put, flags.get());
  AddSegmentFlags(put, flags.get());
  put->add_option("--write", flags->write, "memory | through | back (STORAGE.write)");
  put->add_option("--ttl", flags->ttl, "lifetime of the object and name, e.g. 10m (STORAGE.ttl)");
  put->footer(PutFooter());
  put->callback([=] { *exit_code = RunPut(*flags, *file, *name, *pin); });

  CLI::App* get = app.add_subcommand("get", "write an object's bytes to a file or stdout");
  get->add_option("KEY", *what, kKeyOrName)->required();
  get->add_option("-o,--output", *out, "output file (default: stdout)");
  AddLocationFlags(get, flags.get());
  get->callback([=] { *exit_code = RunGet(*flags, *what, *out); });

  CLI::App* stat = app.add_subcommand("stat", "show an object's size, times and tiers");
  stat->add_option("KEY", *what, kKeyOrName)->required();
  stat->add_flag("--json", *as_json,
                 "print a JSON object: key, size, ctime, expiry (ISO 8601 UTC, null = never), "
                 "pinned, l1, l2, l3 (null = tier not configured)");
  AddLocationFlags(stat, flags.get());
  stat->callback([=] { *exit_code = RunStat(*flags, *what, *as_json); });

  auto prefix = std::make_shared<std::string>();
  CLI::App* ls = app.add_subcommand(
      "ls", "list catalog names (all, or those starting with PREFIX) with key, size, pin, times");
  ls->add_option("PREFIX", *prefix,
                 "list only names that start with this; names starting with '.' (e.g. "
                 ".memo/, the remembered results of runs) only when PREFIX does");
  ls->add_flag("--json", *as_json,
               "print a JSON array of {name, key, size, ctime, expiry, pinned}; times are "
               "ISO 8601 UTC, expiry null = never");
  AddLocationFlags(ls, flags.get());
  ls->callback([=] { *exit_code = RunLs(*flags, *prefix, *as_json); });

  CLI::App* rm = app.add_subcommand(
      "rm",
      "remove a catalog name (NAME), or every name under PREFIX (an argument ending in '/'); "
      "an object no other name is bound to is erased too (from L1 and L2, and from the CDN "
      "when write = back)");
  rm->add_option("NAME", *what, "a catalog name, or a PREFIX ending in '/'")->required();
  AddLocationFlags(rm, flags.get());
  rm->callback([=] { *exit_code = RunRm(*flags, *what); });

  CLI::App* evict = app.add_subcommand(
      "evict", "move an object from L1 to a lower tier; refused when L1 holds its only copy");
  evict->add_option("KEY", *what, kKeyOrName)->required();
  AddLocationFlags(evict, flags.get());
  evict->callback([=] {
    *exit_code = RunOnKey("evict", *flags, /*create=*/false, *what,
                          [](DataContainer& c, const ObjectKey& k) { return c.Evict(k); });
  });

  for (bool pinned : {true, false}) {
    const char* cmd_name = pinned ? "pin" : "unpin";
    CLI::App* cmd = app.add_subcommand(cmd_name, pinned ? "keep an object in L1 (never evicted)"
                                                        : "let an object be evicted again");
    cmd->add_option("KEY", *what, kKeyOrName)->required();
    AddLocationFlags(cmd, flags.get());
    // Pinning loads the object into L1, so it may create the segment.
    if (pinned) AddSegmentFlags(cmd, flags.get());
    cmd->callback([=] {
      *exit_code =
          RunOnKey(cmd_name, *flags, /*create=*/pinned, *what,
                   [pinned](DataContainer& c, const ObjectKey& k) { return c.Pin(k, pinned); });
    });
  }
}

}  // namespace overlay
