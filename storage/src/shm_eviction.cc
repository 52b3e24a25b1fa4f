// SPDX-License-Identifier: Apache-2.0
// L1 eviction: choosing victims by the segment's policy, then demoting them
// through the listener outside the writer mutex (kEvicting in shm_layout.h).
#include <algorithm>
#include <utility>
#include <vector>

#include "shm_impl.h"

namespace overlay::storage {

using namespace shm;  // NOLINT: the layout vocabulary is used throughout

namespace {

// Whether an evicting writer's process is gone, asked of the kernel once per
// pid per scan (kill(2) is a system call; evicting writers are few).
class DeadEvictors {
 public:
  bool operator()(int32_t pid) {
    for (const auto& [p, dead] : seen_)
      if (p == pid) return dead;
    seen_.emplace_back(pid, ProcessDead(pid));
    return seen_.back().second;
  }

 private:
  std::vector<std::pair<int32_t, bool>> seen_;
};

}  // namespace

// Chooses and pins objects to evict until `units` are covered. Exact, not
// sampled: Loan evicts a batch of 1/16 of the budget at a time, so this scan of
// the descriptor table costs each put about 16 sequential descriptor reads,
// fewer cache misses than sampling a few random descriptors per put would.
std::vector<uint32_t> ShmCache::Impl::PickVictimsLocked(uint64_t units) {
  const EvictionPolicy pol = policy();
  const uint64_t hand = hdr->sieve_hand;
  cands.clear();
  uint64_t total_units = 0;
  const uint32_t high = High();
  DeadEvictors dead;
  const bool demote = can_demote.load(std::memory_order_relaxed);
  for (uint32_t i = 0; i < high; ++i) {
    // The table is too big for the cache; the hardware prefetcher stops at
    // each page, so request lines a few descriptors ahead.
    __builtin_prefetch(&D(std::min(i + 16, high - 1)));
    Desc& d = D(i);
    const uint64_t ctl = d.ctl.load(std::memory_order_acquire);
    const uint64_t state = StateOf(ctl);
    if (state != kLive && state != kDead) continue;
    const uint32_t flags = d.flags.load(std::memory_order_relaxed);
    if ((flags & kEvicting) && dead(d.evictor_pid.load(std::memory_order_relaxed))) {
      // Its evictor died demoting it: drop the flag and the pin for it.
      d.flags.fetch_and(~uint32_t{kEvicting}, std::memory_order_relaxed);
      Unpin(i);
      continue;
    }
    if (state != kLive || (flags & (kPinned | kRecord | kEvicting))) continue;
    if (!demote && RefsOf(ctl) > 0) continue;
    const auto u =
        static_cast<uint32_t>(1 + RoundUp(d.size.load(std::memory_order_relaxed), kUnit) / kUnit);
    total_units += u;
    // LRU: oldest access first (ties by slot: LRU needs only the descriptor's
    // first cache line, seq is on the second). LFU: fewest hits, then oldest
    // insertion. SIEVE: insertion order starting at the hand (seq - hand wraps
    // the older objects to the end of the queue).
    switch (pol) {
      case EvictionPolicy::kLru:
        cands.push_back({d.access.load(std::memory_order_relaxed), i, i, u});
        break;
      case EvictionPolicy::kLfu:
        cands.push_back({d.access.load(std::memory_order_relaxed),
                         d.seq.load(std::memory_order_relaxed), i, u});
        break;
      case EvictionPolicy::kSieve:
        cands.push_back({d.seq.load(std::memory_order_relaxed) - hand, 0, i, u});
        break;
    }
  }
  std::vector<uint32_t> out;
  if (cands.empty()) return out;
  // Only a prefix is ordered, grown on demand: first a guess of how many
  // candidates cover `units`, doubled while they do not.
  const size_t n = cands.size();
  size_t sorted = 0;
  size_t want = 16 + static_cast<size_t>(2 * units * n / std::max<uint64_t>(total_units, 1));
  auto order_up_to = [&](size_t i) {  // cands[0, i] in order
    if (i < sorted) return;
    size_t k = std::min(n, std::max(i + 1, want));
    if (k < n)
      std::nth_element(cands.begin() + static_cast<long>(sorted),
                       cands.begin() + static_cast<long>(k), cands.end());
    std::sort(cands.begin() + static_cast<long>(sorted), cands.begin() + static_cast<long>(k));
    sorted = k;
    want = 2 * k;
  };
  uint64_t covered = 0;
  auto take = [&](const Cand& c) {
    uint64_t ctl = D(c.di).ctl.load(std::memory_order_acquire);
    while (StateOf(ctl) == kLive) {
      if (D(c.di).ctl.compare_exchange_weak(ctl, ctl + kRefOne, std::memory_order_acq_rel)) {
        D(c.di).evictor_pid.store(pid, std::memory_order_relaxed);
        D(c.di).flags.fetch_or(kEvicting, std::memory_order_relaxed);
        out.push_back(c.di);
        covered += c.units;
        return;
      }
    }
  };
  if (pol != EvictionPolicy::kSieve) {
    for (size_t i = 0; i < n && covered < units; ++i) {
      order_up_to(i);
      take(cands[i]);
    }
    return out;
  }
  // SIEVE: the hand walks the queue, clearing visited bits and evicting the
  // first unvisited objects; a second lap finds the ones it cleared.
  std::vector<bool> chosen(n);
  size_t i = 0;
  for (size_t steps = 0; covered < units && steps < 2 * n + 1; ++steps, ++i) {
    if (i >= n) i = 0;
    order_up_to(i);
    if (chosen[i]) continue;
    Desc& d = D(cands[i].di);
    if (d.access.load(std::memory_order_relaxed) != 0) {
      d.access.store(0, std::memory_order_relaxed);
    } else {
      chosen[i] = true;
      take(cands[i]);
    }
  }
  if (i >= n) i = 0;
  order_up_to(i);
  hdr->sieve_hand = cands[i].order + hand;
  return out;
}

// Demotes (listener) and removes pinned victims, then drops the pins. A
// victim that could not be demoted stays while anybody besides us reads it.
// Returns how many were evicted.
size_t ShmCache::Impl::EvictPinned(const std::vector<uint32_t>& victims) {
  Hook("evict_demoting");
  EvictListener l;
  {
    std::lock_guard<std::mutex> g(listener_mu);
    l = listener;
  }
  std::vector<bool> demoted(victims.size(), false);
  size_t evicted = 0;
  for (size_t i = 0; i < victims.size(); ++i) {
    const Desc& d = D(victims[i]);
    const bool unread = RefsOf(d.ctl.load(std::memory_order_acquire)) == 1;
    if (unread && (d.flags.load(std::memory_order_relaxed) & kTransient)) continue;
    if (l) demoted[i] = l(KeyOf(victims[i]), ViewOf(victims[i]), MetaOf(victims[i]));
  }
  {
    Lock lock(this);
    for (size_t i = 0; i < victims.size(); ++i) {
      const uint32_t di = victims[i];
      const bool held = RefsOf(D(di).ctl.load(std::memory_order_acquire)) > 1;
      if ((D(di).flags.load(std::memory_order_relaxed) & kPinned) ||  // pinned meanwhile
          (!demoted[i] && held)) {
        D(di).flags.fetch_and(~uint32_t{kEvicting}, std::memory_order_relaxed);
        continue;
      }
      RemoveLocked(di);
      // Before the unpin below: a set flag promises the pin is still held.
      D(di).flags.fetch_and(~uint32_t{kEvicting}, std::memory_order_relaxed);
      hdr->evictions.fetch_add(1, std::memory_order_relaxed);
      ++evicted;
    }
  }
  for (uint32_t di : victims) Unpin(di);
  return evicted;
}

}  // namespace overlay::storage
