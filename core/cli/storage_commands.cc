// SPDX-License-Identifier: Apache-2.0
#include "storage_commands.h"

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "overlay/config.h"
#include "overlay/storage/data_container.h"
#include "overlay/storage_options.h"

namespace overlay {
namespace {

using storage::CatalogEntry;
using storage::DataContainer;

// The options every storage subcommand shares; filled by CLI11.
struct CommonFlags {
  std::string config, segment, disk, cdn, memory, policy, write, ttl;
};

Result<std::unique_ptr<DataContainer>> OpenContainer(const CommonFlags& f) {
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
  return DataContainer::Open(o);
}

void AddCommonFlags(CLI::App* cmd, CommonFlags* f) {
  cmd->add_option("--config", f->config, "config file whose [STORAGE] block describes the node");
  cmd->add_option("--segment", f->segment, "L1 shared-memory segment name (STORAGE.segment)");
  cmd->add_option("--disk", f->disk, "L2 RocksDB directory (STORAGE.disk)");
  cmd->add_option("--cdn", f->cdn, "L3 base URL (STORAGE.cdn)");
  cmd->add_option("--memory", f->memory, "L1 budget, e.g. 256MiB (STORAGE.memory)");
  cmd->add_option("--policy", f->policy, "lru | lfu | sieve (STORAGE.policy)");
  cmd->add_option("--write", f->write, "memory | through | back (STORAGE.write)");
  cmd->add_option("--ttl", f->ttl, "lifetime of new objects, e.g. 10m (STORAGE.ttl)");
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

int Fail(std::string_view cmd, const Status& s) {
  std::cerr << "overlay " << cmd << ": " << s.message() << "\n";
  return 1;
}

int RunPut(const CommonFlags& f, const std::string& file, const std::string& name, bool pin) {
  Result<std::unique_ptr<DataContainer>> c = OpenContainer(f);
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

int RunGet(const CommonFlags& f, const std::string& what, const std::string& out) {
  Result<std::unique_ptr<DataContainer>> c = OpenContainer(f);
  if (!c.ok()) return Fail("get", c.status());
  Result<ObjectKey> key = (*c)->Resolve(what);
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

int RunStat(const CommonFlags& f, const std::string& what) {
  Result<std::unique_ptr<DataContainer>> c = OpenContainer(f);
  if (!c.ok()) return Fail("stat", c.status());
  Result<ObjectKey> key = (*c)->Resolve(what);
  if (!key.ok()) return Fail("stat", key.status());
  Result<storage::ObjectInfo> info = (*c)->Stat(*key);
  if (!info.ok()) return Fail("stat", info.status());
  auto yn = [](bool b) { return b ? "yes" : "no"; };
  std::cout << "key      " << key->ToHex() << "\n"
            << "size     " << info->meta.size << "\n"
            << "created  " << FormatTime(info->meta.ctime_ms) << "\n"
            << "expires  " << FormatTime(info->meta.expiry_ms) << "\n"
            << "pinned   " << yn(info->pinned) << "\n"
            << "L1 (ram) " << ((*c)->l1() ? yn(info->in_l1) : "not configured") << "\n"
            << "L2 (disk) " << ((*c)->l2() ? yn(info->in_l2) : "not configured") << "\n"
            << "L3 (cdn) "
            << ((*c)->l3()
                    ? (info->l3_error.empty() ? yn(info->in_l3) : "unknown: " + info->l3_error)
                    : std::string("not configured"))
            << "\n";
  return 0;
}

int RunLs(const CommonFlags& f) {
  Result<std::unique_ptr<DataContainer>> c = OpenContainer(f);
  if (!c.ok()) return Fail("ls", c.status());
  Result<std::vector<CatalogEntry>> names = (*c)->List();
  if (!names.ok()) return Fail("ls", names.status());
  for (const CatalogEntry& e : *names)
    std::cout << e.key.ToHex() << "  " << e.size << "  " << (e.pinned ? "pinned" : "-") << "  "
              << FormatTime(e.expiry_ms) << "  " << e.name << "\n";
  return 0;
}

template <typename Fn>
int RunOnKey(std::string_view cmd, const CommonFlags& f, const std::string& what, Fn fn) {
  Result<std::unique_ptr<DataContainer>> c = OpenContainer(f);
  if (!c.ok()) return Fail(cmd, c.status());
  Result<ObjectKey> key = (*c)->Resolve(what);
  if (!key.ok()) return Fail(cmd, key.status());
  Status s = fn(**c, *key);
  return s.ok() ? 0 : Fail(cmd, s);
}

}  // namespace

void AddStorageCommands(CLI::App& app, int* exit_code) {
  // CLI11 keeps pointers to these; they live as long as the callbacks that use them.
  auto flags = std::make_shared<CommonFlags>();
  auto file = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto what = std::make_shared<std::string>();
  auto pin = std::make_shared<bool>(false);

  CLI::App* put = app.add_subcommand("put", "store a file; prints its object key");
  put->add_option("FILE", *file, "file to store")->required();
  put->add_option("--name,-n", *name, "catalog name to bind to the key");
  put->add_flag("--pin", *pin, "pin the object in L1");
  AddCommonFlags(put, flags.get());
  put->callback([=] { *exit_code = RunPut(*flags, *file, *name, *pin); });

  CLI::App* get = app.add_subcommand("get", "write an object's bytes to a file or stdout");
  get->add_option("KEY", *what, "object key (32 hex digits) or catalog name")->required();
  get->add_option("-o,--output", *out, "output file (default: stdout)");
  AddCommonFlags(get, flags.get());
  get->callback([=] { *exit_code = RunGet(*flags, *what, *out); });

  CLI::App* stat = app.add_subcommand("stat", "show an object's size, times and tiers");
  stat->add_option("KEY", *what, "object key or catalog name")->required();
  AddCommonFlags(stat, flags.get());
  stat->callback([=] { *exit_code = RunStat(*flags, *what); });

  CLI::App* ls = app.add_subcommand("ls", "list catalog names: key, size, pin, expiry, name");
  AddCommonFlags(ls, flags.get());
  ls->callback([=] { *exit_code = RunLs(*flags); });

  CLI::App* evict = app.add_subcommand("evict", "move an object from L1 to L2");
  evict->add_option("KEY", *what, "object key or catalog name")->required();
  AddCommonFlags(evict, flags.get());
  evict->callback([=] {
    *exit_code = RunOnKey("evict", *flags, *what,
                          [](DataContainer& c, const ObjectKey& k) { return c.Evict(k); });
  });

  for (bool pinned : {true, false}) {
    const char* cmd_name = pinned ? "pin" : "unpin";
    CLI::App* cmd = app.add_subcommand(cmd_name, pinned ? "keep an object in L1 (never evicted)"
                                                        : "let an object be evicted again");
    cmd->add_option("KEY", *what, "object key or catalog name")->required();
    AddCommonFlags(cmd, flags.get());
    cmd->callback([=] {
      *exit_code =
          RunOnKey(cmd_name, *flags, *what,
                   [pinned](DataContainer& c, const ObjectKey& k) { return c.Pin(k, pinned); });
    });
  }
}

}  // namespace overlay
