// SPDX-License-Identifier: Apache-2.0
// One process of the shared disk tier test (shared_disk_test.cc):
//   shared_disk_worker owner SEGMENT DISK FLAGDIR   opens first and owns L2
//   shared_disk_worker peer  SEGMENT DISK FLAGDIR ID  opens beside the owner
//   shared_disk_worker verify SEGMENT DISK          reads every object back
// Exit 0 when every check held, 1 (with the reason on stderr) otherwise.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "overlay/storage/data_container.h"
#include "overlay/storage/rocks_tier.h"
#include "storage/shared_disk_objects.h"

namespace {

using overlay::Blob;
using overlay::ObjectKey;
using overlay::Result;
using overlay::Status;
using overlay::storage::DataContainer;
using overlay::storage::PutOptions;
using namespace overlay::storage::testing;  // NOLINT: the test's constants

int Fail(const std::string& what) {
  std::cerr << "shared_disk_worker " << getpid() << ": " << what << std::endl;
  return 1;
}

std::unique_ptr<DataContainer> Open(const std::string& segment, const std::string& disk) {
  overlay::StorageOptions o;
  o.segment = segment;
  o.disk = disk;
  o.memory = 4 << 20;  // a fraction of what the processes put: puts evict
  o.max_objects = 4096;
  Result<std::unique_ptr<DataContainer>> c = DataContainer::Open(o);
  if (!c.ok()) {
    Fail("open: " + c.status().ToString());
    return nullptr;
  }
  return std::move(*c);
}

// Reads `tag` object `i` through the container and compares its bytes.
bool ReadsBack(DataContainer& c, const std::string& tag, int i, std::string* why) {
  const std::string want = SharedDiskObject(tag, i);
  Result<Blob> b = c.Get(ObjectKey::Of(want));
  if (!b.ok()) {
    *why = tag + "/" + std::to_string(i) + ": " + b.status().ToString();
    return false;
  }
  if (b->view() != want) {
    *why = tag + "/" + std::to_string(i) + ": bytes differ";
    return false;
  }
  return true;
}

bool Put(DataContainer& c, const std::string& tag, int i, bool named, std::string* why) {
  PutOptions p;
  if (named) p.name = tag + "/" + std::to_string(i);
  Result<Blob> b = c.Put(SharedDiskObject(tag, i), p);
  if (!b.ok()) *why = "put " + tag + "/" + std::to_string(i) + ": " + b.status().ToString();
  return b.ok();
}

int Owner(const std::string& segment, const std::string& disk, const std::string& flags) {
  std::unique_ptr<DataContainer> c = Open(segment, disk);
  if (!c) return 1;
  if (c->disk_owner_pid() != 0 || c->disk_dir().empty()) return Fail("not the owner: " + c->notice());
  std::cout << "ready" << std::endl;
  std::string why;
  for (int i = 0; i < kDistinctPerProcess; ++i)
    if (!Put(*c, "owner", i, i % 2 == 0, &why)) return Fail(why);
  for (int i = 0; i < kShared; ++i)
    if (!Put(*c, "shared", i, false, &why)) return Fail(why);
  std::string line;
  if (!std::getline(std::cin, line) || line != "demote") return Fail("no demote command");
  // Stored after the peers opened L2: they find these only by reopening it.
  for (int i = 0; i < kDemoted; ++i) {
    if (!Put(*c, "demoted", i, true, &why)) return Fail(why);
    // A peer making room may be demoting this very object and pins it while
    // it does: Busy then is brief, so try again (bounded: 10 s).
    Status s = c->Evict(ObjectKey::Of(SharedDiskObject("demoted", i)));
    for (int tries = 0; s.IsBusy() && tries < 200; ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      s = c->Evict(ObjectKey::Of(SharedDiskObject("demoted", i)));
    }
    if (!s.ok() && !s.IsNotFound()) return Fail("evict demoted/" + std::to_string(i) + ": " + s.ToString());
  }
  std::FILE* f = std::fopen((flags + "/demoted").c_str(), "w");
  if (f == nullptr) return Fail("cannot write the flag file");
  std::fclose(f);
  while (std::getline(std::cin, line)) {
  }
  return 0;
}

int Peer(const std::string& segment, const std::string& disk, const std::string& flags, int id) {
  std::unique_ptr<DataContainer> c = Open(segment, disk);
  if (!c) return 1;
  if (c->disk_owner_pid() <= 0 || c->l2() == nullptr || !c->disk_dir().empty())
    return Fail("not a reader of L2: owner pid " + std::to_string(c->disk_owner_pid()));
  const ObjectKey x = ObjectKey::Of("x");
  if (!c->l2()->Put(x, "x", {1, 0, 0}).IsBusy()) return Fail("a reader wrote L2");
  std::cout << "open" << std::endl;
  const std::string tag = "peer" + std::to_string(id);
  std::string why;
  for (int i = 0; i < kDistinctPerProcess; ++i) {
    if (!Put(*c, tag, i, i % 2 == 0, &why)) return Fail(why);
    if (i % 4 == 0 && !ReadsBack(*c, "shared", i / 4 % kShared, &why)) return Fail(why);
    if (i < kShared && !Put(*c, "shared", (i + id) % kShared, false, &why)) return Fail(why);
    if (!ReadsBack(*c, tag, i, &why)) return Fail(why);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!std::filesystem::exists(flags + "/demoted")) {
    if (std::chrono::steady_clock::now() > deadline) return Fail("the owner never demoted");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (int i = 0; i < kDemoted; ++i) {
    const std::string want = SharedDiskObject("demoted", i);
    Result<Blob> b = c->l2()->Get(ObjectKey::Of(want));  // L2 itself, not a copy in L1
    if (!b.ok() || b->view() != want)
      return Fail("demoted/" + std::to_string(i) + " not read from L2: " + b.status().ToString());
    Result<overlay::storage::CatalogEntry> e = c->Lookup("demoted/" + std::to_string(i));
    if (!e.ok() || !(e->key == ObjectKey::Of(want)))
      return Fail("name demoted/" + std::to_string(i) + ": " + e.status().ToString());
    if (!ReadsBack(*c, "demoted", i, &why)) return Fail(why);
  }
  for (int i = 0; i < kDistinctPerProcess; ++i)
    if (!ReadsBack(*c, tag, i, &why) || !ReadsBack(*c, "owner", i, &why)) return Fail(why);
  for (int i = 0; i < kShared; ++i)
    if (!ReadsBack(*c, "shared", i, &why)) return Fail(why);
  return 0;
}

int Verify(const std::string& segment, const std::string& disk) {
  std::unique_ptr<DataContainer> c = Open(segment, disk);
  if (!c) return 1;
  std::string why;
  int n = 0;
  auto check = [&](const std::string& tag, int count, bool named) {
    for (int i = 0; i < count; ++i, ++n) {
      if (!ReadsBack(*c, tag, i, &why)) return false;
      if (!named || i % 2 != 0) continue;
      Result<overlay::storage::CatalogEntry> e = c->Lookup(tag + "/" + std::to_string(i));
      if (!e.ok() || !(e->key == ObjectKey::Of(SharedDiskObject(tag, i)))) {
        why = "name " + tag + "/" + std::to_string(i) + ": " + e.status().ToString();
        return false;
      }
    }
    return true;
  };
  if (!check("owner", kDistinctPerProcess, true) || !check("shared", kShared, false) ||
      !check("demoted", kDemoted, false))
    return Fail(why);
  for (int p = 0; p < kSharedDiskPeers; ++p)
    if (!check("peer" + std::to_string(p), kDistinctPerProcess, true)) return Fail(why);
  std::cout << (c->disk_owner_pid() == 0 ? "owner" : "reader") << " read " << n
            << " objects back" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string role = argc > 1 ? argv[1] : "";
  if (role == "owner" && argc == 5) return Owner(argv[2], argv[3], argv[4]);
  if (role == "peer" && argc == 6) return Peer(argv[2], argv[3], argv[4], std::atoi(argv[5]));
  if (role == "verify" && argc == 4) return Verify(argv[2], argv[3]);
  return Fail("usage: owner|peer|verify SEGMENT DISK [FLAGDIR [ID]]");
}
