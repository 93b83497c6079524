// Decoding and encoding of Yjs v1 updates (yjs src/utils/updates.js, encoding.js,
// src/structs/*.js). Decoding follows the lazy struct reader of the update module.
#include <nlohmann/json.hpp>

#include "cloudillo/core/utf8.h"
#include "cloudillo/yjs/update.h"
#include "codec_internal.h"
#include "lib0.h"

namespace cloudillo::yjs {
namespace {

using lib0::Reader;

absl::Status Bad(const std::string& what) {
  return absl::InvalidArgumentError("invalid Yjs update: " + what);
}
// With the reader's reason (lib0's words where lib0 would throw as well).
absl::Status Bad(const std::string& what, const Reader& r) {
  return Bad(*r.error() ? what + ": " + r.error() : what);
}

bool ReadString(Reader& r, std::string* out) {
  std::string_view v;
  if (!r.VarBytes(&v) || !IsValidUtf8(v)) return false;
  out->assign(v);
  return true;
}

constexpr char kAnyUndefined = 127, kAnyNull = 126, kAnyObject = 118;

// Skips one lib0 `any` value, bounded in depth; true when well-formed.
bool SkipAny(Reader& r, int depth) {
  if (depth <= 0) return false;
  uint8_t tag;
  if (!r.Byte(&tag)) return false;
  std::string_view v;
  uint64_t n;
  switch (tag) {
    case 127:
    case 126:
    case 121:
    case 120:
      return true;  // undefined, null, false, true
    case 125:
      return r.SkipVarInt();
    case 124:
      return r.Bytes(4, &v);
    case 123:
    case 122:
      return r.Bytes(8, &v);  // float64, bigint64
    case 119:
      return r.VarBytes(&v) && IsValidUtf8(v);
    case 118:  // object
      if (!r.VarUint(&n) || n > r.remaining()) return false;
      for (uint64_t i = 0; i < n; ++i) {
        if (!r.VarBytes(&v) || !IsValidUtf8(v) || !SkipAny(r, depth - 1)) return false;
      }
      return true;
    case 117:  // array
      if (!r.VarUint(&n) || n > r.remaining()) return false;
      for (uint64_t i = 0; i < n; ++i) {
        if (!SkipAny(r, depth - 1)) return false;
      }
      return true;
    case 116:
      return r.VarBytes(&v);  // Uint8Array
    default:
      return false;
  }
}

bool ReadAnyRaw(Reader& r, int depth, std::string* out) {
  size_t start = r.pos();
  if (!SkipAny(r, depth)) return false;
  out->assign(r.Slice(start, r.pos()));
  return true;
}

// A JSON text as ContentJSON/Embed/Format hold it; Yjs JSON.parses it on read.
bool ReadJson(Reader& r, std::string* out, bool allow_undefined) {
  if (!ReadString(r, out)) return false;
  if (allow_undefined && *out == "undefined") return true;
  return nlohmann::json::accept(*out);
}

absl::Status ReadContent(Reader& r, uint8_t ref, const Limits& limits, Content* c) {
  uint64_t n;
  std::string_view v;
  switch (ref) {
    case 1:
      c->kind = ContentKind::kDeleted;
      if (!r.VarUint(&c->deleted_len)) return Bad("deleted length", r);
      return absl::OkStatus();
    case 2:
    case 8:
      c->kind = ref == 2 ? ContentKind::kJson : ContentKind::kAny;
      if (!r.VarUint(&n) || n > r.remaining()) return Bad("content element count", r);
      c->parts.resize(n);
      for (auto& p : c->parts) {
        bool ok = ref == 2 ? ReadJson(r, &p, true) : ReadAnyRaw(r, limits.max_any_depth, &p);
        if (!ok) return Bad(ref == 2 ? "JSON content" : "any content", r);
      }
      return absl::OkStatus();
    case 3:
      c->kind = ContentKind::kBinary;
      if (!r.VarBytes(&v)) return Bad("binary content", r);
      c->text.assign(v);
      return absl::OkStatus();
    case 4:
      c->kind = ContentKind::kString;
      if (!ReadString(r, &c->text)) return Bad("string content", r);
      c->utf16_len = Utf16Length(c->text);
      return absl::OkStatus();
    case 5:
      c->kind = ContentKind::kEmbed;
      if (!ReadJson(r, &c->text, false)) return Bad("embed content", r);
      return absl::OkStatus();
    case 6:
      c->kind = ContentKind::kFormat;
      if (!ReadString(r, &c->text) || !ReadJson(r, &c->text2, false)) return Bad("format content", r);
      return absl::OkStatus();
    case 7:
      c->kind = ContentKind::kType;
      if (!r.VarUint(&c->type_ref) || c->type_ref > 6) return Bad("type reference", r);
      if ((c->type_ref == 3 || c->type_ref == 5) && !ReadString(r, &c->text)) return Bad("type name", r);
      return absl::OkStatus();
    case 9:
      c->kind = ContentKind::kDoc;
      if (!ReadString(r, &c->text) || !ReadAnyRaw(r, limits.max_any_depth, &c->text2))
        return Bad("doc content", r);
      // Yjs' readContentDoc reads `opts.shouldLoad` of the decoded options, which
      // throws for null and undefined only: no client could apply such an update.
      if (c->text2[0] == kAnyNull || c->text2[0] == kAnyUndefined)
        return Bad("subdocument options are null or undefined, not an object");
      return absl::OkStatus();
    default:
      return Bad("unknown content kind " + std::to_string(ref), r);
  }
}

bool ReadId(Reader& r, Id* id) { return r.VarUint(&id->client) && r.VarUint(&id->clock); }

}  // namespace

uint64_t Utf16Length(std::string_view utf8) {
  uint64_t n = 0;
  for (unsigned char c : utf8) {
    if ((c & 0xc0) != 0x80) n += c >= 0xf0 ? 2 : 1;
  }
  return n;
}

uint64_t Content::Length() const {
  switch (kind) {
    case ContentKind::kDeleted:
      return deleted_len;
    case ContentKind::kJson:
    case ContentKind::kAny:
      return parts.size();
    case ContentKind::kString:
      return utf16_len;
    default:
      return 1;
  }
}

bool StructStream::Next(Struct* s) {
  if (!status_.ok()) return false;
  if (!started_) {
    started_ = true;
    if (!r_.VarUint(&blocks_left_) || blocks_left_ > r_.remaining()) return Fail(Bad("client count", r_));
  }
  while (structs_left_ == 0) {
    if (blocks_left_ == 0) return false;
    --blocks_left_;
    if (!r_.VarUint(&structs_left_) || !r_.VarUint(&client_) || !r_.VarUint(&clock_)) {
      return Fail(Bad("client block header", r_));
    }
    if (structs_left_ > r_.remaining()) return Fail(Bad("struct count past the end", r_));
  }
  --structs_left_;
  if (++structs_read_ > limits_.max_structs) {
    return Fail(absl::ResourceExhaustedError("Yjs update has too many structs"));
  }
  uint8_t info;
  if (!r_.Byte(&info)) return Fail(Bad("truncated struct", r_));
  s->id = {client_, clock_};
  s->origin.reset();
  s->right_origin.reset();
  s->parent.kind = Parent::Kind::kNone;
  s->parent_sub.reset();
  s->parent_sub_flag = false;
  if (info == 10) {
    s->kind = StructKind::kSkip;
    if (!r_.VarUint(&s->length)) return Fail(Bad("skip length", r_));
  } else if ((info & 0x1f) == 0) {
    s->kind = StructKind::kGC;
    if (!r_.VarUint(&s->length)) return Fail(Bad("gc length", r_));
  } else {
    s->kind = StructKind::kItem;
    bool cant_copy_parent = (info & 0xc0) == 0;
    if (info & 0x80) {
      Id o;
      if (!ReadId(r_, &o)) return Fail(Bad("origin", r_));
      s->origin = o;
    }
    if (info & 0x40) {
      Id o;
      if (!ReadId(r_, &o)) return Fail(Bad("right origin", r_));
      s->right_origin = o;
    }
    if (cant_copy_parent) {
      uint64_t is_key;
      if (!r_.VarUint(&is_key)) return Fail(Bad("parent info", r_));
      if (is_key == 1) {
        s->parent.kind = Parent::Kind::kKey;
        if (!ReadString(r_, &s->parent.key)) return Fail(Bad("parent key", r_));
      } else {
        s->parent.kind = Parent::Kind::kId;
        if (!ReadId(r_, &s->parent.id)) return Fail(Bad("parent id", r_));
      }
      if (info & 0x20) {
        std::string sub;
        if (!ReadString(r_, &sub)) return Fail(Bad("parent sub", r_));
        s->parent_sub = std::move(sub);
      }
    }
    s->parent_sub_flag = (info & 0x20) != 0;
    if (auto st = ReadContent(r_, info & 0x1f, limits_, &s->content); !st.ok()) return Fail(st);
    s->length = s->content.Length();
  }
  if (s->length == 0) return Fail(Bad("zero-length struct", r_));
  if (clock_ > lib0::kMaxSafeInteger - s->length) return Fail(Bad("clock out of range", r_));
  clock_ += s->length;
  return true;
}

absl::Status DecodeStructs(Reader& r, const Limits& limits, std::vector<Struct>* out) {
  StructStream stream(r, limits);
  Struct s;
  while (stream.Next(&s)) out->push_back(std::move(s));
  return stream.status();
}

absl::Status DecodeDeleteSet(Reader& r, const Limits& limits, DeleteSet* ds) {
  uint64_t clients;
  if (!r.VarUint(&clients) || clients > r.remaining()) return Bad("delete set client count", r);
  size_t ranges = 0;
  for (uint64_t i = 0; i < clients; ++i) {
    uint64_t client, n;
    if (!r.VarUint(&client) || !r.VarUint(&n) || n > r.remaining()) return Bad("delete set entry", r);
    ranges += n;
    if (ranges > limits.max_delete_ranges) return absl::ResourceExhaustedError("Yjs delete set too large");
    if (n == 0) continue;  // Yjs adds no entry for a client without deletions
    std::vector<DeleteRange>* target = nullptr;
    for (auto& [c, v] : *ds) {
      if (c == client) target = &v;
    }
    if (!target) target = &ds->emplace_back(client, std::vector<DeleteRange>()).second;
    for (uint64_t k = 0; k < n; ++k) {
      DeleteRange d;
      if (!r.VarUint(&d.clock) || !r.VarUint(&d.len)) return Bad("delete range", r);
      if (d.clock > lib0::kMaxSafeInteger - d.len) return Bad("delete range out of range", r);
      target->push_back(d);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Update> DecodeUpdate(std::string_view bytes, const Limits& limits) {
  if (bytes.size() > limits.max_update_bytes) return absl::ResourceExhaustedError("Yjs update too large");
  Reader r(bytes);
  Update u;
  if (auto st = DecodeStructs(r, limits, &u.structs); !st.ok()) return st;
  if (auto st = DecodeDeleteSet(r, limits, &u.delete_set); !st.ok()) return st;
  if (!r.done()) return Bad("trailing bytes");
  return u;
}

absl::Status ValidateUpdate(std::string_view bytes, const Limits& limits) {
  return DecodeUpdate(bytes, limits).status();
}

// --- encoding --------------------------------------------------------------------

std::string_view Utf16Suffix(std::string_view utf8, uint64_t offset, std::string* scratch) {
  if (offset == 0) return utf8;
  uint64_t units = 0;
  size_t i = 0;
  while (i < utf8.size() && units < offset) {
    unsigned char c = utf8[i];
    size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (len == 4 && units + 1 == offset) {
      // The cut falls between the two halves of a surrogate pair: the low half left
      // alone becomes U+FFFD, as JavaScript's TextEncoder writes it.
      scratch->assign("\xef\xbf\xbd");
      scratch->append(utf8.substr(i + 4));
      return *scratch;
    }
    units += len == 4 ? 2 : 1;
    i += len;
  }
  return utf8.substr(i);
}

void WriteContent(std::string& out, const Content& c, uint64_t offset, bool keep_read_bytes) {
  switch (c.kind) {
    case ContentKind::kDeleted:
      lib0::WriteVarUint(out, c.deleted_len - offset);
      break;
    case ContentKind::kJson:
    case ContentKind::kAny:
      lib0::WriteVarUint(out, c.parts.size() - offset);
      for (size_t i = offset; i < c.parts.size(); ++i) {
        if (c.kind == ContentKind::kJson)
          lib0::WriteVarString(out, c.parts[i]);
        else
          out += c.parts[i];
      }
      break;
    case ContentKind::kBinary:
      lib0::WriteVarString(out, c.text);
      break;
    case ContentKind::kString: {
      std::string scratch;
      lib0::WriteVarString(out, Utf16Suffix(c.text, offset, &scratch));
      break;
    }
    case ContentKind::kEmbed:
      lib0::WriteVarString(out, c.text);
      break;
    case ContentKind::kFormat:
      lib0::WriteVarString(out, c.text);
      lib0::WriteVarString(out, c.text2);
      break;
    case ContentKind::kType:
      lib0::WriteVarUint(out, c.type_ref);
      if (c.type_ref == 3 || c.type_ref == 5) lib0::WriteVarString(out, c.text);
      break;
    case ContentKind::kDoc:
      lib0::WriteVarString(out, c.text);
      // Yjs writes the options it derived from the subdocument (gc, autoLoad, meta),
      // not the ones it read; options that are not an object contribute none of them.
      // Objects are kept as read, which is what Yjs writes for the options it produces.
      if (!keep_read_bytes && c.text2[0] != kAnyObject)
        out += std::string{kAnyObject, 0};
      else
        out += c.text2;
      break;
  }
}

void WriteStruct(std::string& out, const Struct& s, uint64_t offset, bool keep_read_flags) {
  switch (s.kind) {
    case StructKind::kGC:
      out += char(0);
      lib0::WriteVarUint(out, s.length - offset);
      return;
    case StructKind::kSkip:
      out += char(10);
      lib0::WriteVarUint(out, s.length - offset);
      return;
    case StructKind::kItem:
      break;
  }
  std::optional<Id> origin =
      offset > 0 ? std::optional<Id>(Id{s.id.client, s.id.clock + offset - 1}) : s.origin;
  bool sub = s.parent_sub.has_value() || (keep_read_flags && s.parent_sub_flag);
  uint8_t info = uint8_t(static_cast<uint8_t>(s.content.kind) & 0x1f) | (origin ? 0x80 : 0) |
                 (s.right_origin ? 0x40 : 0) | (sub ? 0x20 : 0);
  out += char(info);
  if (origin) {
    lib0::WriteVarUint(out, origin->client);
    lib0::WriteVarUint(out, origin->clock);
  }
  if (s.right_origin) {
    lib0::WriteVarUint(out, s.right_origin->client);
    lib0::WriteVarUint(out, s.right_origin->clock);
  }
  if (!origin && !s.right_origin) {
    if (s.parent.kind == Parent::Kind::kKey) {
      lib0::WriteVarUint(out, 1);
      lib0::WriteVarString(out, s.parent.key);
    } else {
      lib0::WriteVarUint(out, 0);
      lib0::WriteVarUint(out, s.parent.id.client);
      lib0::WriteVarUint(out, s.parent.id.clock);
    }
    if (s.parent_sub) lib0::WriteVarString(out, *s.parent_sub);
  }
  WriteContent(out, s.content, offset, keep_read_flags);
}

std::string EncodeDeleteSet(const DeleteSet& ds) {
  std::vector<const std::pair<uint64_t, std::vector<DeleteRange>>*> sorted;
  for (const auto& e : ds) sorted.push_back(&e);
  std::stable_sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first > b->first; });
  std::string out;
  lib0::WriteVarUint(out, sorted.size());
  for (const auto* e : sorted) {
    lib0::WriteVarUint(out, e->first);
    lib0::WriteVarUint(out, e->second.size());
    for (const auto& d : e->second) {
      lib0::WriteVarUint(out, d.clock);
      lib0::WriteVarUint(out, d.len);
    }
  }
  return out;
}

std::string EncodeUpdate(const Update& u) {
  // One block per run of same-client, contiguous structs, in the given order.
  std::vector<std::pair<size_t, size_t>> blocks;
  for (size_t i = 0; i < u.structs.size(); ++i) {
    const Struct& s = u.structs[i];
    if (!blocks.empty()) {
      const Struct& prev = u.structs[i - 1];
      if (prev.id.client == s.id.client && prev.id.clock + prev.length == s.id.clock) {
        ++blocks.back().second;
        continue;
      }
    }
    blocks.emplace_back(i, 1);
  }
  std::string out;
  lib0::WriteVarUint(out, blocks.size());
  for (auto [start, count] : blocks) {
    lib0::WriteVarUint(out, count);
    lib0::WriteVarUint(out, u.structs[start].id.client);
    lib0::WriteVarUint(out, u.structs[start].id.clock);
    for (size_t i = start; i < start + count; ++i) WriteStruct(out, u.structs[i], 0, true);
  }
  out += EncodeDeleteSet(u.delete_set);
  return out;
}

}  // namespace cloudillo::yjs
