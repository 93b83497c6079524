// Shared between the codec and the update operations (internal to libs/yjs).
#pragma once

#include <string>
#include <string_view>

#include "cloudillo/yjs/update.h"
#include "lib0.h"

namespace cloudillo::yjs {

uint64_t Utf16Length(std::string_view utf8);

// Reads the structs of an update one at a time (Yjs' lazyStructReaderGenerator), into
// a caller-owned Struct whose buffers are reused: the operations stream through an
// update instead of materialising it. After the last struct, the reader is
// positioned at the delete set.
class StructStream {
 public:
  StructStream(lib0::Reader& r, const Limits& limits) : r_(r), limits_(limits) {}
  // True with `*s` filled; false at the end or on error (then status() says which).
  bool Next(Struct* s);
  const absl::Status& status() const { return status_; }

 private:
  bool Fail(absl::Status st) {
    status_ = std::move(st);
    return false;
  }
  lib0::Reader& r_;
  const Limits& limits_;
  absl::Status status_;
  bool started_ = false;
  uint64_t blocks_left_ = 0, structs_left_ = 0, client_ = 0, clock_ = 0;
  size_t structs_read_ = 0;
};

absl::Status DecodeStructs(lib0::Reader& r, const Limits& limits, std::vector<Struct>* out);
absl::Status DecodeDeleteSet(lib0::Reader& r, const Limits& limits, DeleteSet* ds);
// Item.write(encoder, offset) / GC.write / Skip.write. `keep_read_flags` re-emits an
// info bit 6 that was read without a parent sub and subdocument options as read (Yjs'
// own writers drop the bit and write the options they derived).
void WriteStruct(std::string& out, const Struct& s, uint64_t offset, bool keep_read_flags);
// The part of `utf8` after `offset` UTF-16 code units (String content slicing).
std::string_view Utf16Suffix(std::string_view utf8, uint64_t offset, std::string* scratch);

}  // namespace cloudillo::yjs
