// Shared between the codec and the update operations (internal to libs/yjs).
#pragma once

#include <string>
#include <string_view>

#include "cloudillo/yjs/update.h"
#include "lib0.h"

namespace cloudillo::yjs {

uint64_t Utf16Length(std::string_view utf8);
absl::Status DecodeStructs(lib0::Reader& r, const Limits& limits, std::vector<Struct>* out);
absl::Status DecodeDeleteSet(lib0::Reader& r, const Limits& limits, DeleteSet* ds);
// Item.write(encoder, offset) / GC.write / Skip.write. `keep_read_flags` re-emits an
// info bit 6 that was read without a parent sub (Yjs' own writers drop it).
void WriteStruct(std::string& out, const Struct& s, uint64_t offset, bool keep_read_flags);
// The part of `utf8` after `offset` UTF-16 code units (String content slicing).
std::string_view Utf16Suffix(std::string_view utf8, uint64_t offset, std::string* scratch);

}  // namespace cloudillo::yjs
