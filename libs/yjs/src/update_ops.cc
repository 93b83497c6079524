// The update module of Yjs (src/utils/updates.js): mergeUpdates, diffUpdate,
// encodeStateVectorFromUpdate, and the delete-set helpers, reproduced step by step so
// that the bytes are the same. Comments name the Yjs function each piece mirrors.
#include <algorithm>
#include <memory>
#include <unordered_map>

#include "cloudillo/yjs/update.h"
#include "codec_internal.h"
#include "lib0.h"

namespace cloudillo::yjs {
namespace {

// LazyStructReader over the bytes of one update: `curr` is decoded on demand into a
// buffer that is reused, so an operation holds one struct per input at a time.
class LazyReader {
 public:
  LazyReader(std::string_view bytes, const Limits& limits, bool filter_skips)
      : reader_(bytes), stream_(reader_, limits), filter_(filter_skips) {
    Advance();
  }
  LazyReader(const LazyReader&) = delete;
  Struct* curr() { return has_ ? &curr_ : nullptr; }
  Struct* Next() {
    Advance();
    return curr();
  }
  // After the last struct: the update's delete set (and no trailing bytes).
  absl::StatusOr<DeleteSet> Finish(const Limits& limits) {
    while (has_) Advance();
    if (!stream_.status().ok()) return stream_.status();
    DeleteSet ds;
    if (auto st = DecodeDeleteSet(reader_, limits, &ds); !st.ok()) return st;
    if (!reader_.done()) return absl::InvalidArgumentError("invalid Yjs update: trailing bytes");
    return ds;
  }
  const absl::Status& status() const { return stream_.status(); }

 private:
  void Advance() {
    do {
      has_ = stream_.Next(&curr_);
    } while (has_ && filter_ && curr_.kind == StructKind::kSkip);
  }
  lib0::Reader reader_;
  StructStream stream_;
  bool filter_;
  bool has_ = false;
  Struct curr_;
};

// LazyStructWriter, writeStructToLazyStructWriter, finishLazyStructWriting
class LazyWriter {
 public:
  void Write(const Struct& s, uint64_t offset) {
    if (written_ > 0 && client_ != s.id.client) Flush();
    if (written_ == 0) {
      client_ = s.id.client;
      lib0::WriteVarUint(rest_, s.id.client);
      lib0::WriteVarUint(rest_, s.id.clock + offset);
    }
    WriteStruct(rest_, s, offset, false);
    ++written_;
  }
  std::string Finish() {
    Flush();
    std::string out;
    lib0::WriteVarUint(out, blocks_.size());
    for (auto& [written, bytes] : blocks_) {
      lib0::WriteVarUint(out, written);
      out += bytes;
    }
    return out;
  }

 private:
  void Flush() {
    if (written_ == 0) return;
    blocks_.emplace_back(written_, std::move(rest_));
    rest_.clear();
    written_ = 0;
  }
  uint64_t client_ = 0;
  uint64_t written_ = 0;
  std::string rest_;
  std::vector<std::pair<uint64_t, std::string>> blocks_;
};

// sliceStruct: the part of `s` from `diff` on.
Struct SliceStruct(const Struct& s, uint64_t diff) {
  Struct r;
  r.kind = s.kind;
  r.id = {s.id.client, s.id.clock + diff};
  r.length = s.length - diff;
  if (s.kind != StructKind::kItem) return r;
  r.origin = Id{s.id.client, s.id.clock + diff - 1};
  r.right_origin = s.right_origin;
  r.parent = s.parent;
  r.parent_sub = s.parent_sub;
  const Content& c = s.content;
  Content& rc = r.content;
  rc.kind = c.kind;
  switch (c.kind) {
    case ContentKind::kDeleted:
      rc.deleted_len = c.deleted_len - diff;
      break;
    case ContentKind::kJson:
    case ContentKind::kAny:
      rc.parts.assign(c.parts.begin() + diff, c.parts.end());
      break;
    case ContentKind::kString: {
      std::string scratch;
      rc.text = std::string(Utf16Suffix(c.text, diff, &scratch));
      rc.utf16_len = c.utf16_len - diff;
      break;
    }
    default:
      rc = c;  // length-1 contents are never sliced with diff > 0
  }
  return r;
}

// mergeUpdates' comparator, as Yjs writes it. It is not a consistent order: a GC and
// an Item at the same id compare "first argument first" both ways.
int YjsCompare(const Struct& a, const Struct& b) {
  if (a.id.client == b.id.client) {
    if (a.id.clock == b.id.clock) {
      if (a.kind == b.kind) return 0;
      return a.kind == StructKind::kSkip ? 1 : -1;
    }
    return a.id.clock < b.id.clock ? -1 : 1;
  }
  return b.id.client < a.id.client ? -1 : 1;
}

// V8's Array.prototype.sort (TimSort: run detection, binary insertion up to the
// minimum run length, run merging), so that with the inconsistent comparator above we
// pick the decoder Node would. Runs are merged without galloping: identical to V8 for
// fewer than 64 decoders, and for any count when no GC/Item tie is present.
template <typename T, typename Cmp>
void V8Sort(std::vector<T>& a, Cmp cmp) {
  size_t n = a.size();
  if (n < 2) return;
  auto binary_insertion = [&](size_t low, size_t start, size_t high) {
    if (start == low) ++start;
    for (; start < high; ++start) {
      size_t left = low, right = start;
      T pivot = a[start];
      while (left < right) {
        size_t mid = left + ((right - left) >> 1);
        if (cmp(pivot, a[mid]) < 0)
          right = mid;
        else
          left = mid + 1;
      }
      for (size_t p = start; p > left; --p) a[p] = a[p - 1];
      a[left] = pivot;
    }
  };
  auto count_run = [&](size_t low, size_t high) -> size_t {
    if (low + 1 == high) return 1;
    size_t run = 2;
    bool descending = cmp(a[low + 1], a[low]) < 0;
    for (size_t i = low + 2; i < high; ++i) {
      int order = cmp(a[i], a[i - 1]);
      if (descending ? order >= 0 : order < 0) break;
      ++run;
    }
    if (descending) std::reverse(a.begin() + low, a.begin() + low + run);
    return run;
  };
  size_t min_run = n, r = 0;
  while (min_run >= 64) {
    r |= min_run & 1;
    min_run >>= 1;
  }
  min_run += r;
  std::vector<std::pair<size_t, size_t>> runs;  // (base, length)
  auto merge_at = [&](size_t i) {
    auto [base_a, len_a] = runs[i];
    auto [base_b, len_b] = runs[i + 1];
    std::vector<T> left(a.begin() + base_a, a.begin() + base_a + len_a);
    size_t ia = 0, ib = base_b, out = base_a, end_b = base_b + len_b;
    while (ia < left.size() && ib < end_b) a[out++] = cmp(a[ib], left[ia]) < 0 ? a[ib++] : left[ia++];
    while (ia < left.size()) a[out++] = left[ia++];
    runs[i].second = len_a + len_b;
    runs.erase(runs.begin() + i + 1);
  };
  auto invariant = [&](size_t k) {
    return k < 2 || runs[k - 2].second > runs[k - 1].second + runs[k].second;
  };
  size_t low = 0, remaining = n;
  while (remaining != 0) {
    size_t run = count_run(low, low + remaining);
    if (run < min_run) {
      size_t forced = std::min(min_run, remaining);
      binary_insertion(low, low + run, low + forced);
      run = forced;
    }
    runs.emplace_back(low, run);
    while (runs.size() > 1) {
      size_t k = runs.size() - 2;
      if (!invariant(k + 1) || !invariant(k)) {
        if (k > 0 && runs[k - 1].second < runs[k + 1].second) --k;
        merge_at(k);
      } else if (runs[k].second <= runs[k + 1].second) {
        merge_at(k);
      } else {
        break;
      }
    }
    low += run;
    remaining -= run;
  }
  while (runs.size() > 1) {
    size_t k = runs.size() - 2;
    if (k > 0 && runs[k - 1].second < runs[k + 1].second) --k;
    merge_at(k);
  }
}

}  // namespace

DeleteSet MergeDeleteSets(const std::vector<DeleteSet>& sets) {
  // mergeDeleteSets: first appearance of a client collects its ranges from every set
  // in order; then sortAndMergeDeleteSet.
  DeleteSet merged;
  for (size_t i = 0; i < sets.size(); ++i) {
    for (const auto& [client, dels] : sets[i]) {
      bool seen = false;
      for (const auto& m : merged) seen = seen || m.first == client;
      if (seen) continue;
      std::vector<DeleteRange> all = dels;
      for (size_t j = i + 1; j < sets.size(); ++j) {
        for (const auto& [c2, d2] : sets[j]) {
          if (c2 == client) all.insert(all.end(), d2.begin(), d2.end());
        }
      }
      merged.emplace_back(client, std::move(all));
    }
  }
  for (auto& [client, dels] : merged) {
    std::stable_sort(dels.begin(), dels.end(),
                     [](const DeleteRange& a, const DeleteRange& b) { return a.clock < b.clock; });
    size_t j = 1;
    for (size_t i = 1; i < dels.size(); ++i) {
      DeleteRange& left = dels[j - 1];
      const DeleteRange& right = dels[i];
      if (left.clock + left.len >= right.clock) {
        left.len = std::max(left.len, right.clock + right.len - left.clock);
      } else {
        if (j < i) dels[j] = right;
        ++j;
      }
    }
    if (!dels.empty()) dels.resize(j);
  }
  return merged;
}

absl::StatusOr<std::string> MergeUpdates(const std::vector<std::string_view>& updates, const Limits& limits) {
  if (updates.size() == 1) {
    if (auto st = ValidateUpdate(updates[0], limits); !st.ok()) return st;
    return std::string(updates[0]);
  }
  size_t total = 0;
  for (auto u : updates) total += u.size();
  if (total > limits.max_update_bytes) return absl::ResourceExhaustedError("Yjs updates too large");
  std::vector<std::unique_ptr<LazyReader>> readers;
  readers.reserve(updates.size());
  for (auto u : updates) readers.push_back(std::make_unique<LazyReader>(u, limits, true));

  // lazyStructDecoders after its filter and sort, which Yjs redoes every round. Only
  // the first decoder moves per round and Array.prototype.sort is stable, so with a
  // consistent comparison the moved decoder lands before every decoder with an equal
  // key. A heap ordered by (YjsCompare, tie) reproduces that in O(log n) a round: ties
  // start as input positions and each re-inserted decoder gets one below all others.
  // While two heads tie as GC and Item at one id (where Yjs' comparator is
  // inconsistent) the decoders sit in an array that goes through V8's algorithm.
  auto key_of = [](const Struct& s) { return std::make_pair(s.id.client, s.id.clock); };
  struct KeyHash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& k) const {
      return std::hash<uint64_t>()(k.first * 0x9e3779b97f4a7c15ull ^ k.second);
    }
  };
  std::unordered_map<std::pair<uint64_t, uint64_t>, std::pair<size_t, size_t>, KeyHash>
      heads;  // key -> (#GC, #Item)
  heads.reserve(updates.size());
  size_t ties = 0;
  auto track = [&](const Struct* s, int delta) {
    if (!s || s->kind == StructKind::kSkip) return;
    auto& h = heads[key_of(*s)];
    bool before = h.first > 0 && h.second > 0;
    (s->kind == StructKind::kGC ? h.first : h.second) += delta;
    bool after = h.first > 0 && h.second > 0;
    ties += after - before;
    if (h.first == 0 && h.second == 0) heads.erase(key_of(*s));
  };
  // The head's key is copied in: comparisons then stay within the heap's memory
  // instead of visiting two decoders each (heads of the decoders in the heap never move).
  struct Entry {
    uint64_t client, clock;
    int64_t tie;
    LazyReader* r;
  };
  auto entry = [](LazyReader* r, int64_t tie) {
    const Struct& s = *r->curr();
    return Entry{s.id.client, s.id.clock, tie, r};
  };
  // YjsCompare, with `tie` breaking equality: heads at one id are of one kind here
  // (skips are filtered, GC/Item ties send the decoders to V8 mode).
  auto comes_first = [](const Entry& a, const Entry& b) {
    if (a.client != b.client) return a.client > b.client;
    if (a.clock != b.clock) return a.clock < b.clock;
    return a.tie < b.tie;
  };
  // std::*_heap keep the greatest in front; ours is the one Yjs puts first.
  auto heap_cmp = [&](const Entry& a, const Entry& b) { return comes_first(b, a); };
  auto js_cmp = [](LazyReader* a, LazyReader* b) { return YjsCompare(*a->curr(), *b->curr()); };
  std::vector<Entry> heap;
  std::vector<LazyReader*> order;  // in V8 mode, with the first decoder still at index 0
  bool v8_mode = false;
  int64_t next_tie = -1;
  for (auto& r : readers) {
    if (r->curr()) order.push_back(r.get());
  }
  for (auto* r : order) track(r->curr(), 1);
  auto to_heap = [&] {
    heap.clear();
    for (size_t i = 0; i < order.size(); ++i) heap.push_back(entry(order[i], int64_t(i)));
    std::make_heap(heap.begin(), heap.end(), heap_cmp);
    order.clear();
    v8_mode = false;
  };
  if (ties > 0) {
    V8Sort(order, js_cmp);
    v8_mode = true;
  } else {
    to_heap();
  }
  // Puts the first decoder, whose head moved from `moved_from`, back into Yjs' order.
  auto reorder = [&](LazyReader* first, const Struct* moved_from) {
    track(moved_from, -1);
    track(first->curr(), 1);
    if (ties > 0) {
      if (!v8_mode) {
        // The others are in the order Yjs has them, behind the first.
        std::sort(heap.begin(), heap.end(), comes_first);
        order.clear();
        order.push_back(first);
        for (const Entry& e : heap) order.push_back(e.r);
        heap.clear();
        v8_mode = true;
      }
      if (!first->curr()) order.erase(order.begin());
      V8Sort(order, js_cmp);
      return;
    }
    if (v8_mode) {
      // A stable sort of the array: positions break equal keys.
      if (!first->curr()) order.erase(order.begin());
      to_heap();
      return;
    }
    if (!first->curr()) return;
    heap.push_back(entry(first, next_tie--));
    std::push_heap(heap.begin(), heap.end(), heap_cmp);
  };
  auto take_first = [&]() -> LazyReader* {
    if (v8_mode) return order.empty() ? nullptr : order.front();
    if (heap.empty()) return nullptr;
    std::pop_heap(heap.begin(), heap.end(), heap_cmp);
    LazyReader* r = heap.back().r;
    heap.pop_back();
    return r;
  };

  LazyWriter writer;
  std::optional<Struct> cw;  // currWrite (its offset is always 0 in mergeUpdates)
  // The head of the first decoder when a round starts (its key moves during the round).
  std::optional<Struct> round_head;
  LazyReader* dec = nullptr;
  while (true) {
    if (dec) reorder(dec, round_head ? &*round_head : nullptr);
    dec = take_first();
    if (!dec) break;
    round_head.emplace();
    round_head->kind = dec->curr()->kind;
    round_head->id = dec->curr()->id;
    uint64_t first_client = dec->curr()->id.client;
    if (cw) {
      Struct* curr = dec->curr();
      bool iterated = false;
      while (curr && curr->id.clock + curr->length <= cw->id.clock + cw->length &&
             curr->id.client >= cw->id.client) {
        curr = dec->Next();
        iterated = true;
      }
      if (!curr || curr->id.client != first_client ||
          (iterated && curr->id.clock > cw->id.clock + cw->length)) {
        continue;
      }
      if (first_client != cw->id.client) {
        writer.Write(*cw, 0);
        cw = std::move(*curr);
        dec->Next();
      } else if (cw->id.clock + cw->length < curr->id.clock) {
        if (cw->kind == StructKind::kSkip) {
          cw->length = curr->id.clock + curr->length - cw->id.clock;
        } else {
          writer.Write(*cw, 0);
          uint64_t diff = curr->id.clock - cw->id.clock - cw->length;
          Struct skip;
          skip.kind = StructKind::kSkip;
          skip.id = {first_client, cw->id.clock + cw->length};
          skip.length = diff;
          cw = std::move(skip);
        }
      } else {
        uint64_t diff = cw->id.clock + cw->length - curr->id.clock;
        std::optional<Struct> sliced;
        if (diff > 0) {
          if (cw->kind == StructKind::kSkip)
            cw->length -= diff;
          else
            sliced = SliceStruct(*curr, diff);
        }
        const Struct& c = sliced ? *sliced : *curr;
        // Struct.mergeWith: only GC and Skip merge here (decoded items have no `right`).
        bool merged = cw->kind != StructKind::kItem && cw->kind == c.kind;
        if (merged) {
          cw->length += c.length;
        } else {
          writer.Write(*cw, 0);
          cw = sliced ? std::move(*sliced) : std::move(*curr);
          dec->Next();
        }
      }
    } else {
      cw = std::move(*dec->curr());
      dec->Next();
    }
    for (Struct* next = dec->curr();
         next && next->id.client == first_client && next->id.clock == cw->id.clock + cw->length &&
         next->kind != StructKind::kSkip;
         next = dec->Next()) {
      writer.Write(*cw, 0);
      cw = std::move(*next);
    }
  }
  if (cw) writer.Write(*cw, 0);
  std::string out = writer.Finish();
  // Every update is read to its end (an error anywhere fails the merge), then the
  // delete sets are merged.
  std::vector<DeleteSet> sets;
  sets.reserve(readers.size());
  for (auto& r : readers) {
    auto ds = r->Finish(limits);
    if (!ds.ok()) return ds.status();
    sets.push_back(*std::move(ds));
  }
  out += EncodeDeleteSet(MergeDeleteSets(sets));
  return out;
}

absl::StatusOr<StateVector> DecodeStateVector(std::string_view bytes) {
  // Yjs' readStateVector: lib0 numbers into a Map, later entries winning; bytes after
  // the last entry are never looked at.
  lib0::Reader r(bytes);
  auto bad = [&r] { return absl::InvalidArgumentError(std::string("invalid state vector: ") + r.error()); };
  uint64_t n;
  lib0::VarKind n_kind;
  if (!r.VarUintAny(&n, &n_kind)) return bad();
  // `i < NaN` never holds; any other count beyond the bytes runs out of them.
  if (n_kind == lib0::VarKind::kNaN) n = 0;
  if (n_kind == lib0::VarKind::kBeyond || n > r.remaining()) {
    return absl::InvalidArgumentError("invalid state vector: unexpected end of array");
  }
  StateVector sv;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t client, clock;
    lib0::VarKind client_kind, clock_kind;
    if (!r.VarUintAny(&client, &client_kind) || !r.VarUintAny(&clock, &clock_kind)) return bad();
    // A client Yjs reads as NaN or beyond 2^53 - 1 matches no struct of a valid update.
    if (client_kind != lib0::VarKind::kSafe) continue;
    // diffUpdate looks clocks up as `state.get(client) || 0`: NaN counts as 0, and a
    // clock beyond every valid one leaves nothing of that client missing.
    if (clock_kind == lib0::VarKind::kNaN) clock = 0;
    if (clock_kind == lib0::VarKind::kBeyond) clock = kClockBeyondAll;
    bool replaced = false;
    for (auto& e : sv) {
      if (e.first == client) {
        e.second = clock;
        replaced = true;
      }
    }
    if (!replaced) sv.emplace_back(client, clock);
  }
  return sv;
}

std::string EncodeStateVector(const StateVector& sv) {
  std::string out;
  lib0::WriteVarUint(out, sv.size());
  for (auto [client, clock] : sv) {
    lib0::WriteVarUint(out, client);
    lib0::WriteVarUint(out, clock);
  }
  return out;
}

absl::StatusOr<std::string> DiffUpdate(std::string_view update, std::string_view state_vector,
                                       const Limits& limits) {
  auto sv = DecodeStateVector(state_vector);
  if (!sv.ok()) return sv.status();
  if (update.size() > limits.max_update_bytes) return absl::ResourceExhaustedError("Yjs update too large");
  auto sv_clock = [&](uint64_t client) -> uint64_t {
    for (auto [c, k] : *sv) {
      if (c == client) return k;
    }
    return 0;
  };
  LazyWriter writer;
  LazyReader reader(update, limits, false);
  while (Struct* curr = reader.curr()) {
    uint64_t client = curr->id.client;
    uint64_t clock = sv_clock(client);
    if (curr->kind == StructKind::kSkip) {
      reader.Next();
      continue;
    }
    if (curr->id.clock + curr->length > clock) {
      writer.Write(*curr, clock > curr->id.clock ? clock - curr->id.clock : 0);
      reader.Next();
      while (reader.curr() && reader.curr()->id.client == client) {
        writer.Write(*reader.curr(), 0);
        reader.Next();
      }
    } else {
      while (reader.curr() && reader.curr()->id.client == client &&
             reader.curr()->id.clock + reader.curr()->length <= clock) {
        reader.Next();
      }
    }
  }
  auto ds = reader.Finish(limits);
  if (!ds.ok()) return ds.status();
  std::string out = writer.Finish();
  out += EncodeDeleteSet(*ds);
  return out;
}

absl::StatusOr<std::string> StateVectorFromUpdate(std::string_view update, const Limits& limits) {
  if (update.size() > limits.max_update_bytes) return absl::ResourceExhaustedError("Yjs update too large");
  StateVector sv;
  LazyReader reader(update, limits, false);
  Struct* curr = reader.curr();
  if (curr) {
    uint64_t client = curr->id.client;
    bool stop = curr->id.clock != 0;
    uint64_t clock = stop ? 0 : curr->id.clock + curr->length;
    for (; curr; curr = reader.Next()) {
      if (client != curr->id.client) {
        if (clock != 0) sv.emplace_back(client, clock);
        client = curr->id.client;
        clock = 0;
        stop = curr->id.clock != 0;
      }
      if (curr->kind == StructKind::kSkip) stop = true;
      if (!stop) clock = curr->id.clock + curr->length;
    }
    if (clock != 0) sv.emplace_back(client, clock);
  }
  if (auto ds = reader.Finish(limits); !ds.ok()) return ds.status();
  return EncodeStateVector(sv);
}

}  // namespace cloudillo::yjs
