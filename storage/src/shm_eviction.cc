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

// Moves about the `want` first candidates in order to the front, sorted,
// and returns how many it moved (0: none, the caller orders them itself).
// A selection over all candidates (nth_element) was most of the cost of a
// put into a full cache; here a sample of the candidates gives the order
// that bounds the prefix and one pass gathers it, so the full table is
// compared once. Everything in front precedes everything behind, so the
// caller can order more behind it if the prefix falls short.
size_t ShmCache::Impl::PartitionOldest(size_t want) {
  constexpr size_t kSample = 1024;
  const size_t n = cands.size();
  if (n <= 4 * kSample || want >= n / 2) return 0;
  const size_t stride = n / kSample;
  std::vector<Cand> sample;
  sample.reserve(kSample);
  for (size_t i = 0; i < kSample; ++i) sample.push_back(cands[i * stride]);
  const size_t q = std::min(kSample - 1, want * kSample / n);
  std::nth_element(sample.begin(), sample.begin() + static_cast<long>(q), sample.end());
  const Cand bound = sample[q];
  const auto mid = std::partition(cands.begin(), cands.end(),
                                  [&](const Cand& c) { return !(bound < c); });
  std::sort(cands.begin(), mid);
  return static_cast<size_t>(mid - cands.begin());
}

// Chooses and pins objects to evict until `units` are covered. Exact, not
// sampled: Loan evicts a batch of 1/16 of the budget at a time, so this scan of
// the descriptor table costs each put about 16 sequential descriptor reads,
// fewer cache misses than sampling a few random descriptors per put would.
std::vector<uint32_t> ShmCache::Impl::PickVictimsLocked(uint64_t units) {
  const EvictionPolicy pol = policy();
  const uint64_t hand = hdr->sieve_hand;
  uint64_t total_units = 0;
  const uint32_t high = High();
  // Filled by index, not push_back: the table has up to `high` candidates.
  if (cands.size() < high) cands.resize(high);
  size_t count = 0;
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
        cands[count++] = Cand{d.access.load(std::memory_order_relaxed), i, i, u};
        break;
      case EvictionPolicy::kLfu:
        cands[count++] = Cand{d.access.load(std::memory_order_relaxed),
                              d.seq.load(std::memory_order_relaxed), i, u};
        break;
      case EvictionPolicy::kSieve:
        cands[count++] = Cand{d.seq.load(std::memory_order_relaxed) - hand, 0, i, u};
        break;
    }
  }
  cands.resize(count);
  std::vector<uint32_t> out;
  if (cands.empty()) return out;
  // Only a prefix is ordered, grown on demand: first a guess of how many
  // candidates cover `units`, with a quarter to spare (pins that fail), doubled
  // while they do not.
  const size_t n = cands.size();
  size_t sorted = 0;
  size_t want = 16 + static_cast<size_t>(units * n * 5 / 4 / std::max<uint64_t>(total_units, 1));
  if (const size_t m = pol == EvictionPolicy::kSieve ? 0 : PartitionOldest(want); m > 0) {
    sorted = m;
    want = 2 * m;
  }
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

// Under mu no evictor can pin it (they pin under mu), so with the flags
// checked again here the object is one nobody will ask for: remove it from
// the index before the unpin frees the block, the order eviction uses, so a
// concurrent get either pinned it first or misses. The rover goes back to the
// freed block: reusing recently written pages keeps a run's working set warm
// (a page's first write costs microseconds on some VMs).
void ShmCache::Impl::DropTransient(uint32_t di) {
  Lock lock(this);
  Desc& d = D(di);
  const uint64_t c = d.ctl.load(std::memory_order_acquire);
  const uint32_t f = d.flags.load(std::memory_order_relaxed);
  const uint64_t off = d.block.load(std::memory_order_relaxed);
  if (StateOf(c) == kLive && RefsOf(c) == 1 &&
      (f & (kTransient | kPinned | kRecord | kEvicting)) == kTransient) {
    RemoveLocked(di);
    if (off < hdr->rover) hdr->rover = off;
  }
  Unpin(di);
}

}  // namespace overlay::storage
