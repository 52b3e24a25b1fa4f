// SPDX-License-Identifier: Apache-2.0
// Creating, formatting and mapping the L1 segment.
//
// Why a plain Boost.Interprocess shared_memory_object and not a
// managed_shared_memory: the managed segment's allocator serializes on a
// non-robust interprocess_mutex inside the segment, so a process killed while
// allocating would leave every other process blocked forever. Here the segment is
// mapped raw and laid out by us; the only locks are robust pthread mutexes.
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <new>
#include <thread>

#include "overlay/memory_room.h"
#include "overlay/private_file.h"
#include "shm_impl.h"

namespace overlay::storage {

namespace bip = boost::interprocess;
using namespace shm;  // NOLINT: the layout vocabulary is used throughout

namespace {

bool SegmentExists(const std::string& name) {
  try {
    bip::shared_memory_object probe(bip::open_only, name.c_str(), bip::read_only);
    return true;
  } catch (const bip::interprocess_exception& e) {
    // Any other error (e.g. permissions) is left for the real open to report.
    return e.get_error_code() != bip::not_found_error;
  }
}

}  // namespace

Result<std::unique_ptr<ShmCache::Impl>> ShmCache::Impl::Map(const ShmCacheOptions& options) {
  if (options.segment.empty() || options.segment.find('/') != std::string::npos)
    return Status::InvalidArgument("L1 segment name '" + options.segment + "' is not valid");
  if (options.memory > kMaxArenaBytes)
    return Status::InvalidArgument("L1 budget of " + std::to_string(options.memory) +
                                   " bytes exceeds the maximum of " +
                                   std::to_string(kMaxArenaBytes) + " bytes");
  auto impl = std::make_unique<Impl>();
  impl->hook = options.TEST_hook;
  const std::string name = options.segment;
  if (!options.create && !SegmentExists(name))
    return Status::NotFound("L1 segment '" + name + "' does not exist (/dev/shm/" + name + ")");
  try {
    bool created = false;
    try {
      bip::permissions perm(0600);
      impl->shm = bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write, perm);
      created = true;
    } catch (const bip::interprocess_exception& e) {
      if (e.get_error_code() != bip::already_exists_error) throw;
      impl->shm = bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_write);
      // Another local user may have created it first, to read or rewrite our objects.
      OVERLAY_RETURN_IF_ERROR(
          CheckPrivate(impl->shm.get_mapping_handle().handle, "L1 segment /dev/shm/" + name, 0600));
    }
    if (created) {
      const uint32_t max_objects = std::max<uint32_t>(options.max_objects, 64);
      uint32_t slots = 1;
      while (slots < 2 * max_objects) slots <<= 1;
      const uint64_t arena = RoundUp(std::max<uint64_t>(options.memory, 1 << 20), kUnit);
      const uint64_t desc_off = kHeaderBytes;
      const uint64_t index_off = desc_off + uint64_t{max_objects} * sizeof(Desc);
      const uint64_t openers_off = RoundUp(index_off + uint64_t{slots} * sizeof(Slot), 64);
      const uint64_t arena_off = RoundUp(openers_off + kMaxOpeners * sizeof(Opener), 4096);
      const uint64_t total = arena_off + arena;
      if (Status room = CheckSharedMemoryRoom(
              total, "L1 segment '" + name + "'",
              "lower STORAGE.memory or run --memory (" + FormatBytes(options.memory) + " now)");
          !room.ok()) {
        bip::shared_memory_object::remove(name.c_str());
        return room;
      }
      impl->shm.truncate(static_cast<bip::offset_t>(total));
      impl->region = bip::mapped_region(impl->shm, bip::read_write);
      impl->base = static_cast<char*>(impl->region.get_address());
      Header* h = new (impl->base) Header();
      h->version = kVersion;
      h->policy = static_cast<uint32_t>(options.policy);
      h->total_bytes = total;
      h->desc_off = desc_off;
      h->index_off = index_off;
      h->openers_off = openers_off;
      h->arena_off = arena_off;
      h->arena_bytes = arena;
      h->max_objects = max_objects;
      h->index_mask = slots - 1;
      h->creator_pid = getpid();
      pthread_mutexattr_t attr;
      pthread_mutexattr_init(&attr);
      pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
      pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
      pthread_mutex_init(&h->mu, &attr);
      pthread_mutexattr_destroy(&attr);
      // Fault the whole segment in now, so puts never stall on page faults; the
      // budget is memory the node has promised to L1 anyway. Best effort: older
      // kernels lack MADV_POPULATE_WRITE and fault lazily instead.
#ifdef MADV_POPULATE_WRITE
      (void)madvise(impl->base, total, MADV_POPULATE_WRITE);
#endif
      // Descriptors and index are zero from ftruncate: gen 0, kFree, empty words.
      auto* first = reinterpret_cast<Block*>(impl->base + arena_off);
      first->owner.store(0);
      first->units.store(arena / kUnit);
      h->magic.store(kMagic, std::memory_order_release);
    } else {
      impl->region = bip::mapped_region(impl->shm, bip::read_write);
      impl->base = static_cast<char*>(impl->region.get_address());
      auto* h = reinterpret_cast<Header*>(impl->base);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (impl->region.get_size() < kHeaderBytes ||
             h->magic.load(std::memory_order_acquire) != kMagic) {
        if (std::chrono::steady_clock::now() > deadline)
          return Status::Unavailable("L1 segment '" + name +
                                     "' exists but was never initialized (its creator died?); "
                                     "remove /dev/shm/" +
                                     name);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (impl->region.get_size() < kHeaderBytes) {
          impl->region = bip::mapped_region(impl->shm, bip::read_write);
          impl->base = static_cast<char*>(impl->region.get_address());
          h = reinterpret_cast<Header*>(impl->base);
        }
      }
      if (h->version != kVersion || impl->region.get_size() < h->total_bytes)
        return Status::InvalidArgument("L1 segment '" + name +
                                       "' has an incompatible layout (made by another Overlay "
                                       "version?); remove /dev/shm/" + name + " to start afresh");
    }
  } catch (const bip::interprocess_exception& e) {
    return Status::IOError("L1 segment '" + name + "': " + e.what());
  }
  impl->hdr = reinterpret_cast<Header*>(impl->base);
  impl->descs = reinterpret_cast<Desc*>(impl->base + impl->hdr->desc_off);
  impl->index = reinterpret_cast<Slot*>(impl->base + impl->hdr->index_off);
  impl->openers = reinterpret_cast<Opener*>(impl->base + impl->hdr->openers_off);
  impl->arena = impl->base + impl->hdr->arena_off;
  // Reservations of 1/512 of the budget, at most 256 KiB, for objects of up
  // to 1/8 of that; none below 2 MiB, where they would hold much of the room.
  const uint64_t chunk = std::min<uint64_t>(4096, impl->hdr->arena_bytes / kUnit / 512);
  impl->chunk_units = chunk >= 64 ? chunk : 0;
  return impl;
}

Status ShmCache::Remove(std::string_view segment) {
  bip::shared_memory_object::remove(std::string(segment).c_str());
  return Status::OK();
}

}  // namespace overlay::storage
